"""Report tables that show means of person counts must not give back the exact counts."""
from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.report.tables import balance_table


def _panel():
    rows = [(a, 2014, c, r) for a, c, r in [(1, 2018, 1933), (2, 2018, 1937), (3, 2018, 1934), (4, 0, 2001), (5, 0, 1999)]]
    df = pd.DataFrame(rows, columns=["OMR_ID", "AAR", "cohort", "residents"])
    for ind in ("employment_rate", "k1_share", "conviction_share", "basic_edu_share", "income_rel_region",
                "nonwestern_share"):
        df[ind] = np.linspace(0.1, 0.5, len(df))
    return df


def test_mean_residents_do_not_recover_the_exact_total():
    """Exact total of the 3 treated areas: 5804 (not a multiple of 5); the design table shows 5805."""
    table = balance_table(_panel(), 2014, lang="en")
    mean = float(table.iloc[0, 1])
    assert table.iloc[0, 0] == "Residents"
    assert round(mean * 3) != 5804 and (mean * 3) % 5 == 0  # means of counts rounded per area to 5
    other = balance_table(_panel(), 2014, lang="en", round_base=1)  # no rounding: the exact mean
    assert round(float(other.iloc[0, 1]) * 3) == 5804
