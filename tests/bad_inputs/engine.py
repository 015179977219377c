"""Run one catalogue case in-process and class its outcome.

Classes (the first two pass):

* ``clear error`` - an :class:`~evalkit.errors.EvalkitError` (or, for a misspelled keyword of a
  function with an explicit signature, Python's ``TypeError`` naming it) whose message names
  the offending parameter or column; for an "error" case.
* ``correct answer`` - finite, sensible numbers; equal to the clean input's numbers where that is
  the truth; with the required :class:`~evalkit.errors.EvalkitWarning`; for an "ok" case (or an
  "error" case that allows a documented warning instead).
* ``raw exception`` - any other exception (numpy, pandas, Python ...), or a timeout.
* ``silent`` - NaN, inf or wrong numbers, or bad input accepted without an error or warning.
* ``mutated`` - the caller's data changed (compared with a deep copy taken before the call).
* ``unhelpful error`` - an evalkit error that does not name the parameter or column.
* ``refused`` - an evalkit error for a valid input.
"""
from __future__ import annotations

import copy
import math
import signal
import time
import warnings
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evalkit.errors import EvalkitError, EvalkitWarning

CLASSES = ("clear error", "correct answer", "raw exception", "silent", "mutated", "unhelpful error", "refused")
PASSING = ("clear error", "correct answer")
TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Case:
    """One bad or awkward input.

    entry : the public entry point exercised ("twfe", "Result.with_inference", ...).
    name : what is wrong with the input (unique within the entry point).
    expect : "error" or "ok".
    run : ``run(data)`` calls the entry point.
    data : builds the (fresh) input handed to ``run``; the check for mutation compares it.
    names : for "error": every item must occur in the message (case-insensitive); an item
        "a|b" is satisfied by either alternative.
    same_as : for "ok": ``same_as()`` returns the result the case must reproduce (the truth).
    terms : compare only these terms with ``same_as`` (None: every term of ``same_as``).
    rtol : relative tolerance of that comparison.
    scale : the truth's estimates and standard errors are ``scale`` times those of ``same_as``.
    warns : for "ok": an EvalkitWarning is required (e.g. rows dropped).
    or_warning : for "error": a finite result with an EvalkitWarning also passes.
    depends : the item (a-f of issue 12) owned by another engineer that the case waits on.
    """

    entry: str
    name: str
    expect: str
    run: Callable[[Any], Any]
    data: Callable[[], Any]
    names: tuple[str, ...] = ()
    same_as: Callable[[], Any] | None = None
    terms: tuple[str, ...] | None = None
    warns: bool = False
    or_warning: bool = False
    depends: str | None = None
    by_position: bool = False
    rtol: float = 1e-7
    scale: float = 1.0
    note: str = ""

    @property
    def id(self) -> str:
        return f"{self.entry}: {self.name}"


@dataclass
class Outcome:
    case: Case
    cls: str
    detail: str = ""
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.cls in PASSING


class _Timeout(Exception):
    pass


@contextmanager
def _time_limit(seconds: float):
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def handler(signum, frame):
        raise _Timeout(f"no answer within {seconds:g} s")
    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_case(case: Case) -> Outcome:
    """Run ``case`` and class its outcome."""
    start = time.perf_counter()
    out = _run(case)
    out.seconds = time.perf_counter() - start
    return out


def _run(case: Case) -> Outcome:
    data = case.data()
    before = copy.deepcopy(data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with _time_limit(TIMEOUT_S):
                result = case.run(data)
            error = None
        except Exception as err:  # noqa: BLE001 - classing every exception is the point
            result, error = None, err
    ek_warnings = [str(w.message) for w in caught if issubclass(w.category, EvalkitWarning)]
    if not _same(before, data):
        return Outcome(case, "mutated", "the caller's data changed", ek_warnings)
    if error is not None:
        return _class_error(case, error, ek_warnings)
    return _class_result(case, result, ek_warnings)


def _class_error(case: Case, err: Exception, ek_warnings: list[str]) -> Outcome:
    msg = f"{type(err).__name__}: {err}"
    if isinstance(err, _Timeout):
        return Outcome(case, "raw exception", f"timeout: {err}", ek_warnings)
    evalkit = isinstance(err, EvalkitError)
    keyword = isinstance(err, TypeError) and "keyword argument" in str(err)
    if not (evalkit or keyword):
        return Outcome(case, "raw exception", msg, ek_warnings)
    if case.expect == "ok":
        return Outcome(case, "refused", msg, ek_warnings)
    if not _names_ok(case.names, str(err)):
        return Outcome(case, "unhelpful error", f"{msg}  [should name {list(case.names)}]", ek_warnings)
    return Outcome(case, "clear error", msg, ek_warnings)


def _names_ok(names: tuple[str, ...], message: str) -> bool:
    text = message.lower()
    return all(any(alt.lower() in text for alt in item.split("|")) for item in names)


def _class_result(case: Case, result: Any, ek_warnings: list[str]) -> Outcome:
    bad = nonfinite(result)
    if case.expect == "error":
        if case.or_warning and ek_warnings and not bad and _names_ok(case.names, " ".join(ek_warnings)):
            return Outcome(case, "correct answer", "documented warning: " + ek_warnings[0][:200], ek_warnings)
        why = "accepted without an error" + (f" (warned: {ek_warnings[0][:120]})" if ek_warnings else "")
        return Outcome(case, "silent", why + (f"; {bad}" if bad else ""), ek_warnings)
    if bad:
        return Outcome(case, "silent", bad, ek_warnings)
    if case.warns and not ek_warnings:
        return Outcome(case, "silent", "no EvalkitWarning although the input was changed (e.g. rows dropped)",
                       ek_warnings)
    if case.same_as is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            truth = case.same_as()
        diff = compare(result, truth, case.terms, rtol=case.rtol, by_position=case.by_position, scale=case.scale)
        if diff:
            return Outcome(case, "silent", f"numbers differ from the truth: {diff}", ek_warnings)
    return Outcome(case, "correct answer", "", ek_warnings)


# ----------------------------------------------------------------- numbers
def numbers(result: Any) -> dict[str, np.ndarray]:
    """The numbers of a result by kind: estimates, standard errors, p-values, bounds."""
    from evalkit.results import Result

    if isinstance(result, Result):
        tab = result.table[~result.table["reference"]]
        return {"estimate": tab["estimate"].to_numpy(float), "std_error": tab["std_error"].to_numpy(float),
                "p_value": tab["p_value"].to_numpy(float), "conf_low": tab["conf_low"].to_numpy(float),
                "conf_high": tab["conf_high"].to_numpy(float)}
    if hasattr(result, "table") and isinstance(result.table, pd.DataFrame):  # SensitivityResult
        t = result.table
        return {"estimate": np.array([result.estimate]), "std_error": np.array([result.std_error]),
                "lb": t["lb"].to_numpy(float), "ub": t["ub"].to_numpy(float)}
    if hasattr(result, "statistic") and hasattr(result, "p_value"):  # WaldTest, WildResult
        out = {"estimate": np.atleast_1d(np.asarray(result.statistic, float)),
               "p_value": np.atleast_1d(np.asarray(result.p_value, float))}
        return out
    if isinstance(result, np.ndarray):
        return {"estimate": result.astype(float).ravel()}
    if isinstance(result, (float, int, np.floating)):
        return {"estimate": np.array([float(result)])}
    if isinstance(result, pd.DataFrame):
        return {}
    if isinstance(result, str):
        return {}
    return {}


def nonfinite(result: Any) -> str:
    """Why the numbers of ``result`` are not sensible ('' when they are)."""
    nums = numbers(result)
    est = nums.get("estimate")
    if est is not None and not np.all(np.isfinite(est)):
        return f"non-finite estimate(s) {est[~np.isfinite(est)][:3].tolist()}"
    for key in ("std_error", "p_value", "lb", "ub"):
        arr = nums.get(key)
        if arr is None or arr.size == 0:
            continue
        if np.isinf(arr).any() and key in ("std_error", "p_value"):
            return f"infinite {key}"
        finite = np.isfinite(arr)
        if finite.any() and not finite.all() and key == "std_error":
            return f"{key} NaN on some rows only ({int((~finite).sum())} of {arr.size})"
        if key == "std_error" and finite.any() and (arr[finite] <= 0).any():
            return "zero standard error"
        if key == "p_value" and finite.any() and ((arr[finite] < 0) | (arr[finite] > 1)).any():
            return "p-value outside [0, 1]"
    return ""


def compare(result: Any, truth: Any, terms=None, rtol: float = 1e-7, atol: float = 1e-9,
            by_position: bool = False, scale: float = 1.0) -> str:
    """'' if ``result`` has the numbers of ``truth`` (by term for results, or row by row with
    ``by_position``), else a short description."""
    from evalkit.results import Result

    if isinstance(result, Result) and isinstance(truth, Result) and not by_position:
        a = result.table.set_index("term")
        b = truth.table.set_index("term")
        keep = list(terms) if terms is not None else list(b.index)
        missing = [t for t in keep if t not in a.index]
        if missing:
            return f"terms {missing[:4]} missing (has {list(a.index)[:6]})"
        for col in ("estimate", "std_error"):
            x, y = a.loc[keep, col].to_numpy(float), b.loc[keep, col].to_numpy(float) * scale
            if not np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=True):
                k = int(np.argmax(~np.isclose(x, y, rtol=rtol, atol=atol, equal_nan=True)))
                return f"{col} of {keep[k]!r}: {x[k]:.10g} vs {y[k]:.10g}"
        return ""
    na, nb = numbers(result), numbers(truth)
    for key, y in nb.items():
        y = y * scale if key in ("estimate", "std_error", "conf_low", "conf_high", "lb", "ub") else y
        x = na.get(key)
        if x is None or x.shape != y.shape or not np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=True):
            return f"{key}: {None if x is None else x[:4].tolist()} vs {y[:4].tolist()}"
    return ""


# ----------------------------------------------------------------- mutation
def _same(a: Any, b: Any) -> bool:
    if isinstance(a, pd.DataFrame):
        if not isinstance(b, pd.DataFrame):
            return False
        try:
            pd.testing.assert_frame_equal(a, b, check_exact=True, check_flags=True, check_freq=True)
            return a.attrs == b.attrs
        except AssertionError:
            return False
    if isinstance(a, pd.Series):
        try:
            pd.testing.assert_series_equal(a, b, check_exact=True)
            return True
        except AssertionError:
            return False
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and bool(
            np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, Mapping):
        return isinstance(b, Mapping) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001
        return a is b
