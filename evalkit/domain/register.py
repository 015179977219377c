"""Register configuration: where each register variable is in the researcher's files.

A :class:`RegisterConfig` maps each register variable (a *configuration key* such as
``person_id``) to the column name in the researcher's files (``PNR``). Two layouts:

* **merged** (the default and the simulator's): one row per person and year with every
  variable, possibly split over several yearly files (``files`` globs);
* **separate registers** (``registers``): Statistics Denmark's BEF (population and address),
  RAS/AKM (labour market), IND (income), UDDA (education) and KRAF (convictions), each with
  its own files and the variables it holds, joined on (person, year) with BEF as the
  population (:mod:`evalkit.domain.register_join`).

Reading the files into the DuckDB view ``register`` is :mod:`evalkit.domain.register_files` (which
imports this module; this module imports neither it nor :mod:`evalkit.domain.register_join`).
The default configuration maps the simulator's names (``docs/data_contract.md``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from pathlib import Path

import yaml

from evalkit.core.checks import checked_init
from evalkit.errors import ParameterError, closest
from evalkit.core.aliases import checked

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
    "sex": ("KOEN", "sex: 1 man, 2 woman (BEF); read only for survey calibration margins"),
}
#: configuration keys the area indicators never read (only other readers, e.g. the survey margins)
OPTIONAL_KEYS = ("sex",)
#: the join keys of separate registers: every register has them (the year may come from the file name)
JOIN_KEYS = ("person_id", "year")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def needed_keys(config: RegisterConfig) -> list[str]:
    """The configuration keys the indicators read: ``origin``, or ``country_of_origin`` and ``ie_type``."""
    skip = {"origin"} if config.country_of_origin else {"country_of_origin", "ie_type"}
    return [key for key in VARIABLES if key not in skip and key not in OPTIONAL_KEYS]


@checked_init
@dataclass(frozen=True)
class RegisterSpec:
    """One separate register: its name (``bef``, ``ras``, ...), file globs and the variables it holds.

    Parameters
    ----------
    name : str
        The register's name, a plain identifier such as bef, ras, ind, udda, kraf.
    files : tuple of str
        Glob patterns of its files under the data folder.
    variables : tuple of str
        The configuration keys (:data:`VARIABLES`) it holds.
    """

    name: str
    files: tuple
    variables: tuple

    @classmethod
    def parse(cls, name: str, entry: object) -> RegisterSpec:
        """A register from its YAML entry ``{files: [...], variables: [...]}``.

        Parameters
        ----------
        name : str
            The register's name (a plain identifier).
        entry : dict
            The entry with the keys ``files`` and ``variables`` (non-empty lists of strings).

        Returns
        -------
        RegisterSpec
            The register.

        Raises
        ------
        ParameterError
            A bad name, entry or unknown variable, naming the configuration key.
        """
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


@checked_init
@dataclass(frozen=True)
class RegisterConfig:
    """Where the register variables are in the researcher's files; every field is a configuration key.

    Two layouts: **merged** (the default and the simulator's): one row per person and year with
    every variable, possibly split over several yearly files (``files`` globs); **separate
    registers** (``registers``): Statistics Denmark's BEF (population and address), RAS/AKM
    (labour market), IND (income), UDDA (education) and KRAF (convictions), each with its own
    files and variables, joined on (person, year) with BEF as the population. Usually read from
    YAML with :func:`load_register_config`; the defaults map the simulator's names
    (``docs/data_contract.md``).

    Parameters
    ----------
    person_id : str, default "PERSON_ID"
        Column (matched case-insensitively) of the pseudonymised person key (BEF).
    year : str, default "AAR"
        Column (matched case-insensitively) of the year; address on 1 January (BEF). May be
        absent from a file whose name holds the year (``bef2016.sas7bdat``).
    birth_year : str, default "FOED_AAR"
        Column (matched case-insensitively) of the birth year (BEF).
    origin : str, default "HERKOMST"
        Column (matched case-insensitively) of the origin; non-western values in
        nonwestern_values (BEF).
    country_of_origin : str, optional
        Column of country of origin, OPR_LAND; western codes in western_countries_file
        (BEF). Default None: origin is read from ``origin``. Setting it classifies
        origin from it and ``ie_type`` instead: non-western = immigrant or descendant from a
        country not in ``western_countries_file``.
    ie_type : str, default "IE_TYPE"
        Column (matched case-insensitively) of the IE_TYPE: 1 Danish origin, 2 immigrant, 3
        descendant (BEF).
    education : str, default "HFAUDD"
        Column (matched case-insensitively) of the highest completed education; basic values
        in basic_education_values (UDDA).
    area : str, default "OMR_ID"
        Column (matched case-insensitively) of the boligområde of the address on 1 January;
        null = outside the areas.
    region : str, default "REGION"
        Column (matched case-insensitively) of the region of the address (5 regions).
    outside_fte : str, default "UDENFOR_FTE"
        Column (matched case-insensitively) of the full-time fraction outside labour market
        and education (RAS/AKM).
    education_fte : str, default "UDD_FTE"
        Column (matched case-insensitively) of the full-time fraction in education (RAS/AKM).
    income : str, default "PERINDKIALT"
        Column (matched case-insensitively) of the gross income, DKK; null = not a taxpayer
        (IND).
    convicted : str, default "DOMFAELDT"
        Column (matched case-insensitively) of the convictions under the penal code, weapons
        or drugs act in the year; > 0 = convicted (KRAF).
    sex : str, default "KOEN"
        Column (matched case-insensitively) of the sex: 1 man, 2 woman (BEF); read only for
        survey calibration margins.
    nonwestern_values : tuple, default ("ikke_vestlig",)
        Values of ``origin`` that mean non-western immigrant or descendant (NW).
    western_countries_file : str, optional
        Table of western country codes for ``country_of_origin``; None: the packaged ISO 3166-1
        alpha-3 list.
    basic_education_values : tuple, default ("grundskole",)
        Values of ``education`` that mean only basic schooling (K3).
    unknown_education_values : tuple, default ()
        Values of ``education`` that mean unknown education (treated like a missing value).
    files : tuple, default ()
        Glob patterns of the merged files under the data folder; empty: ``person_years/*``
        when that folder exists, else every readable file but the areas file. Not with
        ``registers``.
    registers : tuple or dict, default ()
        Separate registers, ``{name: {files: [...], variables: [...]}}`` (parsed to
        :class:`~evalkit.domain.register.RegisterSpec`); each variable the indicators read in
        exactly one register. Empty: the merged layout.
    population_register : str, default "bef"
        The register that defines who lives where; the others are joined to it.
    areas_file : str, optional, default "areas.parquet"
        Optional table with ``area`` and ``region`` columns that fixes each area's region;
        None: none.

    Raises
    ------
    ParameterError
        A key that is not a column name or list of the right type, an unknown variable of a
        register, a variable in several registers or none, or a missing population register.
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
    sex: str = "KOEN"
    nonwestern_values: tuple = ("ikke_vestlig",)
    western_countries_file: str | None = None
    basic_education_values: tuple = ("grundskole",)
    unknown_education_values: tuple = ()
    files: tuple = ()
    registers: tuple = ()
    population_register: str = "bef"
    areas_file: str | None = "areas.parquet"

    def __post_init__(self):
        for key in VARIABLES:
            value = getattr(self, key)
            if not (isinstance(value, str) and value) and not (key == "country_of_origin" and value is None):
                raise ParameterError(f"register configuration key {key!r} must be a column name, got {value!r}.")
        for key in ("nonwestern_values", "basic_education_values", "unknown_education_values", "files"):
            value = getattr(self, key)
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                object.__setattr__(self, key, (value,))
            elif isinstance(value, list):
                object.__setattr__(self, key, tuple(value))
            elif not isinstance(value, tuple):
                raise ParameterError(f"register configuration key {key!r} must be a list, got {value!r}.")
        if isinstance(self.registers, dict):
            specs = tuple(RegisterSpec.parse(name, entry) for name, entry in self.registers.items())
            object.__setattr__(self, "registers", specs)
        if self.registers:
            check_assignment(self)

    def owner(self, key: str) -> RegisterSpec:
        """The register holding variable ``key`` (for the join keys: the population register).

        Parameters
        ----------
        key : str
            A configuration key of :data:`VARIABLES`, e.g. "income".

        Returns
        -------
        RegisterSpec
            The separate register that holds it.
        """
        for spec in self.registers:
            if key in spec.variables and (key not in JOIN_KEYS or spec.name == self.population_register):
                return spec
        return self.population

    @property
    def population(self) -> RegisterSpec:
        """The population register's :class:`RegisterSpec` (the register named ``population_register``).
        """
        return next(spec for spec in self.registers if spec.name == self.population_register)

    @classmethod
    def from_mapping(cls, mapping: dict | None) -> RegisterConfig:
        """Build a configuration from a dict (e.g. parsed YAML).

        Parameters
        ----------
        mapping : dict or None
            Configuration key -> value; None or empty: the defaults.

        Returns
        -------
        RegisterConfig
            The configuration.

        Raises
        ------
        ParameterError
            An unknown key (the closest is named) or a value of the wrong type, naming the key.
        """
        if mapping is not None and not isinstance(mapping, dict):
            raise ParameterError(f"a register configuration must be a mapping of key: column name, got {mapping!r}.")
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
        for key in ("nonwestern_values", "basic_education_values", "unknown_education_values"):
            bad = [v for v in mapping.get(key, ()) if isinstance(v, bool) or not isinstance(v, (str, int, float))]
            if bad:
                raise ParameterError(f"register configuration key {key!r} must list codes (text or numbers), "
                                     f"got {bad[0]!r}.")
        if not all(isinstance(v, str) and v for v in mapping.get("files", ())):
            raise ParameterError(f"register configuration key 'files' must list glob patterns (text), "
                                 f"got {mapping['files']!r}.")
        for key in ("western_countries_file", "areas_file"):
            if mapping.get(key) is not None and not isinstance(mapping[key], str):
                raise ParameterError(f"register configuration key {key!r} must be a file name or null, got {mapping[key]!r}.")
        if "population_register" in mapping and not isinstance(mapping["population_register"], str):
            raise ParameterError("register configuration key 'population_register' must be a register name such as "
                                 f"'bef', got {mapping['population_register']!r}.")
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


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, but a mapping that gives a key twice is an error (PyYAML keeps the last)."""


def _unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, (str, int, float, bool)):
            continue
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"the key {key!r} is given twice", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def read_yaml(path: str | Path, what: str):
    """The YAML document in the file ``path`` (called ``what`` in messages), or one clear
    :class:`ParameterError`: missing file, a folder, unreadable or not UTF-8, invalid YAML (with line
    and column), or a key given twice in one mapping."""
    path = Path(path)
    if not path.exists():
        raise ParameterError(f"{what} {str(path)!r} does not exist.")
    if not path.is_file():
        raise ParameterError(f"{what} {str(path)!r} is a folder, not a file.")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError(f"{what} {str(path)!r} cannot be read as UTF-8 text ({type(exc).__name__}).") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None)
        raise ParameterError(f"{what} {str(path)!r} is not valid YAML{where}"
                             + (f": {problem}." if problem else ".")) from None


@checked
def load_register_config(config: RegisterConfig | dict | str | Path | None) -> RegisterConfig:
    """A :class:`RegisterConfig` from itself, a dict, a YAML file, or None (the simulator's names).

    Parameters
    ----------
    config : RegisterConfig, dict, str, pathlib.Path or None
        A configuration (returned as is), a mapping of configuration keys (see
        :meth:`RegisterConfig.from_mapping`), the path of a YAML file holding such a mapping,
        or None for the defaults (``docs/data_contract.md``).

    Returns
    -------
    RegisterConfig
        The configuration.

    Raises
    ------
    ParameterError
        A missing or unreadable file, invalid YAML (with line and column), a key given twice,
        an unknown key or a value of the wrong type.

    Examples
    --------
    >>> import evalkit as ek
    >>> cfg = ek.load_register_config({"person_id": "PNR", "area": "BOLIGOMR"})
    >>> cfg.person_id
    'PNR'
    """
    if config is None or isinstance(config, RegisterConfig):
        return config or RegisterConfig()
    if isinstance(config, dict):
        return RegisterConfig.from_mapping(config)
    if not isinstance(config, (str, Path)) or not str(config):
        raise ParameterError(f"config must be a RegisterConfig, a dict, a YAML file path or None, "
                             f"got {type(config).__name__}.")
    path = Path(config)
    loaded = read_yaml(path, "config") or {}
    if not isinstance(loaded, dict):
        raise ParameterError(f"config={str(path)!r} must hold a YAML mapping of key: column name.")
    return RegisterConfig.from_mapping(loaded)

