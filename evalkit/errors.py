"""The one error hierarchy of evalkit.

Every exception evalkit raises on bad input derives from :class:`EvalkitError`,
so callers (notebooks, scheduled runs) can catch one type. Messages name the
offending column or parameter and list what is allowed.
"""
from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Iterable


class EvalkitError(Exception):
    """Base class of every evalkit error."""


class ValidationError(EvalkitError, ValueError):
    """Input data does not satisfy what an estimator or builder requires."""


class ColumnError(ValidationError, KeyError):
    """A required column is missing or has the wrong type."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class ParameterError(EvalkitError, ValueError):
    """A function or report parameter has an unknown name or impossible value."""


class EvalkitWarning(UserWarning):
    """Warning category for evalkit (e.g. rows with missing outcomes dropped)."""


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def stack_level() -> int:
    """The ``stacklevel`` that makes a warning name the first frame outside evalkit: the user's line.

    Use as ``warnings.warn(message, EvalkitWarning, stacklevel=stack_level())`` in any evalkit
    function, however deep (public functions are wrapped by :mod:`evalkit.core.aliases`, so a fixed
    level named the wrapper's file). Walks the stack as pandas' ``find_stack_level`` does; when every
    frame is evalkit's (its own CLI), the outermost one."""
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level


def closest(name: str, options: Iterable[str]) -> str:
    """Return ' Did you mean 'x'?' for the closest option, or an empty string."""
    match = difflib.get_close_matches(str(name), [str(o) for o in options], n=1, cutoff=0.6)
    return f" Did you mean {match[0]!r}?" if match else ""


def check_choice(param: str, value: object, allowed: Iterable[object]) -> None:
    """Raise :class:`ParameterError` unless ``value`` is one of ``allowed``."""
    allowed = list(allowed)
    if value not in allowed:
        raise ParameterError(
            f"{param}={value!r} is not allowed; choose one of {allowed}."
            + closest(str(value), [str(a) for a in allowed])
        )
