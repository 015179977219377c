"""What may leave a report kernel: sealed renderers and the analyst's reviewable escape hatch.

In a report run only outputs sealed by evalkit (:mod:`evalkit.seal`) reach the HTML; the
runner withholds everything else (:mod:`evalkit.report.gate`). This module holds

* the library's own renderers of prose and figures (:func:`markdown`, :func:`html`, :func:`figure`),
  used by :class:`~evalkit.report.study.Study`;
* :func:`release`, the escape hatch for an analyst who wants to show something the
  templates do not: it runs every content check (:func:`check_text`, figure checks) and
  seals the output with the analyst's reason, which the run manifest lists for the reviewer;
* :func:`person_safe`, which suppresses the rows of a person-level result that rest on fewer
  than ``min_cell`` treated persons (Statistics Denmark: no cell on fewer than 3/5 persons).

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
from evalkit.privacy import blank_rows, thin_person_rows
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
    thin = thin_person_rows(table, (result.meta or {}).get("unit"), min_cell)
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


# ----------------------------------------------------------------------------- results writer
def write_results(folder: Path, results: dict, *, min_cell: int | None = None) -> list[Path]:
    """Write each result's JSON (person-level rows on too few persons blanked, no influence
    functions) and vouch for every file in the run's ledger; the runner withholds any other file."""
    from evalkit.report.manifest import results_line

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, result in results.items():
        path = folder / f"{name}.json"
        if isinstance(result, dict):  # a table that is not a Result (subgroup effects), already disclosure-safe
            import json

            path.write_text(json.dumps(result, allow_nan=False), encoding="utf-8")
        else:
            path.write_text(person_safe(result, min_cell)[0].to_json(), encoding="utf-8")
        seal.note_lines(results_line(path.name, path))
        written.append(path)
    return written
