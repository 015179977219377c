"""Deprecated keyword names, kept working with a warning (one vocabulary across evalkit).

The conventions (README "Conventions"): ``draws`` is the number of resampling draws of every
bootstrap, placebo and randomization method (formerly ``B``, ``n_boot``, ``n_reps``);
``control_group`` names the comparison group of every staggered estimator; ``cohort`` /
``treatment`` name the treatment timing in every estimator that takes it.
"""
from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from evalkit.errors import stack_level, ParameterError, closest

F = TypeVar("F", bound=Callable[..., Any])


def renamed(**old_to_new: str) -> Callable[[F], F]:
    """Check a public function's keywords: a misspelled one names the closest valid one
    (:class:`ParameterError`; Python's own ``TypeError`` names no alternative), and ``old=``
    keywords are accepted as their new names with a :class:`FutureWarning`.

    Passing both the old and the new name is a :class:`ParameterError`.
    """
    def decorate(func: F) -> F:
        params = inspect.signature(func).parameters
        names = [n for n, p in params.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and n != "self"]
        open_ended = any(p.kind is p.VAR_KEYWORD for p in params.values())
        required_kw = [n for n, p in params.items() if p.kind is p.KEYWORD_ONLY and p.default is p.empty]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise ParameterError(f"{func.__name__}: pass {new}= only ({old}= is its deprecated name).")
                    warnings.warn(f"{func.__name__}: {old}= is deprecated and will be removed; use {new}=.",
                                  FutureWarning, stacklevel=stack_level())
                    kwargs[new] = kwargs.pop(old)
            if not open_ended:
                unknown = [k for k in kwargs if k not in params]
                if unknown:
                    raise ParameterError(f"{func.__name__}() has no parameter {unknown[0]}=; its parameters are "
                                         f"{names}." + closest(unknown[0], names))
            missing = [n for n in required_kw if n not in kwargs]
            if missing:
                raise ParameterError(f"{func.__name__}() needs " + ", ".join(f"{n}=" for n in missing)
                                     + f" (the column or value to use); its parameters are {names}.")
            return func(*args, **kwargs)
        return wrapper  # type: ignore[return-value]
    return decorate


def checked(func: F) -> F:
    """:func:`renamed` without renames: a misspelled keyword names the closest valid one."""
    return renamed()(func)
