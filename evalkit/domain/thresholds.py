"""List criteria by regime, read from ``criteria_thresholds_by_regime.csv``.

The packaged copy (``evalkit/domain/data/``) is the file of ``shared/data`` with its
``source`` column: each row cites the law (almenboligloven §§ 61 a, 61 b) or the press
and ministry pages it comes from. A researcher may pass an own file in the same layout.
The free-text columns are parsed into numbers here, in pure functions:

* ``threshold``: ``0.40``; ``270 per 10000 (=0.027)``; ``3 x national average`` (a multiple
  of the national reference); ``see 2018 rows`` (2021 reuses the 2018 K1-K4 rows);
* ``averaging``: ``mean of latest N years`` or ``point-in-time`` (1 year);
* ``rule_combination``: ``>=1000 residents`` (the floor), ``>=k of {K1..K4}`` (counted
  criteria; the others of the list are gates that must all hold), ``udsat AND ...``
  (requires the udsat list of the same regime), ``latest N lists`` (duration lists).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from evalkit.core.checks import check_year, checked_init
from evalkit.errors import ParameterError, ValidationError
from evalkit.core.aliases import checked

REGIMES = ("2010", "2013", "2018", "2021")
LIST_TYPES = ("ghettoomraade", "udsat_boligomraade", "haardt_ghettoomraade", "parallelsamfund",
              "omdannelsesomraade", "forebyggelsesomraade")
INDICATOR_OF = {"no_attachment": "k1", "convicted": "k2", "basic_education": "k3", "income": "k4",
                "nonwestern": "nw"}
COMPARISONS = (">", ">=", "<", "<=")
_COLUMNS = ["regime", "valid_lists", "list_type", "criterion_id", "indicator", "population", "comparison",
            "threshold", "averaging", "rule_combination", "source"]


@checked_init
@dataclass(frozen=True)
class Criterion:
    """One threshold: ``indicator comparison threshold`` (× the national reference if relative)."""

    regime: str
    list_type: str
    criterion_id: str
    indicator: str
    comparison: str
    threshold: float
    relative_to: str | None
    window: int
    counted: bool
    source: str


@checked_init
@dataclass(frozen=True)
class ListSpec:
    """How one list of one regime is decided."""

    regime: str
    list_type: str
    kind: str  # "criteria" or "duration"
    min_count: int
    min_residents: int
    requires: str | None
    source: str


@checked_init
@dataclass(frozen=True)
class Thresholds:
    """Criteria and list specifications of every regime, with the list years each regime covers.

    Made by :func:`load_thresholds`.

    Attributes
    ----------
    criteria : tuple of Criterion
        Every criterion (regime, indicator, threshold, averaging window, ...).
    lists : tuple of ListSpec
        How each list type is decided from the criteria, per regime.
    valid_years : dict
        Regime -> (first, last) list year it covers.
    """

    criteria: tuple[Criterion, ...]
    lists: tuple[ListSpec, ...]
    valid_years: dict

    def regime_of(self, list_year: int) -> str:
        """The regime whose list years cover ``list_year``.

        Parameters
        ----------
        list_year : int
            A list year (a whole number).

        Returns
        -------
        str
            The regime ("2010", "2013", "2018" or "2021" in the packaged table).

        Raises
        ------
        ParameterError
            A year covered by no regime, or not a whole number.
        """
        list_year = check_year("list_year", list_year)
        for regime, (first, last) in self.valid_years.items():
            if first <= list_year <= last:
                return regime
        raise ParameterError(f"list year {list_year} is covered by no regime; regimes cover {self.valid_years}.")


def parse_threshold(text: str) -> tuple[float, str | None]:
    """``'0.40'`` -> (0.4, None); ``'270 per 10000 (=0.027)'`` -> (0.027, None); ``'3 x national average'`` -> (3.0, 'national')."""
    text = str(text).strip()
    rel = re.match(r"^([0-9.]+)\s*x\s*national", text)
    if rel:
        return float(rel.group(1)), "national"
    eq = re.search(r"\(=\s*([0-9.]+)\)", text)
    if eq:
        return float(eq.group(1)), None
    lead = re.match(r"^([0-9]*\.?[0-9]+)", text)
    if lead:
        return float(lead.group(1)), None
    raise ValidationError(f"cannot read the threshold {text!r}; write a number, '(=0.027)' or 'N x national average'.")


def parse_window(text: str) -> int:
    """``'mean of latest 4 years'`` -> 4; ``'point-in-time'`` -> 1."""
    match = re.search(r"latest\s+(\d+)\s+years?", str(text))
    return int(match.group(1)) if match else 1


def counted_ids(rule: str) -> tuple[list[str], int]:
    """``'>=3 of {C1..C5}'`` -> (['C1', ..., 'C5'], 3); ``'>=2 of {C1,C2,C3}'`` likewise; none -> ([], 0)."""
    match = re.search(r">=\s*(\d+)\s*of\s*\{([^}]*)\}", str(rule))
    if not match:
        return [], 0
    inside = match.group(2).replace(" ", "")
    span = re.fullmatch(r"([A-Z]+)(\d+)\.\.[A-Z]*(\d+)", inside)
    if span:
        prefix, lo, hi = span.group(1), int(span.group(2)), int(span.group(3))
        return [f"{prefix}{i}" for i in range(lo, hi + 1)], int(match.group(1))
    return inside.split(","), int(match.group(1))


def _valid_years(text: str) -> tuple[int, int]:
    first, _, last = str(text).partition("-")
    try:
        return int(first), int(last) if last.strip() else 9999
    except ValueError:
        raise ValidationError(f"valid_lists={text!r} must be a year range such as '2018-2020' or '2021-'.") from None


def _criteria_of(row: pd.Series, copied_from: list[Criterion]) -> list[Criterion]:
    counted, _ = counted_ids(row["rule_combination"])
    if str(row["threshold"]).startswith("see "):  # "K1..K4: see 2018 rows"
        return [Criterion(row["regime"], row["list_type"], c.criterion_id, c.indicator, c.comparison, c.threshold,
                          c.relative_to, c.window, c.counted, row["source"]) for c in copied_from]
    suffix = row["criterion_id"].split("_", 1)[-1]
    if suffix not in INDICATOR_OF:
        raise ValidationError(f"criterion {row['criterion_id']!r}: unknown indicator {suffix!r}; "
                              f"criterion ids end in one of {sorted(INDICATOR_OF)}.")
    if row["comparison"] not in COMPARISONS:
        raise ValidationError(f"criterion {row['criterion_id']!r}: comparison {row['comparison']!r} not in {COMPARISONS}.")
    value, relative = parse_threshold(row["threshold"])
    prefix = row["criterion_id"].split("_", 1)[0]
    return [Criterion(row["regime"], row["list_type"], row["criterion_id"], INDICATOR_OF[suffix], row["comparison"],
                      value, relative, parse_window(row["averaging"]), prefix in counted, row["source"])]


def _spec_of(row: pd.Series) -> ListSpec:
    rule = str(row["rule_combination"])
    floor = re.search(r">=\s*(\d+)\s*residents", rule)
    kind = "duration" if row["criterion_id"].endswith("_duration") else "criteria"
    requires = "udsat_boligomraade" if rule.startswith("udsat AND") else None
    return ListSpec(row["regime"], row["list_type"], kind, counted_ids(rule)[1],
                    int(floor.group(1)) if floor else 0, requires, row["source"])


def parse_thresholds(table: pd.DataFrame) -> Thresholds:
    """Pure: the CSV rows -> :class:`Thresholds` (rows of other list types, e.g. R40, are not list criteria)."""
    missing = [c for c in _COLUMNS if c not in table.columns]
    if missing:
        raise ValidationError(f"thresholds file lacks column(s) {missing}; expected {_COLUMNS}.")
    rows = table.astype({"regime": str}).loc[lambda t: t["list_type"].isin(LIST_TYPES)]
    criteria: list[Criterion] = []
    specs: dict[tuple[str, str], ListSpec] = {}
    valid: dict[str, tuple[int, int]] = {}
    for _, row in rows.iterrows():
        valid.setdefault(row["regime"], _valid_years(row["valid_lists"]))
        specs.setdefault((row["regime"], row["list_type"]), _spec_of(row))
        if specs[(row["regime"], row["list_type"])].kind == "duration":
            continue
        earlier = [c for c in criteria if c.list_type == row["list_type"] and c.regime == "2018"]
        criteria.extend(_criteria_of(row, earlier))
    return Thresholds(tuple(criteria), tuple(specs.values()), valid)


@checked
def load_thresholds(path: str | Path | None = None) -> Thresholds:
    """The list criteria's thresholds by regime: the packaged table or a researcher's own CSV.

    Parameters
    ----------
    path : str or pathlib.Path, optional
        A CSV in the layout of the packaged ``criteria_thresholds_by_regime.csv`` (e.g. to
        test a proposed threshold); None: the packaged thresholds of the 2010, 2013, 2018 and
        2021 regimes.

    Returns
    -------
    Thresholds
        Criteria, list specifications and the list years each regime covers; pass to
        :func:`compute_lists`.

    Raises
    ------
    ParameterError
        A path that is not a str/Path, does not exist, is not a file or cannot be read as CSV.
    ValidationError
        A row that cannot be read (e.g. an unreadable threshold).
    """
    if path is None:
        with resources.files("evalkit.domain").joinpath("data/criteria_thresholds_by_regime.csv").open("rb") as fh:
            return parse_thresholds(pd.read_csv(fh, dtype={"regime": str, "threshold": str}))
    if not isinstance(path, (str, Path)) or not str(path):
        raise ParameterError(f"thresholds={path!r} must be a CSV file path (str or Path) or None.")
    path = Path(path)
    if not path.exists():
        raise ParameterError(f"thresholds={str(path)!r} does not exist.")
    if not path.is_file():
        raise ParameterError(f"thresholds={str(path)!r} is not a file (a CSV in the layout of the packaged "
                             "criteria_thresholds_by_regime.csv).")
    try:
        table = pd.read_csv(path, dtype={"regime": str, "threshold": str})
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ParameterError(f"thresholds={str(path)!r} cannot be read as CSV ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else 'empty'}).") from None
    try:
        return parse_thresholds(table)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        if isinstance(exc, (ParameterError, ValidationError)):
            raise
        raise ValidationError(f"thresholds={str(path)!r}: a row cannot be read ({type(exc).__name__}: {exc}); "
                              "follow the layout of the packaged criteria_thresholds_by_regime.csv.") from None
