"""The layout keeps its shape: imports flow one way (core <- data <- viz <- models <- train, metrics
<- report, serve <- cli), a family imports no other family (what families share, models/shared/,
imports none), and no module imports itself back through others, at module level or inside a
function. docs/architecture.md draws it."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
LAYERS = {"core": 0, "data": 1, "viz": 2, "models": 3, "train": 4, "metrics": 4, "report": 5, "serve": 5, "cli": 6}
SHARED_MODELS = "shared"  # models/shared/: what several families use, no family of its own
FAMILIES = tuple(
    sorted(p.parent.name for p in (SRC / "genlab" / "models").glob("*/__init__.py") if p.parent.name != SHARED_MODELS)
)  # a package each
SHARED = "genlab"  # genlab/__init__.py (genlab.load) and __main__.py stand above every layer


def _modules() -> dict[str, Path]:
    out = {}
    for path in (SRC / "genlab").rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """Every genlab module `name` imports anywhere in its file (lazy and TYPE_CHECKING ones too)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("genlab"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            if not base.startswith("genlab"):
                continue
            for alias in node.names:  # `from genlab.x import y` names module genlab.x.y when there is one
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {m for m in found if m in modules and m != name}


def _layer(module: str) -> tuple[str, int]:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] == "__main__":
        return SHARED, 99
    return parts[1], LAYERS[parts[1]]


def _family(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "models" and parts[2] in FAMILIES else None


@pytest.fixture(scope="module")
def graph():
    modules = _modules()
    return {name: _imports(path, name, modules) for name, path in modules.items()}


def test_every_top_level_part_has_a_layer(graph):
    assert {_layer(m)[0] for m in graph} == set(LAYERS) | {SHARED}


def test_imports_flow_one_way(graph):
    wrong = [
        f"{m} -> {t}"
        for m, targets in graph.items()
        for t in targets
        if _layer(t)[0] != _layer(m)[0] and _layer(t)[1] >= _layer(m)[1]
    ]
    assert wrong == []


def test_a_family_imports_no_other_family(graph):
    wrong = [
        f"{m} -> {t}"
        for m, targets in graph.items()
        for t in targets
        if _family(m) and _family(t) and _family(m) != _family(t)
    ]
    assert wrong == []


def test_what_families_share_imports_no_family(graph):
    shared = f"genlab.models.{SHARED_MODELS}"
    wrong = [f"{m} -> {t}" for m, targets in graph.items() if m.startswith(shared) for t in targets if _family(t)]
    assert wrong == []


def test_each_family_package_registers_a_family_and_each_family_has_its_package():
    from genlab.models import REGISTRY

    assert sorted({cls.__module__.split(".")[2] for cls in REGISTRY.values()}) == list(FAMILIES)


def test_the_trainer_knows_no_family(graph):
    wrong = [f"{m} -> {t}" for m, targets in graph.items() if _layer(m)[0] == "train" for t in targets if _family(t)]
    assert wrong == []


def test_no_import_circles(graph):
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    circles = []

    def visit(m, path):
        state[m] = 1
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                circles.append(" -> ".join(path[path.index(t) :] + [t]))
            elif t not in state:
                visit(t, path + [t])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert circles == []


def test_the_checker_sees_a_circle_and_an_upward_import(tmp_path):
    """The rules above must be able to fail: a lazy upward import inside a function is found."""
    (tmp_path / "genlab" / "data").mkdir(parents=True)
    (tmp_path / "genlab" / "__init__.py").write_text("")
    (tmp_path / "genlab" / "data" / "__init__.py").write_text("def f():\n    from genlab.train import runs\n")
    names = {
        "genlab": tmp_path / "genlab" / "__init__.py",
        "genlab.data": tmp_path / "genlab" / "data" / "__init__.py",
        "genlab.train.runs": tmp_path / "x.py",
    }
    found = _imports(names["genlab.data"], "genlab.data", names)
    assert found == {"genlab.train.runs"} and _layer("genlab.train.runs")[1] > _layer("genlab.data")[1]
