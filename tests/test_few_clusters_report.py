"""The final report's few-cluster table and synthetic-control section (evalkit.report.few_clusters)."""
from __future__ import annotations

import numpy as np
import pytest

import evalkit
from evalkit.data.synthetic import staggered_panel
from evalkit.report import few_clusters


def _area_panel(n_treated_share, seed=3):
    df = staggered_panel(n_units=30, n_periods=10, cohorts={0: 1 - n_treated_share, 6: n_treated_share},
                         effect=1.0, seed=seed)
    return df.rename(columns={"unit": "OMR_ID", "time": "AAR", "y": "employment_rate"}).assign(AAR=lambda d: d["AAR"] + 2010)


def test_inference_rows_and_table_mark_the_method_used():
    area = _area_panel(0.1)  # 3 treated areas of 30
    panel = area.assign(cohort=np.where(area["cohort"] > 0, area["cohort"] + 2010, 0))
    panel = panel.assign(treat=((panel["cohort"] > 0) & (panel["AAR"] >= panel["cohort"])).astype(int))
    with pytest.warns(evalkit.EvalkitWarning, match="treated cluster"):
        res = evalkit.twfe(panel, outcome="employment_rate", unit="OMR_ID", time="AAR", treatment="treat",
                           cluster="OMR_ID")
    rows = few_clusters.inference_rows(res, panel, seed=1, draws=99, wild_draws=999, lang="da")
    assert [r["method"] for r in rows] == list(few_clusters.METHODS)
    table = few_clusters.inference_table(rows, used=few_clusters.recommended(False), lang="da")
    assert table.loc[table["Anvendt"] == "✓", "Metode"].tolist() == [few_clusters.NAMES["wild"]["da"]]
    assert "MC-usikkerhed" in table["Detaljer"].iloc[-1]
    assert np.allclose(table["Estimat"], res.estimate("ATT"))


def test_synth_section_only_with_five_or_fewer_treated_areas():
    few = _area_panel(0.1)
    few = few.assign(cohort=np.where(few["cohort"] > 0, few["cohort"] + 2010, 0))
    fits = few_clusters.synth_fits(few, "employment_rate", alpha=0.05)
    assert len(fits) == 3
    table = few_clusters.synth_table(fits, lang="en")
    assert len(table) == 3 and table["Placebo p-value"].between(0, 1).all()
    assert set(table["Inside the donors' convex hull"]) <= {"yes", "no"}
    assert list(few_clusters.synth_table(fits, lang="da").columns)[-1] == "Inden for donorernes konvekse hylster"
    many = _area_panel(0.4)
    assert few_clusters.synth_fits(many.assign(cohort=np.where(many["cohort"] > 0, many["cohort"] + 2010, 0)),
                                   "employment_rate", alpha=0.05) == {}
