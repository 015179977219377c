"""The one immutable result type of evalkit.

Every estimator returns a :class:`Result`. It holds a tidy table with one row
per term and a fixed schema (:data:`TABLE_COLUMNS`), the covariance matrix of
the estimated terms, the inference metadata and free-form diagnostics.
Nothing on a result is ever modified: ``tidy()`` returns a copy and the
mappings are read-only views.
"""
from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evalkit import seal
from evalkit.core.aliases import checked
from evalkit.core.checks import check_bool
from evalkit.errors import ColumnError, ParameterError, check_choice, closest
from evalkit.privacy import blank_rows, shown_count, thin_person_rows
from evalkit.i18n import LANGS, SUMMARY_WORDS, format_p, label, localize_numbers

#: Columns of the tidy table, in order, with their pandas dtype.
TABLE_COLUMNS: dict[str, str] = {
    "term": "str",
    "estimate": "float64",
    "std_error": "float64",
    "statistic": "float64",
    "p_value": "float64",
    "conf_low": "float64",
    "conf_high": "float64",
    "band_low": "float64",
    "band_high": "float64",
    "event_time": "Int64",
    "group": "Int64",
    "time": "Int64",
    "n_treated": "Int64",
    "n_control": "Int64",
    "reference": "bool",
}


@dataclass(frozen=True, slots=True)
class InferenceInfo:
    """How standard errors, tests and intervals were computed.

    ``df`` is the degrees of freedom of the t distribution used for p-values
    and intervals (``None`` means the normal distribution).
    """

    method: str
    cluster: str | None = None
    n_clusters: int | None = None
    df: float | None = None
    seed: int | None = None
    draws: int | None = None


def make_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Return a new DataFrame conforming ``rows`` to the tidy schema.

    Missing columns are added (NA; ``reference`` False), dtypes are enforced.
    """
    unknown = set(rows.columns) - set(TABLE_COLUMNS)
    if unknown:
        raise ColumnError(f"Unknown tidy-table columns {sorted(unknown)}; allowed: {list(TABLE_COLUMNS)}.")
    n = len(rows)
    out = {}
    for col, dtype in TABLE_COLUMNS.items():
        values = list(rows[col]) if col in rows.columns else [None] * n
        out[col] = _cast(values, dtype, n)
    return pd.DataFrame(out, index=pd.RangeIndex(n))


def _cast(values: list, dtype: str, n: int) -> pd.Series:
    missing = [v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) for v in values]
    if dtype == "float64":
        return pd.Series([np.nan if m else float(v) for v, m in zip(values, missing)], dtype="float64")
    if dtype == "Int64":
        return pd.Series(pd.array([None if m else int(v) for v, m in zip(values, missing)], dtype="Int64"))
    if dtype == "bool":
        return pd.Series([False if m else bool(v) for v, m in zip(values, missing)], dtype=bool)
    if any(missing):
        raise ColumnError("The tidy table needs a term name on every row.")
    return pd.Series([str(v) for v in values], dtype="str")


#: inference methods whose p-values and intervals do not come from a covariance matrix: the
#: result keeps the CR1 ``vcov`` of the fit for reference, but linear combinations, Wald tests
#: and HonestDiD refuse it (they would mix an analytic covariance with a bootstrap label)
NO_COVARIANCE = frozenset({"wild", "wild_unrestricted", "randomization"})

_COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3
_FIELDS = ("estimator", "estimand", "table", "vcov", "alpha", "inference", "n_obs", "outcome", "diagnostics",
           "meta", "influence")


#: the post-fit inference dispatcher, registered by :mod:`evalkit.estimators` when it loads: results
#: are a lower layer than the estimators and inference methods that re-estimate them (no import up)
_POSTFIT: list = []


#: estimator -> its own figure ``plot(result, kind=, lang=, ax=, truth=, title=)``, registered by the
#: estimator's module when it loads (results do not import estimators; :meth:`Result.plot` falls back to
#: the table's plot for an estimator that registered none)
_PLOTTERS: dict = {}


def register_plotter(estimator: str, plot) -> None:
    """Register the figure :meth:`Result.plot` draws for ``estimator``'s results (``plot`` returns the
    figure, or None to fall back to the table's plot)."""
    _PLOTTERS[estimator] = plot


def register_postfit(dispatch) -> None:
    """Register ``dispatch(result, method, data, options)`` for :meth:`Result.with_inference`."""
    _POSTFIT[:] = [dispatch]


def _load_postfit() -> None:
    """Load the module that registers the post-fit dispatcher (a result unpickled or rebuilt from
    JSON in a fresh session, where only ``import evalkit`` ran). It is named like a plug-in, not
    imported: the estimators are a higher layer than the results."""
    import importlib

    importlib.import_module(_POSTFIT_PROVIDER)
    if not _POSTFIT:
        raise ParameterError(f"with_inference needs evalkit's estimators, and {_POSTFIT_PROVIDER} did not "
                             "register them: reinstall evalkit.")


#: the module that calls :func:`register_postfit` when it loads
_POSTFIT_PROVIDER = "evalkit.estimators.postfit"


class Result:
    """Immutable estimation result with one tidy table; every estimator returns one.

    Built by the estimators, not by users. The tidy table has one row per term and a fixed
    schema (:data:`TABLE_COLUMNS`: term, estimate, std_error, statistic, p_value, conf_low,
    conf_high, band_low, band_high, event_time, group, time, n_treated, n_control,
    reference). Nothing reachable from a result can change it: assigning an attribute raises,
    and every frame handed out is a copy (issue 12: ``res.table.loc[0, "estimate"] = 99``
    persisted); use :meth:`replace` for a changed copy. Displays as HTML in a notebook and as
    text with ``print``.

    Parameters
    ----------
    estimator : str
        Short name of the estimator ("twfe", "event_study", "cs_att_gt", ...).
    estimand : str
        The estimand in words ("ATT under parallel trends", ...).
    table : pandas.DataFrame
        The rows of the tidy table; missing schema columns are added, dtypes enforced.
    vcov : pandas.DataFrame or None
        Covariance of the estimated terms (rows/columns named by term); for bootstrap results
        the bootstrap covariance (see the estimator), for the methods in
        :data:`NO_COVARIANCE` the CR1 covariance of the fit (use :meth:`covariance`). None for
        estimators without one (e.g. synth).
    alpha : float
        Level of the intervals (0.05 gives 95 % intervals).
    inference : InferenceInfo
        How standard errors, tests and intervals were computed (method, cluster, number of
        clusters, degrees of freedom, seed, draws).
    n_obs : int
        Rows used in estimation.
    outcome : str
        Name of the outcome column.
    diagnostics : mapping, optional
        Estimator-specific diagnostics (counts dropped, weights, pre-tests, ...); stored as a
        read-only mapping, frozen all the way down (nested mappings read-only, lists as tuples,
        arrays and frames read-only).
    meta : mapping, optional
        The settings of the fit (columns, options); frozen like ``diagnostics``.
    influence : pandas.DataFrame, optional
        Influence functions, an (n_units x n_terms) frame indexed by the unit (or cluster) id
        with one column per term, so that aggregation, clustered standard errors and
        multiplier bootstraps are functions of (estimate, influence, clusters) (Callaway &
        Sant'Anna 2021, sec. 4). Returned as a copy (copy-on-write, so cheap). Not serialised
        by :meth:`to_dict` (it is unit-level and can be large); None for estimators that do
        not provide it.

    See Also
    --------
    tidy, summary, plot, with_inference, to_json

    Examples
    --------
    >>> import evalkit as ek
    >>> from evalkit.data.synthetic import staggered_panel
    >>> res = ek.twfe(staggered_panel(seed=1), outcome="y", unit="unit", time="time", treatment="treat")
    >>> res.tidy().columns[:3].tolist()
    ['term', 'estimate', 'std_error']
    >>> round(res.alpha, 2)
    0.05
    """

    __slots__ = ("estimator", "estimand", "_table", "_vcov", "alpha", "inference", "n_obs", "outcome",
                 "_diagnostics", "_meta", "_influence")

    def __init__(self, estimator: str, estimand: str, table: pd.DataFrame, vcov: pd.DataFrame | None,
                 alpha: float, inference: InferenceInfo, n_obs: int, outcome: str,
                 diagnostics: Mapping[str, Any] | None = None, meta: Mapping[str, Any] | None = None,
                 influence: pd.DataFrame | None = None, *, _own_influence: bool = False) -> None:
        put = object.__setattr__
        put(self, "estimator", str(estimator))
        put(self, "estimand", str(estimand))
        put(self, "_table", _frozen_frame(make_table(table)))
        put(self, "_vcov", None if vcov is None else _frozen_frame(vcov.copy(deep=True)))
        put(self, "alpha", float(alpha))
        put(self, "inference", inference)
        put(self, "n_obs", int(n_obs))
        put(self, "outcome", outcome)
        put(self, "_diagnostics", _freeze(dict(diagnostics or {})))
        put(self, "_meta", _freeze(dict(meta or {})))
        if influence is not None and not _own_influence:  # a frame built by the estimator is not copied again
            influence = influence.copy(deep=True)
        put(self, "_influence", None if influence is None else _frozen_frame(influence))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Result is immutable: cannot set {name!r}; use result.replace({name}=...) "
                             "for a new result.")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Result is immutable: cannot delete {name!r}.")

    def __reduce__(self):  # pickling and copy.deepcopy rebuild through the constructor
        fields = {f: getattr(self, f) for f in _FIELDS}
        fields["diagnostics"], fields["meta"] = _thaw(self._diagnostics), _thaw(self._meta)
        return _rebuild, (fields,)

    @property
    def table(self) -> pd.DataFrame:
        """The tidy table (a copy on every access; see :data:`TABLE_COLUMNS`).
        """
        return _handout(self._table)

    @property
    def vcov(self) -> pd.DataFrame | None:
        """Covariance of the estimated terms named by term (a copy), or None; see :meth:`covariance`.
        """
        return None if self._vcov is None else _handout(self._vcov)

    @property
    def influence(self) -> pd.DataFrame | None:
        """Influence functions (n_units x n_terms, a copy), or None when the estimator provides none.
        """
        return None if self._influence is None else _handout(self._influence)

    @property
    def diagnostics(self) -> Mapping[str, Any]:
        """Estimator diagnostics as a read-only mapping (counts dropped, weights, pre-tests, ...).
        """
        return self._diagnostics

    @property
    def meta(self) -> Mapping[str, Any]:
        """The settings of the fit (columns, options) as a read-only mapping.
        """
        return self._meta

    def replace(self, **changes: Any) -> "Result":
        """A new result with some fields changed; this one is unchanged.

        Parameters
        ----------
        **changes
            New values by field name, as in the constructor: estimator, estimand, table, vcov,
            alpha, inference, n_obs, outcome, diagnostics, meta, influence.

        Returns
        -------
        Result
            The new result.

        Raises
        ------
        ParameterError
            An unknown field name (the closest one is named).
        """
        unknown = sorted(set(changes) - set(_FIELDS))
        if unknown:
            raise ParameterError(f"Result.replace: unknown field(s) {unknown}; fields are {list(_FIELDS)}."
                                 + closest(unknown[0], _FIELDS))
        current = {f: getattr(self, f) for f in _FIELDS}
        current["diagnostics"], current["meta"] = _thaw(self._diagnostics), _thaw(self._meta)
        return Result(**{**current, **changes})

    @checked
    def covariance(self, terms: list[str] | None = None) -> pd.DataFrame:
        """The covariance of ``terms`` for linear combinations and tests.

        Parameters
        ----------
        terms : list of str, optional
            Estimated terms to return (rows and columns in this order); None: all.

        Returns
        -------
        pandas.DataFrame
            The covariance, rows and columns named by term (a copy).

        Raises
        ------
        ParameterError
            Results without a covariance, results whose inference is one of
            :data:`NO_COVARIANCE` (wild bootstrap, randomization: their p-values and intervals
            come from resampling, and a combination of the kept CR1 covariance would be labelled
            with the bootstrap's name), or terms that are not estimated.
        """
        if self.inference.method in NO_COVARIANCE:
            raise ParameterError(
                f"this result's inference is {self.inference.method!r}: its p-values and intervals come from "
                "resampling, not from a covariance matrix, so linear combinations, Wald tests and HonestDiD are "
                "undefined for it. Use the result before with_inference (CR1/CR2/CR3 have a covariance), or "
                "evalkit.estimators.postfit.wild_combination for a wild bootstrap test of a combination.")
        if self._vcov is None:
            raise ParameterError(f"{self.estimator} result has no covariance matrix (inference "
                                 f"{self.inference.method!r}).")
        if terms is None:
            return self.vcov
        missing = [t for t in terms if t not in self._vcov.index]
        if missing:
            raise ParameterError(f"terms {missing} are not estimated terms; available: {list(self._vcov.index)}."
                                 + closest(str(missing[0]), [str(t) for t in self._vcov.index]))
        return self._vcov.loc[terms, terms].copy()

    # --------------------------------------------------------------- inference
    def with_inference(self, method: str, data: pd.DataFrame | None = None, **options: Any) -> "Result":
        """A new result with standard errors, p-values and intervals by another inference method.

        The estimates are unchanged; only inference is redone, e.g. CR2 or a wild cluster
        bootstrap when there are few clusters (see :func:`inference_advisor` for which one holds
        size in the design at hand). The choices depend on the estimator.

        Parameters
        ----------
        method : {"cr1", "hc1", "cr2", "cr3", "wild", "randomization", "analytic", "multiplier"}
            "cr1"/"hc1": refit with CR1 / HC1 covariance; "cr2": Bell-McCaffrey covariance with
            Imbens-Kolesar degrees of freedom; "cr3": the cluster jackknife; "wild": the wild
            cluster bootstrap (Roodman et al. 2019); "randomization": randomization inference
            over re-assignments of treatment across clusters; "analytic"/"multiplier": the
            analytic or multiplier-bootstrap errors of :func:`att_gt`.
        data : pandas.DataFrame, optional
            The data the result was estimated on; every method but the result's own re-reads it
            (a design that does not reproduce the estimates is an error).
        **options
            Options of the method: ``seed``; ``draws`` (resampling draws, default 9999 for the
            wild bootstrap, 999 for randomization inference); ``weights`` (the wild bootstrap
            weight distribution, "rademacher", "webb" or "mammen"); ``restricted`` (WCR, default
            True); ``bootcluster`` ("unit": the subcluster bootstrap of MacKinnon & Webb 2018);
            ``statistic`` (randomization inference, default "t"); ``terms`` (rows to test,
            default every estimated term); ``progress``. An unknown option names the closest
            valid one.

        Returns
        -------
        Result
            A copy with the new inference; details in ``diagnostics["inference_details"]``.

        Raises
        ------
        ParameterError
            A method not available for this estimator, no ``data`` when it is needed, a bad
            option. (A result unpickled or rebuilt from JSON in a fresh session loads the
            estimators itself: ``import evalkit`` suffices.)

        References
        ----------
        Bell, R. M. & McCaffrey, D. F. (2002). Bias reduction in standard errors for linear
        regression with multi-stage samples. *Survey Methodology* 28(2), 169-181.
        Roodman, D., MacKinnon, J. G., Nielsen, M. O. & Webb, M. D. (2019). Fast and wild:
        bootstrap inference in Stata using boottest. *Stata Journal* 19(1), 4-60.
        MacKinnon, J. G. & Webb, M. D. (2018). The wild bootstrap for few (treated) clusters.
        *Econometrics Journal* 21(2), 114-135.

        Examples
        --------
        >>> import evalkit as ek
        >>> from evalkit.data.synthetic import staggered_panel
        >>> panel = staggered_panel(seed=1, n_clusters=12)
        >>> res = ek.twfe(panel, outcome="y", unit="unit", time="time", treatment="treat", cluster="cluster")
        >>> wild = res.with_inference("wild", panel, seed=1, draws=999)
        """
        if not _POSTFIT:
            _load_postfit()
        return _POSTFIT[0](self, method, data, options)

    # ------------------------------------------------------------------ access
    @checked
    def tidy(self) -> pd.DataFrame:
        """Return a copy of the tidy table (changing it leaves the result intact).

        Returns
        -------
        pandas.DataFrame
            One row per term with the columns of :data:`TABLE_COLUMNS`.
        """
        return self.table.copy(deep=True)

    @checked
    def estimate(self, term: str = "ATT") -> float:
        """Return the point estimate of one term.

        Parameters
        ----------
        term : str, default "ATT"
            Name of the term (the ``term`` column of :meth:`tidy`), e.g. "ATT", "e=0",
            "ATT(g=2004,t=2005)".

        Returns
        -------
        float
            The estimate.

        Raises
        ------
        ParameterError
            A term that is not in the result (the terms are listed).
        """
        hit = self.table.loc[self.table["term"] == term, "estimate"]
        if hit.empty:
            raise ParameterError(
                f"term={term!r} is not in this result; terms are {self.table['term'].tolist()}."
            )
        return float(hit.iloc[0])

    # --------------------------------------------------------------- rendering
    def _header(self, lang: str = "en") -> list[tuple[str, str]]:
        from evalkit.results._compare_labels import estimator_label

        inf, words = self.inference, SUMMARY_WORDS[lang]
        clusters = f"{inf.n_clusters} ({inf.cluster})" if inf.cluster else words["none"]
        n_obs = localize_numbers(f"{self.n_obs:,}", lang)
        if seal.in_report_run():  # person-level counts below the threshold are not shown
            unit, min_cell = self.meta.get("unit"), seal.run_min_cell()
            if inf.cluster:
                clusters = f"{shown_count(inf.n_clusters, inf.cluster, min_cell)} ({inf.cluster})"
            n_obs = shown_count(self.n_obs, unit, min_cell, seal.run_round_base())
        dist = f"t({inf.df:g})" if inf.df is not None else words["normal"]
        level = localize_numbers(f"{100 * (1 - self.alpha):g}", lang)
        rows = [
            (words["estimator"], self.estimator if lang == "en" else estimator_label(self, lang)),
            ("Estimand", self.estimand),
            (words["outcome"], _outcome_line(self.outcome, lang)),
            ("N", n_obs),
            (words["clusters"], clusters),
            # an estimator whose reference distribution is not a t or normal (e.g. Conley-Taber's
            # estimated error distribution) describes it in diagnostics["inference_label"]
            (words["inference"], str(self.diagnostics.get("inference_label") or f"{inf.method}, {dist}")),
            ("alpha", localize_numbers(f"{self.alpha:g}", lang) + " " + words["intervals"].format(level=level)),
        ]
        weights, kind = (self.meta or {}).get("weights"), (self.meta or {}).get("weights_type")
        if weights is not None:  # "weighted by residents": the weighting of the fit (core.weighting.meta)
            rows.insert(4, (words["weights"], f"{weights}" + (f" ({kind} {words['weights_of']})" if kind else "")))
        return rows

    def _display_table(self) -> pd.DataFrame:
        """The shown table; in a report run, rows on fewer than ``min_cell`` treated persons are blanked."""
        table = self._shown_table()
        cols = ["term", "estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high"]
        for extra in ("event_time", "n_treated", "n_control"):
            if table[extra].notna().any():
                cols.append(extra)
        return table[cols]

    def _p_floored(self, table: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
        """``table`` with a resampling p-value of exactly 0 (wild bootstrap, randomization: no draw
        as extreme) shown as "< 1/(B+1)" from the inference's draws (:func:`evalkit.i18n.format_p`),
        as :func:`evalkit.compare` shows it; "0" would claim certainty that B draws cannot give."""
        draws = getattr(self.inference, "draws", None)
        zero = table["p_value"].eq(0).fillna(False).to_numpy(bool) if draws else None
        if zero is None or not zero.any():
            return table
        shown = table["p_value"].astype(object)
        shown[zero] = format_p(0.0, lang, draws=int(draws))
        return table.assign(p_value=shown)

    def _shown_table(self) -> pd.DataFrame:
        """The tidy table as displayed and plotted: in a report run, rows resting on fewer than
        ``min_cell`` treated or comparison units are blanked unless the units are areas."""
        if not seal.in_report_run():
            return self.table
        thin = thin_person_rows(self.table, self.meta.get("unit"), seal.run_min_cell(), strict=True)
        return blank_rows(self.table, thin)

    @checked
    def summary(self, lang: str = "en") -> str:
        """Return a plain-text summary: header lines (estimator, estimand, N, clusters, inference), then the table.

        Parameters
        ----------
        lang : {"en", "da"}, default "en"
            Language of the header words, column names and term labels; Danish numbers have the
            decimal comma ("0,0123") and the thousands point ("12.480").

        Returns
        -------
        str
            The summary (``print(result)`` shows the English one). In a report run, person
            counts below the disclosure threshold are not shown.

        Raises
        ------
        ParameterError
            An unknown ``lang``.
        """
        check_choice("lang", lang, LANGS)
        head = "\n".join(f"{k:<10} {v}" for k, v in self._header(lang))
        shown = self._display_table()
        if lang == "da":  # p-values as Danish tables show them ("< 0,001", "0,0203"), not "4,04e-21"
            draws = getattr(self.inference, "draws", None)
            shown = shown.assign(p_value=[format_p(p, lang, digits=4, draws=draws) if pd.notna(p) else ""
                                          for p in shown["p_value"]])
        body = _in_language(self._p_floored(shown, lang), lang)
        number = _fmt if lang == "en" else (lambda x: _fmt(x).replace(".", ","))
        return seal.note_lines(f"{head}\n\n{body.to_string(index=False, float_format=number, na_rep='')}")

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        head = "".join(f"<tr><th style='text-align:left'>{k}</th><td>{_esc(v)}</td></tr>" for k, v in self._header())
        body = self._p_floored(self._display_table()).to_html(index=False, float_format=_fmt, na_rep="", border=0,
                                                              classes="evalkit-table")
        return f"<div class='evalkit-result'><table>{head}</table>{body}</div>"

    def _repr_mimebundle_(self, include=None, exclude=None):
        """HTML and text, sealed for the report runner (:mod:`evalkit.seal`)."""
        data = {"text/html": self._repr_html_(), "text/plain": self.summary()}
        return data, seal.seal(data, "result")

    @checked
    def plot(self, ax=None, *, lang: str = "en", truth=None, title: str | None = None, pp: bool = False):
        """Plot the estimates with confidence intervals.

        Event studies give an event-study plot (estimates by event time, pre, post and
        reference styled apart), other results a coefficient plot. A :func:`~evalkit.synth`
        result gives the synthetic-control figure of :func:`~evalkit.synth_plot`: the treated
        unit(s) and the synthetic control over all periods, pre-period fit included (with
        ``truth``, the gap and the simulated truth). The figure displays in a notebook when it
        is a cell's last value.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; None creates a new figure.
        lang : {"en", "da"}, default "en"
            Language of axis labels and legend.
        truth : mapping or pandas.Series, optional
            Event time -> true effect, drawn as the simulated truth (event-study results, and
            synth results, whose figure then shows the gap).
        title : str, optional
            Title of the axes.
        pp : bool, default False
            Show the effects of a share (an outcome between 0 and 1) in percentage points:
            estimates, intervals, bands and ``truth`` x 100, and the axis says so. Effect plots
            only; the synthetic-control figure shows the outcome's own levels.

        Returns
        -------
        matplotlib.figure.Figure
            The figure drawn on.

        Raises
        ------
        ParameterError
            An unknown ``lang``, an ``ax`` that is not a matplotlib Axes, or ``truth`` for a
            result without event times.

        Examples
        --------
        >>> import evalkit as ek
        >>> from evalkit.data.synthetic import staggered_panel
        >>> es = ek.event_study(staggered_panel(seed=1, cohorts={0: 0.5, 7: 0.5}), outcome="y", unit="unit",
        ...                     time="time", cohort="cohort", leads=3, lags=3)
        >>> fig = es.plot(lang="da", title="Event study")
        """
        from evalkit.results.plot import plot_result

        check_bool("pp", pp)
        shown = self._shown_table()
        # an estimator's own figure (synth: its paths), unless a report run blanked thin rows of its table
        blanked = shown["estimate"].isna().sum() > self.table["estimate"].isna().sum()
        own = _PLOTTERS.get(self.estimator)
        fig = own(self, lang=lang, ax=ax, truth=truth, title=title) if own is not None and not blanked else None
        if fig is not None:
            return fig
        return plot_result(shown.copy(), ax=ax, lang=lang, truth=truth, title=title,
                           alpha=self.alpha, outcome=self.outcome, pp=pp)

    # ------------------------------------------------------------ serialising
    @checked
    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary (NaN and NA become None).

        The influence functions are not included.

        Returns
        -------
        dict
            Keys estimator, estimand, table (list of records), vcov, alpha, inference, n_obs,
            outcome, diagnostics, meta; :meth:`from_dict` rebuilds the result.
        """
        table = self.table.astype(object).where(self.table.notna(), None)
        vcov = None
        if self.vcov is not None:
            vcov = {"terms": [str(t) for t in self.vcov.index],
                    "values": [[_jsonable(v) for v in row] for row in self.vcov.to_numpy()]}
        return {
            "estimator": self.estimator, "estimand": self.estimand,
            "table": [{k: _jsonable(v) for k, v in row.items()} for row in table.to_dict("records")],
            "vcov": vcov, "alpha": self.alpha,
            "inference": {k: _jsonable(getattr(self.inference, k)) for k in InferenceInfo.__slots__},
            "n_obs": self.n_obs, "outcome": self.outcome,
            "diagnostics": _jsonable(dict(self.diagnostics)), "meta": _jsonable(dict(self.meta)),
        }

    @checked
    def to_json(self, *, indent: int | None = None) -> str:
        """Serialise to strict JSON text (see :meth:`from_json`).

        NaN and NA are written as null, infinite values as the strings "Infinity" /
        "-Infinity", which :meth:`from_json` reads back. The influence functions are not included.

        Parameters
        ----------
        indent : int, optional
            Spaces per nesting level; None: one line.

        Returns
        -------
        str
            The JSON text.
        """
        return json.dumps(self.to_dict(), allow_nan=False, indent=indent)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Result:
        """Rebuild a result from :meth:`to_dict` output.

        Parameters
        ----------
        d : mapping
            The dictionary written by :meth:`to_dict`.

        Returns
        -------
        Result
            The result (without influence functions).
        """
        vcov = None
        if d.get("vcov") is not None:
            terms = d["vcov"]["terms"]
            values = np.array(d["vcov"]["values"], dtype=float)
            vcov = pd.DataFrame(values, index=terms, columns=terms)
        table = pd.DataFrame(d["table"], columns=list(TABLE_COLUMNS))
        return cls(
            estimator=d["estimator"], estimand=d["estimand"], table=table, vcov=vcov,
            alpha=d["alpha"], inference=InferenceInfo(**d["inference"]), n_obs=d["n_obs"],
            outcome=d["outcome"], diagnostics=d.get("diagnostics", {}), meta=d.get("meta", {}),
        )

    @classmethod
    def from_json(cls, text: str) -> Result:
        """Rebuild a result from :meth:`to_json` output.

        Parameters
        ----------
        text : str
            The JSON text written by :meth:`to_json`.

        Returns
        -------
        Result
            The result (without influence functions).

        Raises
        ------
        ParameterError
            Text that is not JSON or not a serialised result.
        """
        try:
            d = json.loads(text)
        except (TypeError, ValueError) as err:
            raise ParameterError(f"from_json needs the text written by Result.to_json: {err}.") from None
        missing = [k for k in ("estimator", "estimand", "table", "alpha", "inference", "n_obs", "outcome")
                   if not isinstance(d, dict) or k not in d]
        if missing:
            raise ParameterError(f"from_json needs the text written by Result.to_json; it lacks {missing}.")
        return cls.from_dict(d)


def _rebuild(fields: dict) -> "Result":
    return Result(**fields)


def _frozen_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Make every block of ``frame`` (a private copy) read-only."""
    for block in frame._mgr.blocks:
        values = getattr(block.values, "_ndarray", block.values)  # extension arrays keep an ndarray inside
        values = getattr(values, "sp_values", values)  # sparse columns: their stored values
        if isinstance(values, np.ndarray):
            values.flags.writeable = False
    return frame


def _handout(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of a stored frame: shallow under copy-on-write (pandas >= 3), which is enough, else deep."""
    return frame.copy(deep=not _COPY_ON_WRITE)


def _freeze(value: Any) -> Any:
    """Deeply read-only version of a diagnostics / meta value."""
    if isinstance(value, Mapping):
        return FrozenDict({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return FrozenList(_freeze(v) for v in value)
    if isinstance(value, tuple):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return frozenset(value)
    if isinstance(value, np.ndarray):
        out = value.copy()
        out.flags.writeable = False
        return out
    if isinstance(value, (pd.DataFrame, pd.Series)):
        return _frozen_frame(value.copy(deep=True)) if isinstance(value, pd.DataFrame) else _frozen_series(value)
    return value


class FrozenDict(dict):
    """A dict that cannot change (still a dict: ``json.dumps`` and ``dict(...)`` work on it)."""

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("this mapping belongs to an immutable Result and cannot be changed; copy it with dict(...)")

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __hash__(self) -> int:  # type: ignore[override]
        return id(self)

    def __reduce__(self):
        return FrozenDict, (dict(self),)


class FrozenList(list):
    """A list that cannot change (diagnostics stay usable as lists, e.g. in ``frame.loc[cells]``)."""

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("this list belongs to an immutable Result and cannot be changed; copy it with list(...)")

    append = extend = insert = pop = remove = clear = sort = reverse = _refuse
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(self))

    def __reduce__(self):
        return FrozenList, (list(self),)


def _frozen_series(series: pd.Series) -> pd.Series:
    out = series.copy(deep=True)
    values = getattr(out.values, "_ndarray", out.values)
    if isinstance(values, np.ndarray):
        values.flags.writeable = False
    return out


def immutable_value(cls: type) -> type:
    """Class decorator for the frozen dataclasses that hold results besides :class:`Result`
    (sensitivity tables, matches, lists): every field is frozen deeply at construction
    (:func:`_freeze`), and a DataFrame, Series or array field is handed out as a copy on each
    access, so ``obj.table.loc[0, "lb"] = 99`` changes the copy, never the object."""
    init = cls.__init__

    @functools.wraps(init)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        for name in cls.__dataclass_fields__:
            object.__setattr__(self, name, _freeze(object.__getattribute__(self, name)))

    def __getattribute__(self, name: str) -> Any:
        value = object.__getattribute__(self, name)
        if isinstance(value, pd.DataFrame):
            return _handout(value)
        if isinstance(value, (pd.Series, np.ndarray)):
            return value.copy()
        return value

    cls.__init__ = __init__
    cls.__getattribute__ = __getattribute__
    return cls


def _thaw(value: Any) -> Any:
    """Plain dicts and lists again (for :meth:`Result.replace`, which freezes them anew)."""
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, FrozenList):
        return [_thaw(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_thaw(v) for v in value)
    return value


def _outcome_line(outcome: str, lang: str) -> str:
    """The outcome in the summary: its label in ``lang`` and the column ("Beskæftigelsesandel (18-64 år,
    fuldtidspersoner) [employment_rate]") for a column evalkit's label map knows; else the column."""
    shown = label(outcome, lang)
    return outcome if lang == "en" or shown == outcome else f"{shown} [{outcome}]"


def _in_language(table: pd.DataFrame, lang: str) -> pd.DataFrame:
    """``table`` with column names and term labels in ``lang`` (:mod:`evalkit.i18n`); unchanged in English."""
    if lang == "en":
        return table
    from evalkit.results._compare_labels import term_label

    shown = table.assign(term=[term_label(str(t), lang) for t in table["term"]])
    return shown.rename(columns={c: label(c, lang) for c in shown.columns})


def _fmt(x: float) -> str:
    return f"{x:.4g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.2e}"


def _esc(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _jsonable(v: Any) -> Any:
    """Convert numpy/pandas scalars and containers to plain JSON types."""
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (set, frozenset)):
        return sorted(_jsonable(x) for x in v)
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_jsonable(x) for x in v]
    if v is None or v is pd.NA:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        if math.isnan(v):
            return None
        # strict JSON has no Infinity; the string reads back as a float (float("Infinity"))
        return float(v) if math.isfinite(v) else ("Infinity" if v > 0 else "-Infinity")
    return v
