"""Aggregation of ATT(g,t) as R ``did::aggte`` (``compute.aggte``).

Each aggregate is a weighted sum of ATT(g,t) with weights built from the
group shares P(G = g) (estimated with the sampling weights). Its influence
function is sum_j w_j psi_j plus, where the weights are estimated, the
weight-estimation term ``wif`` (R's ``wif``). Pure functions on arrays.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evalkit.errors import ValidationError


@dataclass(frozen=True, slots=True)
class Aggregated:
    labels: tuple[int, ...]      # g, e or t of each aggregated row ("simple": empty)
    estimate: np.ndarray         # per label, then the overall estimate last
    inf: np.ndarray              # n_units x (len(labels) + 1)


@dataclass(frozen=True, slots=True)
class Inputs:
    att: np.ndarray
    group: np.ndarray
    time: np.ndarray
    psi: np.ndarray              # n_units x m: the influence columns (a view of Result.influence)
    cols: np.ndarray             # column of psi of each cell
    unit_cohort: np.ndarray
    unit_weight: np.ndarray
    last_time: int
    first_time: int

    def pg(self) -> np.ndarray:
        """P(G = g) of each cell's group."""
        uniq = np.unique(self.group)
        if uniq.size == 0:
            return np.zeros(0)
        pos, mine = _positions(uniq, self.unit_cohort)  # units of one of the groups: weights summed by group
        sums = np.bincount(pos[mine], weights=self.unit_weight[mine], minlength=uniq.size)
        shares = dict(zip(uniq, sums / self.unit_weight.size))
        return np.array([shares[g] for g in self.group])


def _positions(uniq: np.ndarray, unit_cohort: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's index in the sorted groups ``uniq`` and whether its cohort is one of them
    (a binary search per unit: a handful of groups, no mask per group)."""
    pos = np.minimum(np.searchsorted(uniq, unit_cohort), uniq.size - 1)
    return pos, uniq[pos] == unit_cohort


def _wif_att(inp: Inputs, keep: np.ndarray, pg: np.ndarray) -> np.ndarray:
    """wif(keepers) %*% att[keepers]: effect of estimating the weights pg.

    R forms num[:, j] = w * 1(G = g_j) - pg_j (n x cells) and returns
    (num %*% att) / s - (num %*% 1) (pg'att) / s^2 with s = sum(pg). Per unit of cohort g that is
    w (A_g / s - N_g pg'att / s^2) (A_g, N_g: the sum and the number of kept cells of cohort g; the
    constant terms cancel), and 0 for the other units: one value per cohort, read by every unit.
    """
    s, att, groups = pg[keep].sum(), inp.att[keep], inp.group[keep]
    c = pg[keep] @ att
    uniq = np.unique(groups)
    tab = np.array([att[groups == g].sum() / s - np.count_nonzero(groups == g) * c / s**2 for g in uniq] + [0.0])
    pos, own = _positions(uniq, inp.unit_cohort)
    pos[~own] = uniq.size  # the table's last entry: 0
    return inp.unit_weight * tab[pos]


def _weighted(inp: Inputs, keep: np.ndarray, pg: np.ndarray, with_wif: bool):
    wts = pg[keep] / pg[keep].sum()
    est = float(wts @ inp.att[keep])
    w_cols = np.zeros(inp.psi.shape[1])
    w_cols[inp.cols[keep]] = wts  # one product with psi: no copy of its columns
    inf = inp.psi @ w_cols
    if with_wif:
        inf = inf + _wif_att(inp, keep, pg)
    return est, inf


def _mean_of(estimates: np.ndarray, infs: np.ndarray, cols: np.ndarray):
    return float(np.mean(estimates[cols])), infs[:, cols].mean(axis=1)


def _none_left(what: str) -> ValidationError:
    return ValidationError(f"No ATT(g,t) cell is left to aggregate: {what}. Widen the window.")


def simple(inp: Inputs, max_e: float) -> Aggregated:
    keep = np.nonzero((inp.group <= inp.time) & (inp.time <= inp.group + max_e))[0]
    if keep.size == 0:
        raise _none_left(f"no post-treatment cell has event time <= max_e={max_e:g}")
    est, inf = _weighted(inp, keep, inp.pg(), True)
    return Aggregated((), np.array([est]), inf[:, None])


def group(inp: Inputs, max_e: float) -> Aggregated:
    pg = inp.pg()
    glist = np.unique(inp.group)
    est, infs, labels = [], [], []
    for g in glist:
        keep = np.nonzero((inp.group == g) & (g <= inp.time) & (inp.time <= inp.group + max_e))[0]
        if keep.size == 0:
            continue
        e, f = _weighted(inp, keep, pg, False)
        labels.append(int(g)); est.append(e); infs.append(f)
    if not labels:
        raise _none_left(f"no group has a post-treatment cell with event time <= max_e={max_e:g}")
    est, infs = np.array(est), np.column_stack(infs)
    shares = np.array([np.mean(inp.unit_weight * (inp.unit_cohort == g)) for g in labels])
    sub = Inputs(est, np.array(labels), np.array(labels), infs, np.arange(len(labels)), inp.unit_cohort,
                 inp.unit_weight, inp.last_time, inp.first_time)
    all_ = np.arange(len(labels))
    w = shares / shares.sum()
    overall = float(w @ est)
    inf_all = infs @ w + _wif_att(sub, all_, shares)
    return Aggregated(tuple(labels), np.append(est, overall), np.column_stack([infs, inf_all]))


def dynamic(inp: Inputs, min_e: float, max_e: float, balance_e: int | None) -> Aggregated:
    pg = inp.pg()
    e_cell = inp.time - inp.group
    include = np.ones(inp.att.size, bool)
    eseq = np.unique(e_cell)
    if balance_e is not None:
        include = (inp.last_time - inp.group) >= balance_e
        eseq = np.unique(e_cell[include])
        eseq = eseq[(eseq <= balance_e) & (eseq >= balance_e - inp.last_time + inp.first_time)]
    eseq = eseq[(eseq >= min_e) & (eseq <= max_e)]
    if eseq.size == 0:
        raise _none_left(f"no event time lies in [min_e, max_e] = [{min_e:g}, {max_e:g}]"
                         + (f" with balance_e={balance_e}" if balance_e is not None else ""))
    if not (eseq >= 0).any():
        raise _none_left(f"the window [min_e, max_e] = [{min_e:g}, {max_e:g}] has no post-treatment event time "
                         "(e >= 0), and the overall ATT averages those")
    est, infs = [], []
    for e in eseq:
        keep = np.nonzero((e_cell == e) & include)[0]
        a, f = _weighted(inp, keep, pg, True)
        est.append(a); infs.append(f)
    est, infs = np.array(est), np.column_stack(infs)
    pos = np.nonzero(eseq >= 0)[0]
    overall, inf_all = _mean_of(est, infs, pos) if pos.size else (np.nan, np.full(infs.shape[0], np.nan))
    return Aggregated(tuple(int(e) for e in eseq), np.append(est, overall), np.column_stack([infs, inf_all]))


def calendar(inp: Inputs) -> Aggregated:
    pg = inp.pg()
    tlist = np.unique(inp.time)
    tlist = tlist[tlist >= inp.group.min()]
    est, infs, labels = [], [], []
    for t in tlist:
        keep = np.nonzero((inp.time == t) & (inp.group <= inp.time))[0]
        if keep.size == 0:
            continue
        a, f = _weighted(inp, keep, pg, True)
        labels.append(int(t)); est.append(a); infs.append(f)
    est, infs = np.array(est), np.column_stack(infs)
    overall, inf_all = _mean_of(est, infs, np.arange(est.size))
    return Aggregated(tuple(labels), np.append(est, overall), np.column_stack([infs, inf_all]))
