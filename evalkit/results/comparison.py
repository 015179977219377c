"""Several results side by side: :func:`compare` and the immutable :class:`Comparison`.

The numbers are copied from each result's tidy table and never recomputed; the long table
(one row per model and term) is the value, and every view - the wide display table, HTML for
JupyterLab, LaTeX, Markdown and RTF for Word - is rendered from it
(:mod:`evalkit.results._compare_grid`, :mod:`evalkit.results._compare_render`).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit import seal
from evalkit.errors import ParameterError, check_choice, closest
from evalkit.i18n import LANGS
from evalkit.results import _compare_labels as lab
from evalkit.results._compare_grid import build_grid
from evalkit.results._compare_render import to_html, to_latex, to_markdown, to_rtf, to_text
from evalkit.results.result import Result, immutable_value

STATS = ("se", "ci", "p")
#: columns of :attr:`Comparison.table`, in order
LONG_COLUMNS = ("model", "term", "source_term", "estimate", "std_error", "statistic", "p_value", "conf_low",
                "conf_high", "reference", "event_time", "n_treated", "n_control", "estimator", "outcome", "n_obs",
                "n_clusters", "cluster", "inference", "alpha")
_FROM_TIDY = ("estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high", "reference", "event_time",
              "n_treated", "n_control")
_PER_MODEL = ("estimator", "outcome", "n_obs", "n_clusters", "cluster", "inference", "alpha")


def _cluster_cell(cell: str, cluster, lang: str) -> str:
    """"80 (OMR_ID)" -> "80 (område)"; a cluster column evalkit does not know stays as given."""
    if not isinstance(cluster, str) or not cell.endswith(f" ({cluster})"):
        return cell
    return cell[: -len(f" ({cluster})")] + f" ({lab.column_label(cluster, lang)})"


@immutable_value
@dataclass(frozen=True, slots=True, eq=False)
class Comparison:
    """Results side by side; built by :func:`compare`, never changed.

    Attributes
    ----------
    table : pandas.DataFrame
        The long (tidy) table, one row per model and shown term, columns :data:`LONG_COLUMNS`:
        ``model`` (the name), ``term`` (the shown row), ``source_term`` (the term in the result's
        own tidy table), the statistics exactly as in ``result.tidy()``, and per model its
        estimator, outcome, ``n_obs``, ``n_clusters``, ``cluster``, ``inference`` (the method's
        label) and ``alpha``. A copy on every access.
    models : pandas.DataFrame
        One row per model, in the order given: the columns of ``table`` that belong to a model,
        plus ``estimator_label``, ``method``, ``draws``, ``unit``, ``fixed_effects``,
        ``controls``, ``weights`` (None where the result does not record them) and ``has_se``.
    terms : tuple of str
        The shown terms, in row order.
    stat : tuple of str
        What is shown under each estimate: "se", "ci" and/or "p".
    lang : str
        "da" or "en": labels and number format of every rendering.
    digits : int
        Decimals of estimates, standard errors, intervals and p-values.
    """

    table: pd.DataFrame
    models: pd.DataFrame
    terms: tuple[str, ...]
    stat: tuple[str, ...]
    lang: str
    digits: int

    def tidy(self) -> pd.DataFrame:
        """The long table (a copy; changing it leaves the comparison intact).

        Returns
        -------
        pandas.DataFrame
            One row per model and term, columns :data:`LONG_COLUMNS`.
        """
        return self.table.copy(deep=True)

    def _grid(self):
        """The display grid, columns the comparison knows by a readable name ("OMR_ID" -> "område";
        the frames keep the column names)."""
        shown = self.models.copy()
        for key in ("fixed_effects", "controls"):
            shown[key] = [None if v is None or (not isinstance(v, str) and pd.isna(v)) else lab.column_list(v, self.lang)
                          for v in shown[key]]
        grid = build_grid(self.table, shown, self.terms, self.stat, self.lang, self.digits)
        clusters, rows = lab.text("clusters", self.lang), list(grid.rows)
        for i, (name, kind) in enumerate(zip(grid.labels, grid.kinds)):
            if name == clusters and kind == "footer":
                rows[i] = tuple(_cluster_cell(cell, c, self.lang) for cell, c in zip(rows[i], self.models["cluster"]))
        return replace(grid, rows=tuple(rows))

    def wide(self) -> pd.DataFrame:
        """The display table: one column per model, rows for each term's estimate and statistics,
        then N, clusters, inference, fixed effects and controls; every cell is formatted text.

        Returns
        -------
        pandas.DataFrame
            Indexed by the row label ("" on a statistic's row under its estimate).
        """
        grid = self._grid()
        return pd.DataFrame([list(r) for r in grid.rows], columns=list(grid.header[1:]),
                            index=pd.Index(grid.labels, name=grid.header[0] or None))

    def summary(self) -> str:
        """The display table as plain text with its notes.

        Returns
        -------
        str
            Aligned columns, rules above and below, notes after.
        """
        return seal.note_lines(to_text(self._grid()))

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return to_html(self._grid())

    def _repr_mimebundle_(self, include=None, exclude=None):
        """HTML and text, sealed for the report runner (:mod:`evalkit.seal`)."""
        data = {"text/html": self._repr_html_(), "text/plain": self.summary()}
        return data, seal.seal(data, "comparison")

    def to_latex(self, *, caption: str | None = None, label: str | None = None, table_float: bool = True) -> str:
        """LaTeX source of the table (booktabs rules; needs ``\\usepackage{booktabs}``).

        Every cell is escaped (``_ % & # $ { } ~ ^ \\ < >``, the minus sign and ×, ∞, †), so the
        source compiles with pdfLaTeX and UTF-8 input (the default since LaTeX 2018). Written
        directly rather than by pandas' ``Styler.to_latex`` (jinja2 templates), so the escaping
        and the rules are evalkit's own and tested.

        Parameters
        ----------
        caption : str, optional
            Caption of the table float (escaped).
        label : str, optional
            ``\\label`` key of the float (used as given).
        table_float : bool, default True
            Wrap the tabular and its notes in a ``table`` float; False gives the bare tabular
            followed by the notes, to ``\\input`` into a float of one's own.

        Returns
        -------
        str
            The LaTeX source.
        """
        return to_latex(self._grid(), caption=caption, label=label, table_float=bool(table_float))

    def to_markdown(self) -> str:
        """A pipe table (GitHub-flavoured Markdown and pandoc) with the notes below it.

        Written without the ``tabulate`` package (not a dependency of evalkit); ``|``, ``*``, ``_`` and ``\\``
        in cells are escaped.

        Returns
        -------
        str
            The Markdown text.
        """
        return to_markdown(self._grid())

    def to_rtf(self, path: str | Path | None = None) -> str | Path:
        """The table as a Rich Text Format document, which Word (and LibreOffice) open as a real,
        editable table with booktabs-like rules.

        RTF and not ``.docx``: python-docx is not a dependency of evalkit (it is installed only
        with the test oracles), and an RTF file needs nothing to write; unlike an HTML file
        renamed ``.doc``, Word opens it without a format warning. Non-ASCII characters (æ, ø, å,
        ×, −) are written as RTF Unicode escapes.

        Parameters
        ----------
        path : str or pathlib.Path, optional
            Where to write the document; its name must end in ``.rtf`` (Word opens it; a
            ``.docx`` name would hold RTF under a Word-document suffix) and its folder must
            exist. None writes nothing.

        Returns
        -------
        str or pathlib.Path
            The RTF source when ``path`` is None; else the path written to (so a notebook cell
            ending in ``cmp.to_rtf("table.rtf")`` shows the path, not the whole source).

        Raises
        ------
        ParameterError
            ``path`` does not end in ``.rtf``, its folder does not exist, or it cannot be written.
        """
        source = to_rtf(self._grid())
        if path is None:
            return source
        target = _rtf_target(path)
        try:
            target.write_text(source, encoding="ascii")
        except OSError as err:
            raise ParameterError(f"to_rtf cannot write {str(target)!r}: {err.strerror or err}.") from None
        return target


def _rtf_target(path) -> Path:
    """``path`` as a Path, checked: an ``.rtf`` name in an existing folder."""
    if not isinstance(path, (str, Path)):
        raise ParameterError(f"path must be a str or pathlib.Path, not {type(path).__name__}.")
    target = Path(path)
    if target.suffix.lower() != ".rtf":
        shown = f"suffix {target.suffix!r}" if target.suffix else "no suffix"
        raise ParameterError(f"to_rtf writes Rich Text Format: path={str(path)!r} has {shown}; use a name ending "
                             "in '.rtf' (Word opens RTF files and can save them as .docx).")
    if not target.parent.is_dir():
        raise ParameterError(f"to_rtf cannot write {str(path)!r}: the folder {str(target.parent)!r} does not exist.")
    return target


def compare(results, names: Sequence[str] | None = None, *, terms=None, stat: str | Sequence[str] = "se",
            lang: str = "en", digits: int = 3) -> Comparison:
    """Set several results side by side, with their estimates, standard errors or intervals, N,
    clusters and inference method.

    A result whose method has no standard error (Conley-Taber, Ferman-Pinto) shows its interval
    under the estimate instead, marked † and said so in the notes; a synthetic control without
    placebo inference shows estimates only. The numbers are those of each ``result.tidy()``,
    copied, never recomputed; the inputs are not modified.

    Parameters
    ----------
    results : list of Result, or mapping of str to Result
        The results, in column order (any estimator's :class:`~evalkit.results.Result`: twfe,
        did2x2, event_study, sun_abraham, an aggregated att_gt, did_imputation, sdid, synth,
        conley_taber, ferman_pinto, and results of ``with_inference`` or ``post_average``). A
        mapping gives the names as its keys.
    names : sequence of str, optional
        One unique, non-empty name per result (the column headers); default "(1)", "(2)", ...
        Not with a mapping.
    terms : str, sequence of str or mapping of str to str, optional
        The rows: None shows every term of every result, in order of first appearance; a list
        shows those terms in that order; a mapping ``{term in the result: row name}`` also
        renames, and may send different terms of different results to one row (e.g.
        ``{"ATT": "Effect", "ATT(post avg)": "Effect"}``). Each term must occur in some result.
    stat : {"se", "ci", "p"} or sequence of them, default "se"
        What is shown under each estimate: the standard error in parentheses, the confidence
        interval in brackets and/or the p-value ("p = 0.048", "p < 0.001"), one line each.
    lang : {"en", "da"}, default "en"
        Labels and number format: Danish uses a decimal comma and a dot as thousands separator
        ("1.234,568", "p < 0,001") and separates interval ends by a semicolon.
    digits : int, default 3
        Decimals of estimates, standard errors, intervals and p-values (0 to 10).

    Returns
    -------
    Comparison
        The immutable comparison: ``tidy()`` for the long table, ``wide()`` for the display
        table, ``to_latex()``, ``to_markdown()``, ``to_rtf(path)``, and HTML in JupyterLab.

    Raises
    ------
    ParameterError
        For an empty ``results``, an item that is not a Result, names that are duplicated,
        empty or not one per result, a term no result has, two terms of one result sent to the
        same row, and a ``stat``, ``lang`` or ``digits`` outside what is allowed.

    See Also
    --------
    evalkit.results.Result.tidy : the table each column is copied from.

    References
    ----------
    .. [1] Jann, B. (2007). "Making regression tables simplified". *The Stata Journal* 7(2),
       227-244 (``esttab``: the layout of estimates, standard errors and model statistics).
    .. [2] Bergé, L., Fischer, A. et al. pyfixest ``etable`` and Sheppard, K. linearmodels
       ``compare``: the side-by-side tables of the Python estimation libraries.
    .. [3] Fear, S. (2020). *Publication quality tables in LaTeX* (the booktabs package manual).
    .. [4] Microsoft (2008). *Rich Text Format (RTF) Specification*, version 1.9.1.

    Examples
    --------
    >>> cmp = ek.compare([twfe_res, es_avg, ct_res], names=["TWFE", "Event study", "Conley-Taber"],
    ...                  terms={"ATT": "Effect", "ATT(post avg)": "Effect"}, lang="da")  # doctest: +SKIP
    >>> cmp.to_rtf("robustness.rtf")  # doctest: +SKIP
    """
    items, names = _check_results(results, names)
    stats = _check_stat(stat)
    check_choice("lang", lang, LANGS)
    digits = _check_digits(digits)
    mapping = _check_terms(terms, items)
    if terms is None:  # the results' own term names, as row labels in the language ("ATT (gns. efter start)")
        mapping = {t: lab.term_label(t, lang) for t in mapping}
    models = pd.DataFrame([_model_row(n, r, lang) for n, r in zip(names, items)])
    shown = tuple(dict.fromkeys(mapping.values()))
    table = _long_table(items, names, mapping, shown, models)
    return Comparison(table=table, models=models, terms=shown, stat=stats, lang=lang, digits=digits)


# ------------------------------------------------------------------------------ validation
def _check_results(results, names) -> tuple[list[Result], list[str]]:
    if isinstance(results, Mapping):
        if names is not None:
            raise ParameterError("compare: results is a mapping, so its keys are the names; pass names=None "
                                 "(or a list of results with names=[...]).")
        names, results = list(results.keys()), list(results.values())
    elif isinstance(results, Result) or not isinstance(results, (list, tuple)):
        raise ParameterError(f"compare: results must be a list (or tuple, or dict name -> result) of evalkit "
                             f"Result objects; got {type(results).__name__}. One result: compare([result]).")
    items = list(results)
    if not items:
        raise ParameterError("compare: results is empty; give at least one evalkit Result.")
    for i, item in enumerate(items):
        if not isinstance(item, Result):
            raise ParameterError(f"compare: results[{i}] is a {type(item).__name__}, not an evalkit Result (what "
                                 "twfe, did2x2, event_study, sun_abraham, aggregate, did_imputation, sdid, synth, "
                                 "conley_taber and ferman_pinto return).")
    return items, _check_names(names, len(items))


def _check_names(names, n: int) -> list[str]:
    if names is None:
        return [f"({i + 1})" for i in range(n)]
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise ParameterError(f"compare: names must be a list of {n} strings, one per result; got {names!r}.")
    names = list(names)
    if len(names) != n:
        raise ParameterError(f"compare: names has {len(names)} entries for {n} results; give one name per "
                             "result (or names=None for (1), (2), ...).")
    bad = [x for x in names if not isinstance(x, str) or not x.strip()]
    if bad:
        raise ParameterError(f"compare: names must be non-empty strings; got {bad[0]!r}.")
    dupes = sorted({x for x in names if names.count(x) > 1})
    if dupes:
        raise ParameterError(f"compare: names must be unique (they head the columns); {dupes} occur more than once.")
    return names


def _check_stat(stat) -> tuple[str, ...]:
    chosen = (stat,) if isinstance(stat, str) else tuple(stat) if isinstance(stat, (list, tuple)) else None
    if not chosen:
        raise ParameterError(f"compare: stat={stat!r} is not allowed; choose one of {list(STATS)} or a list of "
                             "them, e.g. ['se', 'p'].")
    for s in chosen:
        check_choice("stat", s, STATS)
    if len(set(chosen)) != len(chosen):
        raise ParameterError(f"compare: stat={list(chosen)} repeats an entry; each of {list(STATS)} at most once.")
    return chosen


def _check_digits(digits) -> int:
    if isinstance(digits, bool) or not isinstance(digits, (int, np.integer)) or not 0 <= digits <= 10:
        raise ParameterError(f"compare: digits={digits!r} is not allowed; give a whole number from 0 to 10.")
    return int(digits)


def _check_terms(terms, items: list[Result]) -> dict[str, str]:
    """{term in a result: shown row}, in row order."""
    available = list(dict.fromkeys(t for r in items for t in r.tidy()["term"]))
    if terms is None:
        return {t: t for t in available}
    if isinstance(terms, str):
        terms = [terms]
    if isinstance(terms, Mapping):
        mapping = dict(terms)
    elif isinstance(terms, (list, tuple)):
        if len(set(terms)) != len(terms):
            raise ParameterError(f"compare: terms={list(terms)} repeats a term; list each once.")
        mapping = {t: t for t in terms}
    else:
        raise ParameterError(f"compare: terms must be None, a term, a list of terms or a dict term -> row name; "
                             f"got {type(terms).__name__}.")
    if not mapping:
        raise ParameterError("compare: terms is empty; give None (every term) or at least one term.")
    for source, row in mapping.items():
        if not isinstance(row, str) or not row:
            raise ParameterError(f"compare: terms[{source!r}] = {row!r}; the row name must be a non-empty string.")
        if source not in available:
            shown = available if len(available) <= 20 else available[:20] + ["..."]
            raise ParameterError(f"compare: term {source!r} is in none of the results; terms are {shown}."
                                 + closest(str(source), available))
    return mapping


# ------------------------------------------------------------------------------ the tables
def _model_row(name: str, res: Result, lang: str) -> dict:
    info, tidy = res.inference, res.table
    free = tidy[~tidy["reference"]]
    return {"model": name, "estimator": res.estimator, "estimator_label": lab.estimator_label(res, lang),
            "outcome": res.outcome, "n_obs": int(res.n_obs),
            "n_clusters": pd.NA if info.n_clusters is None else int(info.n_clusters), "cluster": info.cluster,
            "unit": res.meta.get("unit"), "method": info.method, "inference": lab.inference_label(res, lang),
            "draws": pd.NA if info.draws is None else int(info.draws), "alpha": float(res.alpha),
            "fixed_effects": lab.fixed_effects(res), "controls": lab.controls(res, lang),
            "weights": lab.weights(res, lang), "has_se": bool(free["std_error"].notna().any())}


def _long_table(items: list[Result], names: list[str], mapping: dict[str, str], shown: tuple[str, ...],
                models: pd.DataFrame) -> pd.DataFrame:
    frames = []
    for name, res, (_, model) in zip(names, items, models.iterrows()):
        tidy = res.tidy()
        rows = tidy[tidy["term"].isin(list(mapping))]
        rows = rows.assign(source_term=rows["term"], term=rows["term"].map(mapping))
        clash = rows["term"][rows["term"].duplicated()]
        if not clash.empty:
            both = rows.loc[rows["term"] == clash.iloc[0], "source_term"].tolist()
            raise ParameterError(f"compare: terms sends {both} of result {name!r} to the same row "
                                 f"{clash.iloc[0]!r}; map at most one term of each result to a row.")
        rows = rows.assign(model=name, **{c: model[c] for c in _PER_MODEL if c not in ("n_clusters",)})
        rows["n_clusters"] = pd.array([model["n_clusters"]] * len(rows), dtype="Int64")
        rows["_order"] = rows["term"].map({t: i for i, t in enumerate(shown)})
        frames.append(rows.sort_values("_order", kind="stable"))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(LONG_COLUMNS))
    table["n_obs"] = table["n_obs"].astype("int64")
    table["alpha"] = table["alpha"].astype("float64")
    table["model"] = table["model"].astype("str")
    return table.loc[:, list(LONG_COLUMNS)].reset_index(drop=True)
