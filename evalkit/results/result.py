"""The one immutable result type of evalkit.

Every estimator returns a :class:`Result`. It holds a tidy table with one row
per term and a fixed schema (:data:`TABLE_COLUMNS`), the covariance matrix of
the estimated terms, the inference metadata and free-form diagnostics.
Nothing on a result is ever modified: ``tidy()`` returns a copy and the
mappings are read-only views.
"""
from __future__ import annotations

import json
import math
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evalkit import seal
from evalkit.errors import ColumnError, ParameterError
from evalkit.privacy import blank_rows, shown_count, thin_person_rows

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


@dataclass(frozen=True, slots=True, eq=False)
class Result:
    """Immutable estimation result with one tidy table.

    Attributes
    ----------
    estimator, estimand : short names ("twfe", "ATT under parallel trends").
    table : tidy table (see :data:`TABLE_COLUMNS`); use :meth:`tidy` for a copy.
    vcov : covariance of the estimated terms (rows/columns named by term).
    alpha : level of the intervals (0.05 gives 95 % intervals).
    inference : :class:`InferenceInfo`.
    n_obs : rows used in estimation.
    outcome : name of the outcome column.
    diagnostics, meta : read-only mappings (counts, dropped rows; column names).
    influence : optional influence functions, an (n_units x n_terms) frame indexed by the
        unit (or cluster) id with one column per term, so that aggregation, clustered
        standard errors and multiplier bootstraps are functions of (estimate, influence,
        clusters) (Callaway & Sant'Anna 2021, sec. 4). Not serialised by :meth:`to_dict`
        (it is unit-level and can be large); ``None`` for estimators that do not provide it.
    """

    estimator: str
    estimand: str
    table: pd.DataFrame
    vcov: pd.DataFrame | None
    alpha: float
    inference: InferenceInfo
    n_obs: int
    outcome: str
    diagnostics: Mapping[str, Any] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)
    influence: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "table", make_table(self.table))
        if self.vcov is not None:
            object.__setattr__(self, "vcov", self.vcov.copy(deep=True))
        if self.influence is not None:
            object.__setattr__(self, "influence", self.influence.copy(deep=True))
        object.__setattr__(self, "diagnostics", types.MappingProxyType(dict(self.diagnostics)))
        object.__setattr__(self, "meta", types.MappingProxyType(dict(self.meta)))
        object.__setattr__(self, "n_obs", int(self.n_obs))
        object.__setattr__(self, "alpha", float(self.alpha))

    # --------------------------------------------------------------- inference
    def with_inference(self, method: str, data: pd.DataFrame | None = None, **options: Any) -> "Result":
        """A new result with inference by ``method`` ("cr1", "hc1", "cr2", "cr3", "wild",
        "randomization", "analytic", "multiplier", as the estimator allows); see
        :func:`evalkit.inference.choice.with_inference` for ``data`` and the options."""
        from evalkit.inference.choice import with_inference

        return with_inference(self, method, data, **options)

    # ------------------------------------------------------------------ access
    def tidy(self) -> pd.DataFrame:
        """Return a copy of the tidy table (changing it leaves the result intact)."""
        return self.table.copy(deep=True)

    def estimate(self, term: str = "ATT") -> float:
        """Return the point estimate of ``term``."""
        hit = self.table.loc[self.table["term"] == term, "estimate"]
        if hit.empty:
            raise ParameterError(
                f"term={term!r} is not in this result; terms are {self.table['term'].tolist()}."
            )
        return float(hit.iloc[0])

    # --------------------------------------------------------------- rendering
    def _header(self) -> list[tuple[str, str]]:
        inf = self.inference
        clusters = f"{inf.n_clusters} ({inf.cluster})" if inf.cluster else "none"
        n_obs = f"{self.n_obs:,}"
        if seal.in_report_run():  # person-level counts below the threshold are not shown
            unit, min_cell = self.meta.get("unit"), seal.run_min_cell()
            if inf.cluster:
                clusters = f"{shown_count(inf.n_clusters, inf.cluster, min_cell)} ({inf.cluster})"
            n_obs = shown_count(self.n_obs, unit, min_cell)
        dist = f"t({inf.df:g})" if inf.df is not None else "normal"
        return [
            ("Estimator", self.estimator),
            ("Estimand", self.estimand),
            ("Outcome", self.outcome),
            ("N", n_obs),
            ("Clusters", clusters),
            ("Inference", f"{inf.method}, {dist}"),
            ("alpha", f"{self.alpha:g} ({100 * (1 - self.alpha):g}% intervals)"),
        ]

    def _display_table(self) -> pd.DataFrame:
        """The shown table; in a report run, rows on fewer than ``min_cell`` treated persons are blanked."""
        table = self._shown_table()
        cols = ["term", "estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high"]
        for extra in ("event_time", "n_treated", "n_control"):
            if table[extra].notna().any():
                cols.append(extra)
        return table[cols]

    def _shown_table(self) -> pd.DataFrame:
        """The tidy table as displayed and plotted: in a report run, rows resting on fewer than
        ``min_cell`` treated or comparison units are blanked unless the units are areas."""
        if not seal.in_report_run():
            return self.table
        thin = thin_person_rows(self.table, self.meta.get("unit"), seal.run_min_cell(), strict=True)
        return blank_rows(self.table, thin)

    def summary(self) -> str:
        """Return a plain-text summary: header lines, then the table."""
        head = "\n".join(f"{k:<10} {v}" for k, v in self._header())
        body = self._display_table().to_string(index=False, float_format=_fmt, na_rep="")
        return seal.note_lines(f"{head}\n\n{body}")

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        head = "".join(f"<tr><th style='text-align:left'>{k}</th><td>{_esc(v)}</td></tr>" for k, v in self._header())
        body = self._display_table().to_html(index=False, float_format=_fmt, na_rep="", border=0, classes="evalkit-table")
        return f"<div class='evalkit-result'><table>{head}</table>{body}</div>"

    def _repr_mimebundle_(self, include=None, exclude=None):
        """HTML and text, sealed for the report runner (:mod:`evalkit.seal`)."""
        data = {"text/html": self._repr_html_(), "text/plain": self.summary()}
        return data, seal.seal(data, "result")

    def plot(self, ax=None, *, lang: str = "en", truth=None, title: str | None = None):
        """Plot the estimates with confidence intervals; returns the Figure.

        Event studies give an event-study plot, other results a coefficient
        plot. ``lang`` is "en" or "da"; ``truth`` (mapping or Series
        event_time -> true effect) adds the simulated truth.
        """
        from evalkit.results.plot import plot_result

        return plot_result(self._shown_table().copy(), ax=ax, lang=lang, truth=truth, title=title,
                           alpha=self.alpha, outcome=self.outcome)

    # ------------------------------------------------------------ serialising
    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary (NaN and NA become None)."""
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

    def to_json(self, **kwargs: Any) -> str:
        """Serialise to strict JSON text (see :meth:`from_json`): NaN and NA as null, infinite
        values as the strings "Infinity" / "-Infinity", which :meth:`from_json` reads back."""
        return json.dumps(self.to_dict(), allow_nan=False, **kwargs)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Result:
        """Rebuild a result from :meth:`to_dict` output."""
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
        """Rebuild a result from :meth:`to_json` output."""
        return cls.from_dict(json.loads(text))


def _fmt(x: float) -> str:
    return f"{x:.4g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.2e}"


def _esc(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _jsonable(v: Any) -> Any:
    """Convert numpy/pandas scalars and containers to plain JSON types."""
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
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
