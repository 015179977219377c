"""Magnitudes of the simulated registers (see shared/domain.md), as pure functions.

All numbers of the data-generating process live here so they can be read in one
place and recorded in truth/truth.json.
"""
from __future__ import annotations

import numpy as np

GENERATOR_VERSION = "evalkit.simulate/1.3"  # 1.2: letting rule (fleksibel udlejning) in 8 areas; 1.3: the
# tryghed survey has a design weight, origin and selective nonresponse (nonrespondents kept, answer missing)
BURN_IN_START = 2000
FIRST_YEAR, LAST_YEAR = 2010, 2024
SIZES = {"small": 40_000, "medium": 400_000, "national": 5_500_000}
N_AREAS = 80
REGIONS = np.array([1081, 1082, 1083, 1084, 1085], dtype=np.int16)
AREA_REGION_SHARES = np.array([0.10, 0.22, 0.20, 0.38, 0.10])
POP_REGION_SHARES = np.array([0.10, 0.23, 0.21, 0.32, 0.14])
HERKOMST = ("dansk", "vestlig", "ikke_vestlig")
HFAUDD = ("grundskole", "gymnasial", "erhvervsfaglig", "videregaaende")  # code 4 = unknown
UNKNOWN_EDU = 4

# interventions
OUTREACH, POA = "fremskudt_beskaeftigelse", "poa"
OUTREACH_COHORTS = {2015: 4, 2016: 4, 2017: 4, 2018: 4, 2019: 4, 2020: 5}
POA_START, N_POA, END_YEAR = 2018, 3, 2024
OUTREACH_DELTA_MAX = 0.037
POA_CONVICTION_MULT = 0.7
POA_TRYG_EFFECT = (0.08, 0.16)  # start year, from the second year on
# letting rule (fleksibel / kombineret udlejning): priority to applicants in work. Areas drawn
# among those with no other intervention, by their own random stream (other draws unchanged).
LETTING = "fleksibel_udlejning"
LETTING_COHORTS = {2018: 4, 2020: 4}
LETTING_DELTA = 0.06  # employment probability of tenants let under the rule (18-64), every year

# in-area person profiles: alpha mean, education shares (4 known + unknown)
ALPHA_SD = 0.8
ALPHA_MEAN = {"area_initial": -0.05, "in_mover": -0.30, "outside": 0.78}
ORIGIN_EFFECT = np.array([0.0, -0.05, -0.22])
EDU_EFFECT = np.array([-0.30, 0.0, 0.15, 0.35, -0.35])
EMP_INTERCEPT = 0.53


def outreach_delta(event_time: np.ndarray) -> np.ndarray:
    """True effect on the employment probability at event time e (0 before start)."""
    e = np.asarray(event_time, dtype=np.float64)
    return np.where(e >= 0, OUTREACH_DELTA_MAX * np.minimum(e + 1, 3) / 3, 0.0)


def poa_tryg_effect(event_time: np.ndarray) -> np.ndarray:
    """True effect of POA on the tryghed probability at event time e."""
    e = np.asarray(event_time)
    return np.select([e == 0, e >= 1], list(POA_TRYG_EFFECT), 0.0)


def edu_probs(origin: np.ndarray, in_area: bool, immigrant: np.ndarray) -> np.ndarray:
    """(n, 5) probabilities of grundskole, gymnasial, erhvervsfaglig, videregaaende, unknown."""
    if in_area:
        dk = np.array([0.45, 0.10, 0.33, 0.12, 0.0])
        nw = np.array([0.55, 0.10, 0.15, 0.08, 0.12])
    else:
        dk = np.array([0.20, 0.12, 0.36, 0.32, 0.0])
        nw = np.array([0.35, 0.12, 0.18, 0.23, 0.12])
    p = np.where((origin == 0)[:, None], dk, nw)
    p[~immigrant, 4] = 0.0  # only immigrants have unknown education
    return p


def year_effect(year: int) -> float:
    """Business cycle on the probit scale."""
    table = {2010: -0.06, 2011: -0.06, 2012: -0.07, 2013: -0.06, 2014: -0.03, 2015: 0.0,
             2016: 0.03, 2017: 0.06, 2018: 0.08, 2019: 0.10, 2020: 0.04, 2021: 0.09,
             2022: 0.14, 2023: 0.13, 2024: 0.12}
    return table.get(year, -0.05)


def age_effect(age: np.ndarray) -> np.ndarray:
    """Employment index by age for 18-64."""
    return np.select([age < 25, age < 30, age < 55, age < 60], [-0.30, -0.10, 0.0, -0.20], -0.60)


def study_prob(age: np.ndarray) -> np.ndarray:
    """Probability of being in education in a year, by age."""
    return np.select([age < 16, age < 18, age < 20, age < 25, age < 30, age < 40, age < 65],
                     [1.0, 0.90, 0.60, 0.35, 0.12, 0.04, 0.01], 0.0)


def old_emp_prob(age: np.ndarray) -> np.ndarray:
    """Employment probability for 65+ (pension otherwise)."""
    return np.select([age < 70, age < 75], [0.22, 0.06], 0.01)


def conviction_base(age: np.ndarray, koen: np.ndarray) -> np.ndarray:
    """Yearly conviction probability before person and area factors (0 below 18)."""
    a = np.select([age < 18, age < 30, age < 45, age < 65], [0.0, 2.2, 1.0, 0.45], 0.08)
    return 0.0150 * a * np.where(koen == 1, 1.6, 0.35)


def mortality(age: np.ndarray) -> np.ndarray:
    """Gompertz yearly death probability."""
    return np.minimum(np.exp(-10.2 + 0.092 * age), 0.5)


def out_move_prob(age: np.ndarray, employed: np.ndarray) -> np.ndarray:
    """Yearly probability that an area resident moves out; employed leave more often."""
    base = np.select([age < 18, age < 30, age < 65], [0.10, 0.13, 0.09], 0.05)
    return base + 0.06 * employed


def wage_log_mean(edu: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Log full-year wage mean by education (unknown as grundskole) and region."""
    base = np.log(np.array([300e3, 340e3, 385e3, 500e3, 290e3]))[edu]
    return base + np.where(region == 1084, 0.11, 0.0)
