"""Write the third-party data sets the R reference scripts read to CSV (outside the repository).

    python tests/references/r/export_data.py /tmp/evalkit-refdata

* texas.csv: causaldata (PyPI, MIT) ``texas`` - Cunningham's Mixtape synthetic-control example.
  float32 columns are widened to float64 first, so R and the tests see the same numbers.
* organ_donations.csv: causaldata ``organ_donations`` (Kessler & Roth 2014, as in the Mixtape).
* prop99.csv: synthdid-py (PyPI, BSD-3-Clause) ``load_california_prop99()``.

Nothing written here is committed; only the R outputs (JSON) are.
"""
from __future__ import annotations

import sys
from pathlib import Path

import causaldata
import synthdid


def texas():
    t = causaldata.texas.load_pandas().data.copy()
    for c in t.columns:
        if t[c].dtype.kind == "f":
            t[c] = t[c].astype("float64")
    return t


def main(out: str) -> None:
    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    texas().to_csv(d / "texas.csv", index=False)
    causaldata.organ_donations.load_pandas().data.to_csv(d / "organ_donations.csv", index=False)
    synthdid.load_california_prop99().to_csv(d / "prop99.csv", index=False)
    print(f"wrote texas.csv, organ_donations.csv, prop99.csv to {d}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/evalkit-refdata")
