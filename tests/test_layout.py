"""The package's layers, checked from the source: no import runs up a layer, no import circle,
no module over 400 lines (README, "Layout")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "summarize"
MAX_LINES = 400

# Lowest first. A module may import its own layer and the ones below it, never one above.
LAYERS: list[tuple[str, ...]] = [
    ("summarize", "summarize.errors", "summarize.records", "summarize.progress"),
    ("summarize.config",),
    ("summarize.read", "summarize.text"),
    ("summarize.backends", "summarize.tiny"),
    ("summarize.runs",),
    ("summarize.models",),
    ("summarize.engines",),
    ("summarize.pipeline",),
    ("summarize.quality", "summarize.export"),
    ("summarize.cli", "summarize.__main__"),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    best, rank = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), index
    assert rank >= 0, f"{module} is in no layer: add it to LAYERS and to the README's layout"
    return rank


def imports_of(path: Path) -> set[str]:
    """Every summarize module `path` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "summarize":
                for alias in node.names:
                    found.add(f"{node.module}.{alias.name}")
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "summarize")
    return found


def resolve(name: str, modules: set[str]) -> str | None:
    """`summarize.a.b.Name` -> the module it names (`summarize.a.b`), or None."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}
GRAPH = {m: {t for name in imports_of(p) if (t := resolve(name, set(MODULES))) and t != m}
         for m, p in MODULES.items()}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_runs_up_a_layer(module):
    up = [t for t in GRAPH[module] if layer_of(t) > layer_of(module)
          and not module.startswith(t + ".")]  # a package's own __init__ is not "up"
    assert not up, f"{module} (layer {layer_of(module)}) imports {up} from a higher layer"


def test_no_import_circle():
    done: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> None:
        if module in path:
            cycle = [*path[path.index(module):], module]
            raise AssertionError("import circle: " + " -> ".join(cycle))
        if module in done:
            return
        path.append(module)
        for target in sorted(GRAPH[module]):
            if target != "summarize" and not module.startswith(target + "."):
                visit(target)
        path.pop()
        done.add(module)

    for module in sorted(MODULES):
        visit(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_over_400_lines(module):
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines (at most {MAX_LINES})"


def test_the_checker_sees_a_violation():
    """The graph is real: the runner imports the engines and the text layer, and a made-up
    upward import is caught by the same rule."""
    runner = GRAPH["summarize.pipeline.runner"]
    assert "summarize.engines.local" in runner and "summarize.text.glossary" in runner
    assert layer_of("summarize.pipeline.runner") > layer_of("summarize.text.segment")


def test_every_configurable_backend_is_registered_once():
    """The registry is the one place a backend is chosen: every backend name the config accepts
    has a class for chat and seq2seq models, and each class declares what the engines need."""
    from typing import get_args

    from summarize.backends import REGISTRY, backend_class
    from summarize.config import ModelSpec

    names = [n for n in get_args(ModelSpec.model_fields["backend"].annotation) if n != "auto"]
    assert set(REGISTRY) == {(name, chat) for name in names for chat in (False, True)}
    for backend, chat in REGISTRY:
        cls = backend_class(backend, chat)
        assert callable(getattr(cls, "load", None)), cls
        assert isinstance(getattr(cls, "multi_target", None), bool), cls
