"""Write the input data of the R reference scripts to a scratch directory (not committed).

    PYTHONPATH=. python tests/references/r/export_did_data.py /tmp/evalkit_rdata

df_het.csv: did2s::df_het (simulated by did2s, Butts & Gardner) as shipped, unchanged, by pyfixest (MIT),
            copied byte for byte from pyfixest/did/data/df_het.csv.
mpdta.csv:  did::mpdta (Callaway & Sant'Anna) as shipped by moderndid (MIT), moderndid.load_mpdta(),
            written with full float precision (pandas writes the shortest round-trip repr).
"""
from __future__ import annotations

import shutil
import sys
from importlib import resources
from pathlib import Path


def main(out: str) -> None:
    import moderndid

    dest = Path(out)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(str(resources.files("pyfixest") / "did" / "data" / "df_het.csv"), dest / "df_het.csv")
    moderndid.load_mpdta().to_pandas().to_csv(dest / "mpdta.csv", index=False)
    print(f"wrote {dest / 'df_het.csv'} and {dest / 'mpdta.csv'}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/evalkit_rdata")
