"""The import graph (issue 12): layers import only downward, and no module imports itself back.

Every ``import`` statement counts, also those inside functions (a lazy import hides a cycle; it
does not remove it). Layers, bottom to top (``evalkit/__init__`` loads public names lazily and
is above everything):
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "evalkit"

#: top-level module or subpackage of evalkit -> layer (imports go to the same or a lower layer)
LAYERS = {
    "errors": 0, "_version": 0,
    "core": 1, "seal": 1, "privacy": 1, "progress": 1, "i18n": 1,
    "data": 2,
    "results": 3,
    "inference": 4,
    "diagnostics": 5,
    "estimators": 6,
    "domain": 7,
    "report": 8,
    "cli": 9, "__main__": 9,
    "": 10,  # evalkit/__init__.py
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _targets(path: Path, module: str) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "evalkit")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "evalkit":
                continue
            for alias in node.names:  # "from evalkit import seal" imports the module evalkit.seal
                sub = f"{target}.{alias.name}"
                out.add(sub if _exists(sub) else target)
    return out


def _exists(module: str) -> bool:
    rel = Path(*module.split(".")[1:]) if "." in module else Path()
    return (ROOT / rel).with_suffix(".py").exists() or (ROOT / rel / "__init__.py").exists()


def _layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    return LAYERS[top]


def graph() -> dict[str, set[str]]:
    return {(m := _module_name(p)): {t for t in _targets(p, m) if t != m} for p in sorted(ROOT.rglob("*.py"))}


def test_every_module_has_a_layer():
    assert all((m.split(".")[1] if "." in m else "") in LAYERS for m in graph())


def test_layers_import_only_downward():
    upward = sorted(f"{m} -> {t}" for m, ts in graph().items() for t in ts if _layer(t) > _layer(m))
    assert not upward, "imports from a lower layer to a higher one:\n" + "\n".join(upward)


def test_no_import_cycles():
    edges = graph()
    # a package's __init__ re-exporting its own modules is not a cycle of behaviour: drop parent -> child edges
    edges = {m: {t for t in ts if not t.startswith(m + ".")} for m, ts in edges.items()}
    # and a module's import of its own package __init__ resolves to the module that defines the name
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt in edges and not state.get(nxt):
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    sys.setrecursionlimit(10000)
    for node in sorted(edges):
        if not state.get(node):
            visit(node, [])
    assert not cycles, "import cycles:\n" + "\n".join(cycles[:20])


def test_import_evalkit_is_cheap():
    """``import evalkit`` loads no estimator stack (the public names are lazy)."""
    import subprocess

    code = ("import sys, evalkit; heavy = [m for m in ('statsmodels', 'linearmodels', 'duckdb', 'pandera', "
            "'matplotlib', 'pandas') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", out


if __name__ == "__main__":  # pragma: no cover - a readable listing: python tests/test_layers.py
    for mod, targets in graph().items():
        for t in sorted(targets):
            print(f"{_layer(mod)} {mod} -> {_layer(t)} {t}")
    pytest.main([__file__, "-q"])
