"""Every public name of evalkit has a numpydoc docstring that documents every parameter.

The public names are ``evalkit.__all__`` (except ``__version__``), the public methods and
properties of the exported classes, and the public methods and properties of the classes the
public functions and methods return (resolved from their return annotations), so that
``Result.tidy``, ``Result.plot``, ``SensitivityResult.summary``, ``WildResult`` ... are covered
and a new public name or a new parameter is checked without editing this file.

numpydoc is not a dependency of the test environment, so this file applies numpydoc's own rules
with ``inspect.signature`` and a parser of numpydoc sections (numpydoc.validate's codes in
brackets):

- GL08: a docstring exists; SS01: it starts with a one-line summary; GL06: every section is a
  numpydoc section (a misspelt "Parameter" header would hide the parameters);
- PR01: every parameter of the signature is documented (``*args``/``**kwargs`` with their
  stars; ``self``/``cls`` and underscore-prefixed private keyword parameters excepted; a class
  is checked against its constructor signature, as numpydoc does, and may document its fields
  under Attributes instead: the result and configuration classes are built by evalkit, not by
  the user, and numpydoc documents a dataclass's fields as Attributes);
- PR02: every documented parameter exists in the signature;
- RT01: every function and method (not returning None) has a Returns section;
- PR04/PR07: every documented parameter has a type (not asked of ``*args``/``**kwargs``, as in
  numpydoc) and a description;
- DEF01 (evalkit's own, numpydoc has none): the type line states the signature's default -
  ``default X`` for X, ``optional`` for None, neither for a required parameter - so a changed
  default cannot leave the reference behind.

Run ``python tests/test_docstrings.py`` for a report of every problem.
"""
from __future__ import annotations

import ast
import inspect
import math
import pydoc
import re
import sys
import typing

import pytest

#: numpydoc section headers (numpydoc.docscrape.NumpyDocString.sections)
SECTIONS = ("Parameters", "Returns", "Yields", "Receives", "Raises", "Warns", "Other Parameters", "Attributes",
            "Methods", "See Also", "Notes", "Warnings", "References", "Examples", "Summary",
            "Extended Summary")


def public_objects() -> dict[str, object]:
    """Qualified public name -> object: the exported names, then methods of the classes reached."""
    import evalkit as ek

    objects: dict[str, object] = {}
    classes: list[tuple[str, type]] = []

    def visit_class(name: str, cls: type) -> None:
        if any(c is cls for _, c in classes) or not cls.__module__.startswith("evalkit"):
            return
        classes.append((name, cls))

    def returned_classes(func: object) -> list[type]:
        """Classes named in a function's return annotation (``X``, ``X | None``, ``list[X]``)."""
        func = getattr(func, "fget", func)
        func = getattr(func, "__func__", func)
        try:
            ann = inspect.signature(func).return_annotation
        except (TypeError, ValueError):
            return []
        if ann is inspect.Signature.empty:
            return []
        if isinstance(ann, str):
            scope = dict(vars(sys.modules[func.__module__]))
            if getattr(func, "__qualname__", "").count("."):  # a method: its own class by name
                owner = func.__qualname__.split(".")[0]
                scope.setdefault(owner, getattr(sys.modules[func.__module__], owner, None))
            try:
                ann = eval(ann, scope)  # noqa: S307 - annotations of our own modules
            except Exception:
                return []
        found: list[type] = []
        stack = [ann]
        while stack:
            item = stack.pop()
            if isinstance(item, type) and item.__module__.startswith("evalkit"):
                found.append(item)
            stack.extend(typing.get_args(item))
        return found

    for name in ek.__all__:
        if name == "__version__":
            continue
        obj = getattr(ek, name)
        objects[name] = obj
        if inspect.isclass(obj):
            visit_class(name, obj)
        else:
            for cls in returned_classes(obj):
                visit_class(cls.__name__, cls)

    i = 0
    while i < len(classes):  # grows while methods return further evalkit classes
        cname, cls = classes[i]
        i += 1
        objects.setdefault(cname, cls)
        if issubclass(cls, BaseException):
            continue
        for klass in cls.__mro__:
            if not klass.__module__.startswith("evalkit"):
                continue
            for attr, raw in vars(klass).items():
                qual = f"{cname}.{attr}"
                if attr.startswith("_") or qual in objects:
                    continue
                if isinstance(raw, (staticmethod, classmethod)):
                    member = raw.__func__
                elif isinstance(raw, property) or inspect.isfunction(raw):
                    member = raw
                else:
                    continue
                objects[qual] = member
                for ret in returned_classes(member):
                    visit_class(ret.__name__, ret)
    return objects


def sections(doc: str) -> dict[str, list[str]]:
    """numpydoc sections of a cleaned docstring: header -> its lines (summary under '')."""
    lines = doc.splitlines()
    out: dict[str, list[str]] = {"": []}
    current = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        title = line.strip()
        if title and nxt.strip() and set(nxt.strip()) == {"-"} and len(nxt.strip()) >= len(title):
            current = title
            out.setdefault(current, [])
            i += 2
            continue
        out[current].append(line)
        i += 1
    return out


def documented_parameters(doc: str, headers=("Parameters", "Other Parameters")) -> list[tuple[str, str, bool]]:
    """(name, type, has description) for each entry of the sections ``headers``."""
    secs = sections(doc)
    params: list[tuple[str, str, bool]] = []
    for header in headers:
        entries: list[list] = []
        for line in secs.get(header, []):
            if not line.strip():
                continue
            if not line[:1].isspace():  # an entry header: "name : type" or "name"
                head, _, typ = line.partition(" : ") if " : " in line else (line.rstrip(" :"), "", "")
                entries.append([head.strip(), typ.strip(), False])
            elif entries:
                entries[-1][2] = True
        for head, typ, described in entries:
            params.extend((n.strip(), typ, described) for n in head.split(","))
    return params


def signature_parameters(obj: object) -> list[str]:
    """The parameters numpydoc expects documented (stars on *args/**kwargs, no self/cls)."""
    target = getattr(obj, "fget", None) or obj
    if isinstance(obj, property):
        return []
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return []  # BaseException's signature (numpydoc finds none either)
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return []
    names = []
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            names.append(f"*{p.name}")
        elif p.kind is p.VAR_KEYWORD:
            names.append(f"**{p.name}")
        elif not p.name.startswith("_"):
            names.append(p.name)
    if names and names[0] in ("self", "cls") and not inspect.isclass(obj):
        names = names[1:]
    return names


def problems(obj: object) -> list[str]:
    """numpydoc-style problems of one object's docstring (empty when it passes)."""
    doc = pydoc.getdoc(obj) if not isinstance(obj, property) else inspect.cleandoc(obj.__doc__ or "")
    if not doc.strip():
        return ["GL08 no docstring"]
    found = []
    secs = sections(doc)
    if not doc.splitlines()[0].strip() or not any(ln.strip() for ln in secs[""]):
        found.append("SS01 no one-line summary")
    found += [f"GL06 unknown section {title!r}" for title in secs if title and title not in SECTIONS]
    if not inspect.isclass(obj) and not isinstance(obj, property):
        returns = inspect.signature(obj).return_annotation
        if "Returns" not in secs and "Yields" not in secs and returns not in (None, "None"):
            found.append("RT01 no Returns section")
    expected = signature_parameters(obj)
    documented = documented_parameters(doc)
    names = [n for n, _, _ in documented]
    if inspect.isclass(obj):  # a result or config class may document its fields as Attributes
        names += [n for n, _, _ in documented_parameters(doc, ("Attributes",))]
    for p in expected:
        if p not in names:
            found.append(f"PR01 parameter {p!r} not documented")
    found += default_problems(obj, [d for d in documented if d[0] in expected])
    for n, typ, described in documented:
        if n not in expected:
            found.append(f"PR02 documented parameter {n!r} is not in the signature")
        elif not typ and not n.startswith("*"):  # numpydoc asks no type of *args / **kwargs
            found.append(f"PR04 parameter {n!r} has no type")
        elif not described:
            found.append(f"PR07 parameter {n!r} has no description")
    return found


def _same_default(text: str, default: object) -> bool:
    """Whether ``default <text>`` of a docstring names the signature's default."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = {"-inf": -math.inf, "inf": math.inf, "nan": math.nan}.get(text, text)
    if isinstance(value, float) and isinstance(default, float) and math.isnan(value) and math.isnan(default):
        return True
    if isinstance(default, tuple) and isinstance(value, (list, tuple)):
        return list(default) == list(value)
    return bool(value == default)


def default_problems(obj: object, documented: list[tuple[str, str, bool]]) -> list[str]:
    """DEF01: a "default X" in a parameter's type names the signature's default; "optional" means
    None; a parameter documented without either has no default (evalkit's convention)."""
    if isinstance(obj, property):
        return []
    try:
        params = inspect.signature(getattr(obj, "fget", None) or obj).parameters
    except (TypeError, ValueError):
        return []
    found = []
    for name, typ, _ in documented:
        p = params.get(name)
        if p is None or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        stated = re.search(r"default (.+)$", typ)
        if stated:
            ok = p.default is not p.empty and _same_default(stated.group(1).strip(), p.default)
        elif "optional" in typ:
            ok = p.default is None
        else:
            ok = p.default is p.empty
        if not ok:
            shown = "none" if p.default is p.empty else repr(p.default)
            found.append(f"DEF01 parameter {name!r}: the docstring's default ({typ!r}) is not the signature's ({shown})")
    return found


OBJECTS = public_objects()


def test_the_public_names_are_found():
    import evalkit as ek

    assert set(ek.__all__) - {"__version__"} <= set(OBJECTS)
    # result types reached through return annotations, and their methods
    for name in ("Result.tidy", "Result.summary", "Result.plot", "SensitivityResult", "WildResult"):
        assert name in OBJECTS, name


@pytest.mark.parametrize("name", sorted(OBJECTS))
def test_docstring(name):
    found = problems(OBJECTS[name])
    assert not found, f"{name}: " + "; ".join(found)


def test_checker_catches_an_undocumented_parameter():
    def f(a, b=1, *args, _private=None, **kwargs) -> int:
        """Do it.

        Parameters
        ----------
        a : int
            The a.
        c : int
            Not a parameter.

        Returns
        -------
        int
            Nothing useful.
        """

    assert problems(f) == ["PR01 parameter 'b' not documented", "PR01 parameter '*args' not documented",
                           "PR01 parameter '**kwargs' not documented",
                           "PR02 documented parameter 'c' is not in the signature"]


def test_checker_catches_missing_summary_returns_and_types():
    def g(x):
        pass

    def h(x, y):
        """
        Parameters
        ----------
        x
            No type.
        y : float
        """

    assert problems(g) == ["GL08 no docstring"]
    assert problems(h) == ["SS01 no one-line summary", "RT01 no Returns section", "PR04 parameter 'x' has no type",
                           "PR07 parameter 'y' has no description"]


def test_checker_catches_a_stale_default():
    def k(a=2, b=None, c=0) -> int:
        """Do it.

        Parameters
        ----------
        a : int, default 1
            Was 1 once.
        b : int, optional
            None means something.
        c : int
            Documented as required.

        Returns
        -------
        int
            Nothing useful.
        """

    assert [p.split(":")[0] for p in problems(k)] == ["DEF01 parameter 'a'", "DEF01 parameter 'c'"]


if __name__ == "__main__":
    total = 0
    bad = 0
    undocumented = 0
    for qual, obj in OBJECTS.items():
        found = problems(obj)
        total += 1
        bad += bool(found)
        undocumented += sum(p.startswith("PR01") for p in found)
        for p in found:
            print(f"{qual}: {p}")
    print(f"{total} public names; {bad} with problems; {undocumented} undocumented parameters")


def test_shared_subgroup_parameter_text_is_filled_in():
    """The subgroup functions share their parameter text (evalkit.domain._subgroup_docs): every marker is
    replaced, and the survey function counts respondents, the register function persons."""
    from evalkit.domain.subgroups import subgroup_effects
    from evalkit.domain.survey_subgroups import survey_subgroup_effects

    for func, unit in ((subgroup_effects, "persons"), (survey_subgroup_effects, "respondents")):
        doc = func.__doc__
        assert "{{" not in doc and "}}" not in doc
        assert f"this many {unit}" in doc
        for name in ("cohorts :", "min_cell :", "thin :", "round_base :", "inference_options :", "joint_options :"):
            assert doc.count(name) == 1, (func.__name__, name)
