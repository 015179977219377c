"""Deprecated keyword names, kept working with a warning (one vocabulary across evalkit).

The conventions (README "Conventions"): ``draws`` is the number of resampling draws of every
bootstrap, placebo and randomization method (formerly ``B``, ``n_boot``, ``n_reps``);
``control_group`` names the comparison group of every staggered estimator; ``cohort`` /
``treatment`` name the treatment timing in every estimator that takes it.
"""
from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from evalkit.errors import ParameterError

F = TypeVar("F", bound=Callable[..., Any])


def renamed(**old_to_new: str) -> Callable[[F], F]:
    """Accept ``old=`` keywords as their new names with a :class:`FutureWarning`.

    Passing both the old and the new name is a :class:`ParameterError`.
    """
    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise ParameterError(f"{func.__name__}: pass {new}= only ({old}= is its deprecated name).")
                    warnings.warn(f"{func.__name__}: {old}= is deprecated and will be removed; use {new}=.",
                                  FutureWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)
        return wrapper  # type: ignore[return-value]
    return decorate
