"""Inference methods the advisor can calibrate, by name: one small interface, one registry.

A method is a :class:`PlaceboMethod`: ``test(batch, prepared) -> (statistic, p_value)`` for every
assignment of a :class:`Batch` (m assignments of the same design, each with its own outcome
contrasts, so an injected effect can differ by assignment), and an optional
``prepare(design, n_treated, draws, rng)`` that draws the random numbers once per design (bootstrap
weights), so every chunk of placebos reuses them; random numbers a method needs per assignment
come from ``batch.rng(tag)``, seeded by the advisor's seed and the chunk, so a seeded run is the
same on any number of workers. Register a new method (e.g. Ferman & Pinto 2019, Conley & Taber 2011)
with :func:`register`; :class:`Batch` carries the area sizes for methods that need them.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from evalkit.errors import ParameterError, closest
from evalkit.inference import _placebo_kernels as K
from evalkit.inference import _placebo_resampling as RS


@dataclass(frozen=True, slots=True)
class Batch:
    """m assignments (``treated``, m x G, 0/1) of one design with their outcome contrasts (m x G),
    their TWFE fits, whether every row has the same contrasts (no effect injected), and the seed
    entropy of the batch (:meth:`rng`)."""

    design: K.Collapsed
    treated: np.ndarray
    contrast: np.ndarray
    fits: K.Fits
    shared_outcome: bool
    seed: tuple[int, ...] = (0,)

    @classmethod
    def build(cls, design: K.Collapsed, treated: np.ndarray, contrast: np.ndarray | None = None,
              seed: tuple[int, ...] = (0,)) -> "Batch":
        treated = np.atleast_2d(np.asarray(treated, dtype=float))
        shared = contrast is None
        C = np.broadcast_to(design.contrast if shared else np.asarray(contrast, float), treated.shape)
        return cls(design, treated, C, K.fit(design, treated, C), shared, tuple(int(x) for x in seed))

    def rng(self, tag: int) -> np.random.Generator:
        """A generator for the method ``tag`` (e.g. a crc32 of its name) in this batch."""
        return np.random.default_rng([*self.seed, int(tag)])


@dataclass(frozen=True, slots=True)
class PlaceboMethod:
    """An inference method the advisor can test: ``name``, labels by language ("da", "en"),
    ``test(batch, prepared) -> (statistic (m,), p_value (m,))`` and an optional ``prepare``."""

    name: str
    labels: Mapping[str, str]
    test: Callable[[Batch, Any], tuple[np.ndarray, np.ndarray]]
    prepare: Callable[[K.Collapsed, int, int, np.random.Generator], Any] | None = None


REGISTRY: dict[str, PlaceboMethod] = {}


def register(method: PlaceboMethod, *, replace: bool = False) -> PlaceboMethod:
    """Add ``method`` to the registry (``replace=True`` to overwrite a method of that name)."""
    if not isinstance(method, PlaceboMethod):
        raise ParameterError(f"register needs a PlaceboMethod, not {type(method).__name__}.")
    if method.name in REGISTRY and not replace:
        raise ParameterError(f"an advisor method named {method.name!r} is registered already; pass replace=True.")
    if set(method.labels) != {"da", "en"}:
        raise ParameterError(f"method {method.name!r}: labels must have exactly the keys 'da' and 'en'.")
    REGISTRY[method.name] = method
    return method


def resolve(methods) -> list[PlaceboMethod]:
    """The methods named in ``methods`` (None: all registered), in registration order = the order of preference
    (ties in power go to the earlier one, whatever order the caller lists them in)."""
    if methods is None:
        return list(REGISTRY.values())
    if isinstance(methods, str):
        methods = [methods]
    if not isinstance(methods, (list, tuple)) or not methods:
        raise ParameterError(f"methods={methods!r} must be None or a non-empty list of names from {list(REGISTRY)}.")
    bad = [m for m in methods if not isinstance(m, str) or m not in REGISTRY]
    if bad:
        raise ParameterError(f"methods={bad} are not advisor methods; choose from {list(REGISTRY)}."
                             + closest(str(bad[0]), list(REGISTRY)))
    if len(set(methods)) != len(methods):
        raise ParameterError(f"methods={list(methods)} names a method twice.")
    return [method for name, method in REGISTRY.items() if name in methods]  # the order of preference


# --------------------------------------------------------------- built-ins
def _analytic(kernel):
    def test(batch: Batch, _prepared) -> tuple[np.ndarray, np.ndarray]:
        out = kernel(batch.design, batch.fits)
        return out.statistic, out.p_value
    return test


def _wild(kind: str, restricted: bool):
    def prepare(design, n_treated, draws, rng):
        return RS.boot_weights(kind, design.n_clusters, draws, rng)

    def test(batch: Batch, V) -> tuple[np.ndarray, np.ndarray]:
        t = K.cr1(batch.design, batch.fits).statistic
        return t, RS.wild_pvalues(t, RS.wild_tstats(batch.design, batch.fits, V, restricted))
    return prepare, test


def _ri_prepare(design, n_treated, draws, rng):
    return int(n_treated), int(draws)


def _ri_test(batch: Batch, prepared) -> tuple[np.ndarray, np.ndarray]:
    """Re-assignments among all areas of the design, R of them per batch (drawn from ``batch.rng``):
    the assignments of a batch share them (one matrix product), batches do not, so the measured
    size does not hinge on the 1 - alpha quantile of a single set of R draws."""
    k, R = prepared
    t = K.cr1(batch.design, batch.fits).statistic
    draws = RS.random_assignments(batch.design.n_clusters, k, R, batch.rng(0x52494E46))
    contrast = batch.contrast[:1] if batch.shared_outcome else batch.contrast
    return t, RS.permutation_pvalues(t, RS.permutation_tstats(batch.design, draws, contrast))


def _register_builtins() -> None:
    """In the order of preference when powers tie (:mod:`evalkit.inference.advisor`): randomization
    inference (exact under random assignment; Fisher 1935, MacKinnon & Webb 2020), CR2 (Bell &
    McCaffrey 2002; Imbens & Kolesar 2016), the restricted wild bootstraps (MacKinnon & Webb 2017,
    2018), the unrestricted one, CR3 and CR1 (Cameron, Gelbach & Miller 2008)."""
    register(PlaceboMethod("randomization", {"da": "Randomiseringsinferens (t)", "en": "Randomization inference (t)"},
                           _ri_test, _ri_prepare))
    register(PlaceboMethod("cr2", {"da": "CR2 (Bell-McCaffrey, IK-frihedsgrader)",
                                   "en": "CR2 (Bell-McCaffrey, IK dof)"}, _analytic(K.cr2)))
    for name, kind, restricted, da, en in (
            ("wcr_webb", "webb", True, "Restrikteret wild cluster bootstrap, Webb",
             "Restricted wild cluster bootstrap, Webb"),
            ("wcr_rademacher", "rademacher", True, "Restrikteret wild cluster bootstrap, Rademacher",
             "Restricted wild cluster bootstrap, Rademacher"),
            ("wcu", "rademacher", False, "Urestrikteret wild cluster bootstrap, Rademacher",
             "Unrestricted wild cluster bootstrap, Rademacher")):
        prepare, test = _wild(kind, restricted)
        register(PlaceboMethod(name, {"da": da, "en": en}, test, prepare))
    register(PlaceboMethod("cr3", {"da": "CR3 (jackknife), t(G-1)", "en": "CR3 (jackknife), t(G-1)"},
                           _analytic(K.cr3)))
    register(PlaceboMethod("cr1", {"da": "CR1, t(G-1)", "en": "CR1, t(G-1)"}, _analytic(K.cr1)))


_register_builtins()

__all__ = ["Batch", "PlaceboMethod", "REGISTRY", "register", "resolve"]
