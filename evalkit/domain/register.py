"""Register configuration: where each register variable is in the researcher's files.

A :class:`RegisterConfig` maps each register variable (a *configuration key* such as
``person_id``) to the column name in the researcher's files (``PNR``). Two layouts:

* **merged** (the default and the simulator's): one row per person and year with every
  variable, possibly split over several yearly files (``files`` globs);
* **separate registers** (``registers``): Statistics Denmark's BEF (population and address),
  RAS/AKM (labour market), IND (income), UDDA (education) and KRAF (convictions), each with
  its own files and the variables it holds, joined on (person, year) with BEF as the
  population (:mod:`evalkit.domain.register_join`).

Reading the files into the DuckDB view ``register`` is :mod:`evalkit.domain.register_files`.
The default configuration maps the simulator's names (``docs/data_contract.md``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from pathlib import Path

import yaml

from evalkit.errors import ParameterError, closest

#: configuration key -> canonical column (the data contract) and what it holds
VARIABLES = {
    "person_id": ("PERSON_ID", "pseudonymised person key (BEF)"),
    "year": ("AAR", "year; address on 1 January (BEF)"),
    "birth_year": ("FOED_AAR", "birth year (BEF)"),
    "origin": ("HERKOMST", "origin; non-western values in nonwestern_values (BEF)"),
    "country_of_origin": ("OPR_LAND", "country of origin, OPR_LAND; western codes in western_countries_file (BEF)"),
    "ie_type": ("IE_TYPE", "IE_TYPE: 1 Danish origin, 2 immigrant, 3 descendant (BEF)"),
    "education": ("HFAUDD", "highest completed education; basic values in basic_education_values (UDDA)"),
    "area": ("OMR_ID", "boligområde of the address on 1 January; null = outside the areas"),
    "region": ("REGION", "region of the address (5 regions)"),
    "outside_fte": ("UDENFOR_FTE", "full-time fraction outside labour market and education (RAS/AKM)"),
    "education_fte": ("UDD_FTE", "full-time fraction in education (RAS/AKM)"),
    "income": ("PERINDKIALT", "gross income, DKK; null = not a taxpayer (IND)"),
    "convicted": ("DOMFAELDT", "convictions under the penal code, weapons or drugs act in the year; > 0 = convicted (KRAF)"),
}
#: the join keys of separate registers: every register has them (the year may come from the file name)
JOIN_KEYS = ("person_id", "year")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def needed_keys(config: "RegisterConfig") -> list[str]:
    """The configuration keys the indicators read: ``origin``, or ``country_of_origin`` and ``ie_type``."""
    skip = {"origin"} if config.country_of_origin else {"country_of_origin", "ie_type"}
    return [key for key in VARIABLES if key not in skip]


@dataclass(frozen=True)
class RegisterSpec:
    """One separate register: its name (``bef``, ``ras``, ...), file globs and the variables it holds."""

    name: str
    files: tuple
    variables: tuple

    @classmethod
    def parse(cls, name: str, entry: object) -> "RegisterSpec":
        """From a YAML entry ``{files: [...], variables: [...]}``, or a clear error naming the key."""
        where = f"registers.{name}"
        if not isinstance(name, str) or not _NAME.match(name):
            raise ParameterError(f"register name {name!r} (configuration key registers) must be a plain name "
                                 "such as bef, ras, ind, udda, kraf.")
        if not isinstance(entry, dict) or set(entry) - {"files", "variables"}:
            raise ParameterError(f"configuration key {where!r} must be a mapping with 'files' and 'variables', "
                                 f"got {entry!r}.")
        files, variables = (_str_tuple(entry.get(key), f"{where}.{key}") for key in ("files", "variables"))
        for variable in variables:
            if variable not in VARIABLES:
                raise ParameterError(f"{where}.variables: unknown register variable {variable!r}; "
                                     f"valid: {list(VARIABLES)}." + closest(variable, VARIABLES))
        return cls(name, files, variables)


def _str_tuple(value: object, where: str) -> tuple:
    value = (value,) if isinstance(value, str) else value
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) for v in value):
        raise ParameterError(f"configuration key {where!r} must be a non-empty list of strings, got {value!r}.")
    return tuple(value)


@dataclass(frozen=True)
class RegisterConfig:
    """Where the register variables are. Every field is a configuration key.

    Variable keys (``person_id`` ... ``convicted``, see :data:`VARIABLES`) name the
    column in the files (matched case-insensitively). ``year`` may be absent from
    a file whose name holds the year (``bef2016.sas7bdat``). ``files`` are glob
    patterns under the data folder (default: ``person_years/*`` when that folder
    exists, else every readable file but the areas file). ``areas_file`` is an
    optional table with ``area`` and ``region`` columns that fixes each area's region.

    ``registers`` (``{name: {files: [...], variables: [...]}}``) switches to separate
    registers joined on (person, year) from ``population_register`` (BEF). Setting
    ``country_of_origin`` (OPR_LAND) classifies origin from it and ``ie_type`` instead of
    ``origin``: non-western = immigrant or descendant from a country not in
    ``western_countries_file`` (default: the packaged ISO 3166-1 alpha-3 list).
    """

    person_id: str = "PERSON_ID"
    year: str = "AAR"
    birth_year: str = "FOED_AAR"
    origin: str = "HERKOMST"
    country_of_origin: str | None = None
    ie_type: str = "IE_TYPE"
    education: str = "HFAUDD"
    area: str = "OMR_ID"
    region: str = "REGION"
    outside_fte: str = "UDENFOR_FTE"
    education_fte: str = "UDD_FTE"
    income: str = "PERINDKIALT"
    convicted: str = "DOMFAELDT"
    nonwestern_values: tuple = ("ikke_vestlig",)
    western_countries_file: str | None = None
    basic_education_values: tuple = ("grundskole",)
    unknown_education_values: tuple = ()
    files: tuple = ()
    registers: tuple = ()
    population_register: str = "bef"
    areas_file: str | None = "areas.parquet"

    def __post_init__(self):
        if isinstance(self.registers, dict):
            specs = tuple(RegisterSpec.parse(name, entry) for name, entry in self.registers.items())
            object.__setattr__(self, "registers", specs)
        if self.registers:
            check_assignment(self)

    def owner(self, key: str) -> RegisterSpec:
        """The register holding variable ``key`` (join keys: the population register)."""
        for spec in self.registers:
            if key in spec.variables and (key not in JOIN_KEYS or spec.name == self.population_register):
                return spec
        return self.population

    @property
    def population(self) -> RegisterSpec:
        return next(spec for spec in self.registers if spec.name == self.population_register)

    @classmethod
    def from_mapping(cls, mapping: dict | None) -> "RegisterConfig":
        """Build from a dict (e.g. parsed YAML); unknown keys raise :class:`ParameterError`."""
        mapping = dict(mapping or {})
        known = [f.name for f in fields(cls)]
        for key in mapping:
            if key not in known:
                raise ParameterError(f"unknown register configuration key {key!r}; valid keys: {known}."
                                     + closest(key, known))
        for key in ("nonwestern_values", "basic_education_values", "unknown_education_values", "files"):
            if key in mapping:
                value = mapping[key]
                mapping[key] = tuple(value) if isinstance(value, (list, tuple)) else (value,)
        for key in VARIABLES:
            optional = key == "country_of_origin" and mapping.get(key) is None
            if key in mapping and not optional and not isinstance(mapping[key], str):
                raise ParameterError(f"register configuration key {key!r} must be a column name, got {mapping[key]!r}.")
        if "registers" in mapping and not isinstance(mapping["registers"], dict):
            raise ParameterError("configuration key 'registers' must map register names (bef, ras, ind, udda, "
                                 f"kraf) to {{files: [...], variables: [...]}}, got {mapping['registers']!r}.")
        return replace(cls(), **mapping)


def check_assignment(config: RegisterConfig) -> None:
    """Each variable the indicators read in exactly one register; the population register present."""
    names = [spec.name for spec in config.registers]
    if config.population_register not in names:
        raise ParameterError(f"population_register={config.population_register!r} is not among the registers "
                             f"{names} (configuration key 'registers'); the population register (BEF) "
                             "defines who lives where.")
    if config.files:
        raise ParameterError("configuration key 'files' cannot be combined with 'registers'; "
                             "give each register its own files (registers.<name>.files).")
    for key in needed_keys(config):
        holders = [spec.name for spec in config.registers if key in spec.variables]
        if key in JOIN_KEYS:
            continue
        if len(holders) > 1:
            raise ParameterError(f"register variable {key!r} is assigned to several registers {holders}; "
                                 f"keep it in one (configuration keys {[f'registers.{h}.variables' for h in holders]}).")
        if not holders:
            raise ParameterError(f"register variable {key!r} ({VARIABLES[key][1]}) is in no register; add it to "
                                 "one register's variables (configuration key registers.<name>.variables).")


def load_register_config(config: "RegisterConfig | dict | str | Path | None") -> RegisterConfig:
    """A :class:`RegisterConfig` from itself, a dict, a YAML file, or ``None`` (simulator names)."""
    if config is None or isinstance(config, RegisterConfig):
        return config or RegisterConfig()
    if isinstance(config, dict):
        return RegisterConfig.from_mapping(config)
    path = Path(config)
    if not path.exists():
        raise ParameterError(f"config={str(path)!r} does not exist.")
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(loaded, dict):
        raise ParameterError(f"config={str(path)!r} must hold a YAML mapping of key: column name.")
    return RegisterConfig.from_mapping(loaded)


def __getattr__(name: str):
    """The readers moved to :mod:`evalkit.domain.register_files`; old imports keep working."""
    if name in {"open_register", "read_areas", "register_files"}:
        from evalkit.domain import register_files

        return getattr(register_files, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
