"""Write an UNBALANCED version of mpdta to a CSV (not committed), the input of
tests/references/r/did_unbalanced.R; tests/test_did_r_unbalanced.py rebuilds the same frame.

Source: mpdta (Callaway & Sant'Anna 2021) as shipped by moderndid (``moderndid.load_mpdta()``,
500 counties x 2003-2007). Deterministic derivation:

* rows sorted by (countyreal, year) (R did's unbalanced path sums influence functions by id with
  ``stats::aggregate``, which returns them in ascending id order; sorting keeps did's rows aligned);
* each row is dropped when ``numpy.random.default_rng(SEED).random(n_rows) < DROP_SHARE`` (one
  uniform per row in that order); a unit that would lose every row keeps its first year;
* ``state = countyreal // 1000`` (state FIPS code; 29 clusters), the cluster rule of the
  balanced R witness (did_mpdta.R);
* ``w = 0.5 + (countyreal % 10) / 4`` (0.5 ... 2.75, constant within unit), sampling weights.

Values are written with 17 significant digits, so R and Python read identical numbers.

    python tests/references/r/make_unbalanced_mpdta.py [/tmp/evalkit_unbalanced/mpdta_unbalanced.csv]
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20261205
DROP_SHARE = 0.10
DEFAULT_OUT = Path("/tmp/evalkit_unbalanced/mpdta_unbalanced.csv")
COLUMNS = ["year", "countyreal", "lpop", "lemp", "first.treat", "treat", "state", "w"]


def unbalanced_mpdta(mpdta: pd.DataFrame) -> pd.DataFrame:
    """The unbalanced panel derived from ``mpdta`` (moderndid's copy, as a pandas frame)."""
    df = mpdta.sort_values(["countyreal", "year"], kind="mergesort").reset_index(drop=True)
    drop = np.random.default_rng(SEED).random(len(df)) < DROP_SHARE
    first_row = ~df["countyreal"].duplicated().to_numpy()
    all_gone = pd.Series(drop).groupby(df["countyreal"].to_numpy()).transform("all").to_numpy()
    drop &= ~(all_gone & first_row)
    out = df.loc[~drop].copy()
    out["state"] = out["countyreal"] // 1000
    out["w"] = 0.5 + (out["countyreal"] % 10) / 4.0
    for c in ["year", "countyreal", "first.treat", "treat", "state"]:
        out[c] = out[c].astype("int64")
    return out[COLUMNS].reset_index(drop=True)


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False, float_format="%.17g", lineterminator="\n").encode()


def sha256(df: pd.DataFrame) -> str:
    return hashlib.sha256(to_csv_bytes(df)).hexdigest()


def main(out: Path = DEFAULT_OUT) -> None:
    import moderndid

    df = unbalanced_mpdta(moderndid.load_mpdta().to_pandas())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(to_csv_bytes(df))
    n_units = df["countyreal"].nunique()
    print(f"wrote {out}: {len(df)} rows, {n_units} units, sha256 {sha256(df)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT)
