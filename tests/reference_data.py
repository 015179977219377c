"""Data and stored reference outputs shared by the reference tests.

* ``df_het()``: did2s::df_het (Butts & Gardner) as shipped by pyfixest (MIT), ``pyfixest/did/data``.
* ``mpdta()``: did::mpdta (Callaway & Sant'Anna 2021) as shipped by moderndid (MIT); skips the
  calling test with a reason when moderndid is not installed.
* ``reference(name)``: a JSON file of ``tests/references/`` (see its README for each producer).
"""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

REFERENCES = Path(__file__).parent / "references"
DF_HET = resources.files("pyfixest") / "did" / "data" / "df_het.csv"  # pyfixest 0.60


def reference(name: str) -> dict:
    """The stored output ``tests/references/<name>`` (a JSON file)."""
    return json.loads((REFERENCES / name).read_text())


def df_het() -> pd.DataFrame:
    return pd.read_csv(DF_HET)


def mpdta() -> pd.DataFrame:
    moderndid = pytest.importorskip("moderndid")
    return moderndid.load_mpdta().to_pandas()
