"""What may leave a report kernel: sealed renderers and the analyst's reviewable escape hatch.

In a report run only outputs sealed by evalkit (:mod:`evalkit.seal`) reach the HTML; the
runner withholds everything else (:mod:`evalkit.report.gate`). This module holds

* the library's own renderers of prose and figures (:func:`markdown`, :func:`html`, :func:`figure`),
  used by :class:`~evalkit.report.study.Study`;
* :func:`release`, the escape hatch for an analyst who wants to show something the
  templates do not: it runs every content check (:func:`check_text`, figure checks) and
  seals the output with the analyst's reason, which the run manifest lists for the reviewer;
* :func:`person_safe`, which suppresses the rows of a person-level result that rest on fewer
  than ``min_cell`` treated persons (Statistics Denmark: no cell on fewer than 3/5 persons);
* :func:`rounded_counts`, which rounds the person counts of a person-level result for the
  results folder to ``round_base`` as the report's tables round them (``docs/disclosure.md`` §5).

Content checks are deliberately narrow and content-based: person keys from the run's
data in any form :mod:`evalkit.report.keyscan` knows, small whole numbers that could be
counts of persons, tables (which must come from ``tabulate``/``safe_table``) and scatter
plots (unit-revealing). Prose, years, amounts and decimals pass.
"""
from __future__ import annotations

import html as _html
import re
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit import seal
from evalkit.errors import ParameterError
from evalkit.privacy import blank_rows, person_unit, rounded_count, thin_person_rows
from evalkit.report.textcheck import DATA_DIR_ENV, DisclosureError, check_text, run_keys  # noqa: F401 (re-exported)

def _check_figure(fig) -> None:
    from matplotlib.collections import PathCollection

    from evalkit.report.figures import figure_texts

    check_text("\n".join(figure_texts(fig)), what="figure text")
    for coll in fig.findobj(PathCollection):
        if len(coll.get_offsets()):
            raise DisclosureError("figure holds a scatter plot; a point per unit can reveal persons. Plot "
                                  "aggregates (means by group and year) instead.")


# ----------------------------------------------------------------------------- renderers
def markdown(text: str, kind: str = "text") -> seal.Sealed:
    """Library prose as a sealed Markdown output (HTML and plain text); its lines go to the
    run's ledger too, so ``print`` of it reaches the report as well."""
    seal.note_lines(text)
    return seal.Sealed({"text/markdown": text, "text/plain": text}, kind=kind) if text else \
        seal.Sealed({"text/plain": ""}, kind=kind)


def html(fragment: str, kind: str = "html", plain: str = "") -> seal.Sealed:
    """A library-built HTML fragment (figures with alt text, notes) as a sealed output."""
    return seal.Sealed({"text/html": fragment, "text/plain": plain or f"[evalkit {kind}]"}, kind=kind)


def figure(fig, alt: str, caption: str = "") -> seal.Sealed:
    """A library figure embedded as PNG with alt text, sealed."""
    from evalkit.report.figures import figure_html

    return html(figure_html(fig, alt, caption), kind="figure", plain=alt)


# ----------------------------------------------------------------------------- escape hatch
def release(obj, *, reason: str) -> seal.Sealed:
    """Release an analyst's text, Markdown/HTML prose or matplotlib figure into the report.

    Every content check still runs (person keys, small whole numbers, no tables, no scatter
    plots); the reason is recorded in the run manifest for the reviewer. Tables are never
    released this way: make them with :func:`~evalkit.report.sdc.tabulate`.
    """
    if not isinstance(reason, str) or len(reason.strip()) < 10:
        raise ParameterError("release(..., reason=...) needs a reason of at least 10 characters for the reviewer.")
    check_text(reason, what="the release reason")
    info = (("reason", reason.strip()),)
    if isinstance(obj, (pd.DataFrame, pd.Series, np.ndarray, list, tuple, dict)):
        raise DisclosureError(f"release() does not show {type(obj).__name__} objects: make tables with tabulate() "
                              "(person counts checked) or display a Result.")
    if _is_figure(obj):
        _check_figure(obj)
        from evalkit.report.figures import figure_html

        return seal.Sealed({"text/html": figure_html(obj, alt=reason.strip()), "text/plain": reason.strip()},
                           kind="release", info=info)
    text = _text_of(obj)
    if re.search(r"<\s*(table|img|svg|iframe|script|object|embed)\b", text, re.IGNORECASE):
        raise DisclosureError("release() text holds a table, image or script; show tables with tabulate() and "
                              "figures as matplotlib figures.")
    check_text(text, what="released text")
    mime = "text/html" if _is_html(obj) else "text/markdown"
    return seal.Sealed({mime: text, "text/plain": _html.escape(text) if mime == "text/html" else text},
                       kind="release", info=info)


def _is_figure(obj) -> bool:
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        return False
    return isinstance(obj, Figure)


def _is_html(obj) -> bool:
    return type(obj).__name__ == "HTML" and hasattr(obj, "data")


def _text_of(obj) -> str:
    if isinstance(obj, str):
        return obj
    if type(obj).__name__ in ("Markdown", "HTML") and isinstance(getattr(obj, "data", None), str):
        return obj.data
    raise DisclosureError(f"release() shows text, IPython Markdown/HTML or matplotlib figures; got "
                          f"{type(obj).__name__}.")


# ----------------------------------------------------------------------------- person-level results
def person_safe(result, min_cell: int | None = None):
    """The result with every row that rests on fewer than ``min_cell`` treated persons blanked
    (estimates, intervals, counts and the matching rows and columns of ``vcov``).

    Area-level results are returned unchanged (their counts are areas, and thin area-years
    are kept out of the report's area panel). Returns ``(result, n_suppressed)``.
    """
    min_cell = min_cell or seal.run_min_cell()
    table = result.tidy()
    # strict: as the report's displays (Result._shown_table) judge units, so an unnamed or recoded
    # unit is persons in the results folder too, not only in the HTML
    thin = thin_person_rows(table, (result.meta or {}).get("unit"), min_cell, strict=True)
    if not thin.any():
        return result, 0
    vcov = result.vcov
    if vcov is not None:
        gone = [t for t in table.loc[thin, "term"] if t in vcov.index]
        vcov = vcov.astype("float64").copy()
        vcov.loc[gone, :] = np.nan
        vcov.loc[:, gone] = np.nan
    diagnostics = {**dict(result.diagnostics),
                   "suppressed_terms": {"n": int(thin.sum()), "rule": f"fewer than {min_cell} treated persons"}}
    return result.replace(table=blank_rows(table, thin), vcov=vcov, diagnostics=diagnostics,
                               influence=None), int(thin.sum())


#: Counts in a person-level result's diagnostics that are not persons (areas, periods, draws).
NOT_PERSONS = frozenset({"n_clusters", "n_treated_clusters", "n_control_clusters", "n_periods", "n_cohorts",
                         "n_placebos", "n_draws", "n_boot", "n_reps", "n_terms", "n_interactions", "n_leads",
                         "n_lags", "n_iterations", "n_cells"})


def published_count(n, *, min_cell: int, round_base: int) -> int | None:
    """A count of persons as a report publishes it: 0 as 0 (it rests on nobody), None from 1 to
    ``min_cell - 1`` (primary suppression, :mod:`evalkit.report.disclosure`), else rounded to a
    multiple of ``round_base`` by the rule of the report's count tables
    (:func:`evalkit.privacy.rounded_count`: half up, never below ``min_cell``)."""
    if n is None or n is pd.NA or (isinstance(n, (float, np.floating)) and not np.isfinite(n)):
        return None
    if n == 0:
        return 0
    shown = rounded_count(float(n), min_cell, round_base)
    return None if np.isnan(shown) else int(shown)


def _rounded_fields(fields: dict, shown) -> dict:
    """``fields`` (diagnostics or meta) with every whole-number ``n_*`` entry that counts persons
    (not in :data:`NOT_PERSONS`) passed through ``shown``, nested mappings too."""
    out = {}
    for key, value in fields.items():
        if isinstance(value, dict):
            value = _rounded_fields(value, shown)
        elif (str(key).startswith("n_") and str(key) not in NOT_PERSONS and not isinstance(value, (bool, np.bool_))
              and isinstance(value, (int, np.integer))):
            value = shown(value)
        out[key] = value
    return out


def rounded_counts(result, *, min_cell: int, round_base: int | None):
    """The result with its person counts as the report publishes them (``docs/disclosure.md`` §5):
    ``n_obs``, the table's ``n_treated``/``n_control`` and every ``n_*`` count of persons in
    ``diagnostics`` and ``meta`` rounded to ``round_base`` (:func:`published_count`; null below
    ``min_cell``, ``n_obs`` then 0), with ``diagnostics["counts"]`` saying so.

    Results whose unit is an area (``meta["unit"]``, :func:`evalkit.privacy.person_unit` as in a report
    run) are returned unchanged: their counts are areas. Counts of clusters and periods stay exact.
    """
    if not round_base or not person_unit((result.meta or {}).get("unit"), strict=True):
        return result

    def shown(n):
        return published_count(n, min_cell=min_cell, round_base=round_base)

    table = result.tidy()
    for col in ("n_treated", "n_control"):
        if col in table:
            table[col] = pd.array([shown(v) for v in table[col]], dtype="Int64")
    diagnostics = _rounded_fields(dict(result.diagnostics), shown)
    diagnostics["counts"] = (f"person counts (n_obs, n_treated, n_control, n_* diagnostics) rounded to a multiple "
                             f"of {round_base} (null below {min_cell}; n_obs then 0); counts of clusters, areas and "
                             "periods exact")
    n_obs = shown(result.n_obs)
    return result.replace(table=table, n_obs=n_obs or 0, diagnostics=diagnostics,
                          meta=_rounded_fields(dict(result.meta or {}), shown))


# ----------------------------------------------------------------------------- results writer
def write_results(folder: Path, results: dict, *, min_cell: int | None = None,
                  round_base: int | None = None) -> list[Path]:
    """Write each result's JSON (person-level rows on too few persons blanked, person counts
    rounded to ``round_base`` as the report shows them (:func:`rounded_counts`; default the run's),
    no influence functions) and vouch for every file in the run's ledger; the runner withholds any
    other file."""
    from evalkit.report.manifest import results_line

    min_cell = min_cell or seal.run_min_cell()
    round_base = round_base or seal.run_round_base()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, result in results.items():
        path = folder / f"{name}.json"
        if isinstance(result, dict):  # a table that is not a Result (subgroup effects), already disclosure-safe
            import json

            path.write_text(json.dumps(result, allow_nan=False), encoding="utf-8")
        else:
            safe = person_safe(result, min_cell)[0]
            path.write_text(rounded_counts(safe, min_cell=min_cell, round_base=round_base).to_json(), encoding="utf-8")
        seal.note_lines(results_line(path.name, path))
        written.append(path)
    return written
