"""The README's library example runs as written (in a scratch folder)."""
import re
from pathlib import Path

import matplotlib

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs(tmp_path, monkeypatch):
    matplotlib.use("Agg")
    block = re.search(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(block, "README.md", "exec"), scope)
    assert scope["res"].estimator == "event_study"
    assert len(scope["cohort"]) > 0


def _function_table_names(text: str) -> set[str]:
    """Names in the first column of the README's ``| function | what |`` tables (``name(...)`` or ``name``)."""
    names: set[str] = set()
    in_table = False
    for line in text.splitlines():
        if line.startswith("| function |"):
            in_table = True
            continue
        if not line.startswith("|"):
            in_table = False
        elif in_table and not line.startswith("|---"):
            first = re.split(r"(?<!\\)\|", line)[1]
            names.update(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)(?:\(|`)", first))
    return names


def test_every_public_name_in_the_readme_exists():
    import evalkit as ek

    text = README.read_text(encoding="utf-8")
    names = _function_table_names(text) | set(re.findall(r"\bek\.([A-Za-z_][A-Za-z0-9_]*)", text))
    assert {"cr2_dof", "did2x2", "sdid_plot", "match_areas"} <= names  # the tables were read
    missing = sorted(n for n in names if not hasattr(ek, n))
    assert not missing, f"README names that evalkit does not export: {missing}"
    assert all(n in ek.__all__ for n in names)
