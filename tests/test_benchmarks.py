"""The benchmark harness cannot rot: CI runs the whole matrix at 100k rows (``--smoke``, not
timed), and the same run checks that evalkit's estimates do not depend on the id type and agree
with every peer that ran the same cell, and that the README table renders from its JSON."""
from __future__ import annotations

import json
import math

import pytest

from benchmarks import run, table
from benchmarks.data import ID_TYPES, SHAPES, make_panel


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    assert run.main(["--smoke", "--out", str(out)]) == 0
    (path,) = out.glob("bench_*.json")
    return json.loads(path.read_text())


def test_every_evalkit_task_runs_in_every_cell(smoke):
    ek = [r for r in smoke["rows"] if r["library"] == "evalkit"]
    assert all(r["ok"] for r in ek), [(r["task"] if "task" in r else r["family"], r.get("error")) for r in ek
                                       if not r["ok"]]
    cs = {(r["family"], r["shape"], r["ids"], r["covariates"], r["control"]) for r in ek if r["family"] == "cs_dr"}
    assert len(cs) == len(SHAPES) * len(ID_TYPES) * 2 * 2


def test_estimates_do_not_depend_on_the_id_type(smoke):
    by_cell = {}
    for r in smoke["rows"]:
        if r["library"] == "evalkit" and r["family"].startswith("cs_"):
            by_cell.setdefault((r["family"], r["shape"], r["covariates"], r["control"]), []).append(r["estimate"])
    assert len(by_cell) == 2 * len(SHAPES) * 2 * 2
    for cell, estimates in by_cell.items():
        assert len(estimates) == len(ID_TYPES)
        assert max(estimates) - min(estimates) <= 1e-12 * max(1.0, abs(estimates[0])), cell


def test_peers_that_ran_agree_with_evalkit(smoke):
    compared = [r for r in smoke["rows"] if r["library"] != "evalkit" and r["ok"] and not math.isnan(r["estimate"])]
    assert compared, "no peer ran"    # pyfixest and moderndid are in the dev extra
    for r in compared:
        assert r["diff"] <= 1e-8, r


def test_readme_table_renders_every_cell(smoke):
    md = table.render(smoke)
    assert "Smoke run: not timed." in md
    assert md.count("| 100k | cs_dr |") == len(SHAPES) * len(ID_TYPES) * 2 * 2
    assert "| 100k | twfe | balanced | evalkit |" in md


def test_table_from_a_timed_run():
    rows = [{"size": "1M", "family": "cs_dr", "library": lib, "shape": "balanced", "ids": "str", "covariates": True,
             "control": "never", "ok": ok, "peak_mb": 500.0, **extra}
            for lib, ok, extra in [("evalkit", True, {"seconds": 0.5, "estimate": 0.1}),
                                   ("csdid", True, {"seconds": 6.0, "estimate": 0.1}),
                                   ("moderndid", True, {"seconds": 4.0, "estimate": 0.1}),
                                   ("differences", False, {"error": "TypeError: x"})]]
    meta = {"utc": "2026-12-04T00:00:00Z", "cpus": 2, "memory_gb": 23.5, "platform": "Linux",
            "load_average_before": [0.1, 0.2, 0.3], "load_average_after": [1.0, 1.0, 1.0], "versions": {"csdid": "0.4"},
            "command": ["--sizes", "1M"]}
    md = table.render({"meta": meta, "rows": rows})
    assert "| 1M | cs_dr | balanced | str | yes | never | 0.50 | 500 | moderndid | 4.00 | **8.0** | differences |" in md


@pytest.mark.parametrize("shape", SHAPES)
def test_panel_shapes(shape):
    df = make_panel(3_000, shape=shape, id_type="str")
    counts = df.groupby("unit").size()
    assert {"balanced": counts.min() == counts.max() == 15, "unbalanced": counts.min() < counts.max(),
            "rcs": counts.max() == 1}[shape]
    assert df["unit"].map(type).eq(str).all()


def test_append_latest_replaces_the_same_cells_and_keeps_every_run():
    from benchmarks.run import merge_latest

    def row(task, size, seconds):
        return {"size": size, "task": task, "shape": "balanced", "ids": "int", "covariates": True,
                "control": "never", "seconds": seconds}

    first = merge_latest(None, {"utc": "A"}, [row("cs_dr/evalkit", "1M", 1.0), row("cs_dr/csdid", "1M", 9.0)])
    second = merge_latest(first, {"utc": "B"}, [row("cs_dr/evalkit", "1M", 0.5), row("cs_dr/evalkit", "10M", 4.0)])
    got = {(r["task"], r["size"]): (r["seconds"], r["run"]) for r in second["rows"]}
    assert got == {("cs_dr/evalkit", "1M"): (0.5, "B"), ("cs_dr/csdid", "1M"): (9.0, "A"),
                   ("cs_dr/evalkit", "10M"): (4.0, "B")}
    assert [m["utc"] for m in second["runs"]] == ["A", "B"]
    third = merge_latest(second, {"utc": "C"}, [row("cs_dr/csdid", "1M", 8.0)])
    assert [m["utc"] for m in third["runs"]] == ["B", "C"]  # run A has no row left
