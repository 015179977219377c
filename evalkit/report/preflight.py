"""Checks a report run makes before it starts the kernel: data folder, years, intervention, goals.

Kept apart from :mod:`evalkit.report.study` so the command line validates a run without
importing the estimators it never calls (the notebook kernel imports them).
"""
from __future__ import annotations

from pathlib import Path

from evalkit.errors import ParameterError


def resolve_data_dir(data_dir: str) -> Path:
    """Absolute data folder: as given, else relative to the project root above the cwd (a folder with
    ``pyproject.toml`` or ``reports.yaml``: the evalkit checkout or a project made by ``evalkit init``)."""
    path = Path(data_dir)
    if path.is_absolute() or path.exists():
        return path.resolve()
    for folder in Path.cwd().resolve().parents:
        if any((folder / marker).is_file() for marker in ("pyproject.toml", "reports.yaml")) and (folder / path).exists():
            return (folder / path).resolve()
    raise ParameterError(f"data_dir={data_dir!r} does not exist (looked in the cwd and the project root).")


def check_goal_years(params: dict, years: tuple[int, ...]) -> None:
    """Every goal is assessed in a data year (the same rule as :func:`goal_attainment`)."""
    from evalkit.domain.goals import _eval_year, check_goal

    as_of = params.get("goals_as_of") or None
    if as_of is not None and as_of not in years:
        raise ParameterError(f"goals_as_of={as_of} is outside the data years {years[0]}-{years[-1]}.")
    for i, goal in enumerate(params.get("goals", [])):
        _eval_year(check_goal(goal, i), as_of, list(years))


def _check_survey_extra(survey_outcome: str) -> None:
    """The survey section calibrates weights with the optional extra ``survey`` (svy, polars): without it
    a run would end needs_review after minutes; say so now, naming the parameter and the extra."""
    import importlib.util

    missing = [m for m in ("svy", "polars") if importlib.util.find_spec(m) is None]
    if missing:
        raise ParameterError(f"survey_outcome={survey_outcome!r} needs survey calibration, which needs the optional "
                             f"dependencies {missing}: pip install \"evalkit[survey]\" (or leave survey_outcome empty).")


def preflight(params: dict) -> dict:
    """Checks that need the data, run before any execution: folder, years, intervention.

    Returns the parameters with ``data_dir`` made absolute.
    """
    from evalkit.data.io import read_table
    from evalkit.data.panels import read_data_years

    data_dir = resolve_data_dir(params["data_dir"])
    years = read_data_years(data_dir)
    for key in ("baseline_year", "evaluation_year"):
        if params[key] not in years:
            raise ParameterError(f"{key}={params[key]} is outside the data years {years[0]}-{years[-1]}.")
    check_goal_years(params, years)
    known = sorted(read_table(data_dir / "interventions.csv")["intervention"].unique())
    if params["intervention"] not in known:
        raise ParameterError(f"intervention={params['intervention']!r} is not in {data_dir / 'interventions.csv'}; "
                             f"it holds {known}.")
    if params.get("survey_outcome"):  # the survey file and column mapping (parameters survey_outcome, survey)
        from evalkit.report.survey_section import survey_source

        _check_survey_extra(params["survey_outcome"])
        survey_source({**params, "data_dir": str(data_dir)}, check_columns=True)
    return {**params, "data_dir": str(data_dir)}
