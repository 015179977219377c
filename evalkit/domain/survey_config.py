"""Survey configuration: where each survey variable is in the researcher's files.

The survey twin of :class:`evalkit.domain.register.RegisterConfig`: a :class:`SurveyConfig` maps
each survey variable (a *configuration key* such as ``weight``) to the column in the survey files
(``VAEGT``), from a dict or a YAML file read by the same loader as the register configuration
(:func:`evalkit.domain.register.read_yaml`: duplicate keys and bad YAML are errors with line and
column). The default maps the simulator's ``tryghed_survey.parquet`` (``docs/data_contract.md``),
generator 1.3: design weight ``VAEGT`` and origin ``HERKOMST``. Per answer, ``missing_codes`` (e.g. 9
"ved ikke") are read as missing and ``scales`` declare the valid values (``binary`` or ``[low, high]``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from evalkit.core.checks import checked_init
from evalkit.domain.register import read_yaml
from evalkit.errors import ParameterError, closest

#: configuration key -> canonical column (the survey data contract) and what it holds
SURVEY_VARIABLES = {
    "respondent_id": ("RESP_ID", "respondent key (not linkable to the registers)"),
    "year": ("AAR", "survey wave (year)"),
    "area": ("OMR_ID", "boligområde of the respondent; null = outside the areas (e.g. a national sample)"),
    "weight": ("VAEGT", "design weight: the inverse inclusion probability of the respondent"),
    "sex": ("KOEN", "sex: 1 man, 2 woman (as the register's KOEN)"),
    "age": ("ALDER", "age in years at the wave"),
    "origin": ("HERKOMST", "origin, coded as the register's HERKOMST (dansk, vestlig, ikke_vestlig)"),
}
#: keys that may be null: the file has no such column
OPTIONAL = ("weight", "origin")
#: the scale of a 0/1 item
BINARY = "binary"


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _per_answer(key: str, value, answers: tuple) -> dict:
    """``value`` as {answer: setting}: a mapping keyed by answers, or one setting for every answer."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        return {a: value for a in answers}
    unknown = [k for k in value if k not in answers]
    if unknown:
        raise ParameterError(f"survey configuration key {key!r} names {unknown}, which are not in 'answers' "
                             f"{list(answers)}." + closest(str(unknown[0]), answers))
    return dict(value)


def _missing_codes(value, answers: tuple) -> dict:
    out = {}
    for answer, codes in _per_answer("missing_codes", value, answers).items():
        codes = [codes] if not isinstance(codes, (list, tuple)) else codes
        numbers = [_number(c) for c in codes]
        if not codes or any(n is None for n in numbers):
            raise ParameterError(f"survey configuration key 'missing_codes' for answer {answer!r} must be a list of "
                                 f"numbers (e.g. [8, 9] for 'ved ikke' and 'ønsker ikke at svare'), got {codes!r}.")
        out[answer] = tuple(numbers)
    return out


def _scales(value, answers: tuple) -> dict:
    out = {}
    for answer, scale in _per_answer("scales", value, answers).items():
        if scale == BINARY:
            out[answer] = BINARY
            continue
        bounds = [_number(b) for b in scale] if isinstance(scale, (list, tuple)) and len(scale) == 2 else [None]
        if None in bounds or bounds[0] >= bounds[1]:
            raise ParameterError(f"survey configuration key 'scales' for answer {answer!r} must be 'binary' (0/1) or "
                                 f"[low, high] with low < high (e.g. [1, 5] for a Likert item), got {scale!r}.")
        out[answer] = tuple(bounds)
    return out


@checked_init
@dataclass(frozen=True)
class SurveyConfig:
    """Where the survey variables are in the researcher's files; every field is a configuration key.

    The survey twin of :class:`RegisterConfig`, usually read from a dict or YAML file by
    :func:`read_survey`. The defaults map the simulator's ``tryghed_survey.parquet``
    (generator 1.3: design weight ``VAEGT``, origin ``HERKOMST``, nonrespondents with ``TRYG``
    missing). Column names are matched case-insensitively.

    Parameters
    ----------
    respondent_id : str, default "RESP_ID"
        Column of the respondent key (not linkable to the registers).
    year : str, default "AAR"
        Column of the survey wave (year).
    area : str, default "OMR_ID"
        Column of the respondent's boligområde; null = outside the areas (e.g. a national
        sample).
    weight : str or None, default "VAEGT"
        Column of the design weight (the inverse inclusion probability); None: the file has
        none (then ``read_survey(require_weights=False)`` sets ``VAEGT = 1``).
    sex : str, default "KOEN"
        Column of sex: 1 man, 2 woman (as the register's KOEN).
    age : str, default "ALDER"
        Column of age in years at the wave.
    origin : str or None, default "HERKOMST"
        Column of origin coded as the register's HERKOMST (dansk, vestlig, ikke_vestlig);
        None: the file has none.
    answers : tuple of str, default ("TRYG",)
        The answer columns to keep (numeric: 0/1 items or Likert scores); at least one, none
        also mapped as a background variable.
    files : tuple of str, default ()
        Glob patterns under a survey folder; empty: every readable file in it.
    missing_codes : dict or list, optional
        Answer codes that mean "no answer" (e.g. 9 "ved ikke"): {answer: [codes]}, or one
        list for every answer. :func:`read_survey` sets them to missing and counts them in a
        warning.
    scales : dict, str or list, optional
        The valid answers: {answer: "binary" | [low, high]}, or one scale for every answer.
        "binary": 0 or 1; [low, high]: values in the closed range. :func:`read_survey` raises
        a ValidationError for other values (after ``missing_codes``). An answer without a
        scale is checked only for being numeric, with a warning for codes far from the rest.

    Raises
    ------
    ParameterError
        A key that is not a column name (or null where allowed), ``answers`` empty or
        clashing with a background variable, ``files`` not a list of names, or
        ``missing_codes`` / ``scales`` malformed or naming a column not in ``answers``.
    """

    respondent_id: str = "RESP_ID"
    year: str = "AAR"
    area: str = "OMR_ID"
    weight: str | None = "VAEGT"
    sex: str = "KOEN"
    age: str = "ALDER"
    origin: str | None = "HERKOMST"
    answers: tuple = ("TRYG",)
    files: tuple = ()
    missing_codes: dict | None = field(default=None, hash=False)
    scales: dict | None = field(default=None, hash=False)

    def __post_init__(self):
        for key in SURVEY_VARIABLES:
            value = getattr(self, key)
            if not (isinstance(value, str) and value) and not (key in OPTIONAL and value is None):
                raise ParameterError(f"survey configuration key {key!r} must be a column name"
                                     + (" or null" if key in OPTIONAL else "") + f", got {value!r}.")
        for key in ("answers", "files"):
            value = getattr(self, key)
            value = (value,) if isinstance(value, str) else value
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
                raise ParameterError(f"survey configuration key {key!r} must be a list of names, got {value!r}.")
            object.__setattr__(self, key, tuple(value))
        if not self.answers:
            raise ParameterError("survey configuration key 'answers' must name at least one answer column.")
        used = [getattr(self, k) for k in SURVEY_VARIABLES if getattr(self, k) is not None]
        clash = sorted({a for a in self.answers if a.lower() in {u.lower() for u in used}})
        if clash:
            raise ParameterError(f"survey configuration key 'answers' lists {clash}, which are also mapped as "
                                 "background variables; an answer column must be its own column.")
        reserved = [a for a in self.answers
                    if a.upper() in {c for c, _ in SURVEY_VARIABLES.values()} | {"AGE_BAND", "CAL_VAEGT"}]
        if reserved:
            raise ParameterError(f"survey configuration key 'answers' lists {reserved}, which are names evalkit gives "
                                 "to background variables or calibration columns; rename the answer column.")
        object.__setattr__(self, "missing_codes", _missing_codes(self.missing_codes, self.answers))
        object.__setattr__(self, "scales", _scales(self.scales, self.answers))

    @classmethod
    def from_mapping(cls, mapping: dict | None) -> SurveyConfig:
        """Build a survey configuration from a dict (e.g. parsed YAML).

        Parameters
        ----------
        mapping : dict or None
            Configuration key -> value; None or empty: the defaults.

        Returns
        -------
        SurveyConfig
            The configuration.

        Raises
        ------
        ParameterError
            An unknown key (the closest valid key is named) or a value of the wrong type.
        """
        if mapping is not None and not isinstance(mapping, dict):
            raise ParameterError(f"a survey configuration must be a mapping of key: column name, got {mapping!r}.")
        known = [f.name for f in fields(cls)]
        for key in mapping or {}:
            if key not in known:
                raise ParameterError(f"unknown survey configuration key {key!r}; valid keys: {known}."
                                     + closest(str(key), known))
        return replace(cls(), **(mapping or {}))


def load_survey_config(config: SurveyConfig | dict | str | Path | None) -> SurveyConfig:
    """A :class:`SurveyConfig` from itself, a dict, a YAML file, or ``None`` (the simulator's names)."""
    if config is None or isinstance(config, SurveyConfig):
        return config or SurveyConfig()
    if isinstance(config, dict):
        return SurveyConfig.from_mapping(config)
    if not isinstance(config, (str, Path)) or not str(config):
        raise ParameterError(f"survey_config must be a SurveyConfig, a dict, a YAML file path or None, "
                             f"got {type(config).__name__}.")
    loaded = read_yaml(Path(config), "survey_config") or {}
    if not isinstance(loaded, dict):
        raise ParameterError(f"survey_config={str(config)!r} must hold a YAML mapping of key: column name.")
    return SurveyConfig.from_mapping(loaded)


def check_cutoff(config: SurveyConfig, answer: str, cutoff, *, param: str = "cutoff") -> None:
    """A ``cutoff`` inside the declared scale of ``answer`` (configuration key ``scales``), else a
    :class:`ParameterError` naming ``param``, the scale and the cut-offs allowed.

    A share of answers >= ``cutoff`` is estimable only when the cut-off splits the scale: with
    ``[low, high]`` that is ``low < cutoff <= high`` (at or below ``low`` every answer counts, above
    ``high`` none), with ``binary`` ``0 < cutoff <= 1``. Without a declared scale (or a cut-off)
    nothing is checked here."""
    scale = config.scales.get(answer)
    if cutoff is None or scale is None or _number(cutoff) is None:
        return
    low, high = (0.0, 1.0) if scale == BINARY else scale
    if low < float(cutoff) <= high:
        return
    shown = "binary (0 or 1)" if scale == BINARY else f"[{low:g}, {high:g}]"
    side = "every answer is at or above it" if float(cutoff) <= low else "no answer reaches it"
    raise ParameterError(f"{param}={cutoff!r} is outside the declared scale {shown} of answer {answer!r} "
                         f"(configuration key 'scales'): {side}, so the share cannot be estimated. Allowed: a "
                         f"number with {low:g} < {param} <= {high:g}, or null for the answer itself.")
