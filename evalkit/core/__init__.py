"""The numeric core: the bottom layer every other evalkit layer builds on.

It imports nothing from evalkit but :mod:`evalkit.errors`. Here live the pieces that were
computed in several places before and must agree everywhere:

* :mod:`evalkit.core.linalg` -- one scale-invariant rank / collinearity criterion and the
  solves that use it;
* :mod:`evalkit.core.clusters` -- cluster sums and the CR1 small-sample factor;
* :mod:`evalkit.core.demean` -- one- and two-way demeaning (alternating projections);
* :mod:`evalkit.core.weighting` -- regression weights (analytic / frequency): their checks,
  the N of the small-sample factors and the heteroskedasticity-robust meat;
* :mod:`evalkit.core.checks` -- the validation layer shared by every public entry point
  (data, columns, seeds, replication counts, options);
* :mod:`evalkit.core.aliases` -- keyword checking of public functions (a misspelled keyword
  names the closest valid one) and the deprecated names of the one vocabulary.
"""
