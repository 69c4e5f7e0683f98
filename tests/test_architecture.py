"""The shape of the library and the repository: subpackages by pipeline stage whose imports
point one way, no import cycles, a few shared modules at the top, one TFLite entry point,
no committed binaries but the published model and the book's figures."""

from __future__ import annotations

import ast
import importlib
import shutil
import subprocess
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "catsdogs"
#: The pipeline's stages in dependency order: a module may import its own stage and earlier
#: ones, never a later one. Stage 0 is the shared top level (settings, files, run records,
#: provenance, Markdown display objects) and ``plots``, which only draws what it is given.
STAGES: tuple[tuple[str, ...], ...] = (
    ("config", "files", "provenance", "records", "runs", "markdown", "plots"),
    ("data",),
    ("model",),
    ("evaluation",),
    ("training",),
    ("studies",),
    ("report",),
    ("cli",),
)
#: Modules at the top of the package besides ``__init__``/``__main__`` (DESIGN: "a few").
MAX_SHARED_MODULES = 6
#: Where binaries may be committed (README, "The published run"): the published model, the
#: book's figures; each file at most 10 MB.
BINARY_HOMES = ("models/", "book/_generated/")
MAX_BINARY_BYTES = 10 * 2**20


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def import_graph() -> dict[str, set[str]]:
    """``module -> catsdogs modules it imports`` (top-level and function-level imports alike)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            edges |= {t for t in targets if t in modules and t != name}
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules, or ``None`` (depth-first search)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_among_catsdogs_modules():
    graph = import_graph()
    assert "catsdogs.evaluation.predict" in graph and graph["catsdogs.evaluation.export"]  # the graph was really built
    assert find_cycle({k: v - {"catsdogs"} for k, v in graph.items()}) is None


def stage_of(module: str) -> int:
    """The stage index of a ``catsdogs`` module (``catsdogs`` itself: 0)."""
    parts = module.split(".")
    if len(parts) == 1:
        return 0
    if parts[1] == "__main__":  # ``python -m catsdogs``: the command line
        return len(STAGES) - 1
    for index, names in enumerate(STAGES):
        if parts[1] in names:
            return index
    raise AssertionError(f"{module} belongs to no stage of {STAGES}: add its folder to STAGES")


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Every import of a later stage by an earlier one, as ``"a -> b"``."""
    return sorted(
        f"{a} -> {b}" for a, targets in graph.items() for b in targets if b != "catsdogs" and stage_of(b) > stage_of(a)
    )


def test_upward_imports_are_found():
    assert upward_imports({"catsdogs.data.scan": {"catsdogs.training.train"}}) == [
        "catsdogs.data.scan -> catsdogs.training.train"
    ]
    assert upward_imports({"catsdogs.training.train": {"catsdogs.data.scan", "catsdogs.runs"}}) == []


def test_imports_point_one_way_stage_by_stage():
    graph = import_graph()
    assert graph["catsdogs.training.train"], "the graph was really built"
    assert upward_imports(graph) == []


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def test_functions_of_data_know_no_run_directory():
    """The data stage and the fits take and return data; only the step layer
    (``training.steps``) and what builds on it reach a run directory (``catsdogs.runs``)."""
    graph = import_graph()
    of_data = [m for m in graph if m.startswith("catsdogs.data")] + ["catsdogs.training.train"]
    assert len(of_data) > 5, "the graph was really built"
    assert [m for m in of_data if "catsdogs.runs" in _reachable(graph, m)] == []
    assert "catsdogs.runs" in _reachable(graph, "catsdogs.training.steps"), "the check can fail"


def test_top_level_holds_subpackages_and_a_few_shared_modules():
    shared = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__"))
    assert len(shared) <= MAX_SHARED_MODULES, shared
    folders = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    assert folders == sorted(n for names in STAGES for n in names if (PACKAGE / n).is_dir())


def test_no_subpackage_re_exports_its_modules():
    """A package's ``__init__`` is a docstring (``plots`` keeps its short, used ``__all__``;
    ``cli`` its ``main``, the console script's target): callers import the module that
    defines a name, under that module's own name."""
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        body = [n for n in ast.parse(init.read_text()).body if not isinstance(n, ast.Expr)]
        if init.parent.name not in ("plots", "cli"):
            assert body == [], f"{init.relative_to(PACKAGE.parent)} holds code besides its docstring"
    assert "lazy" not in (PACKAGE.parent / "pyproject.toml").read_text()


@pytest.mark.parametrize("package", [n for names in STAGES for n in names if (PACKAGE / n / "__init__.py").is_file()])
def test_every_name_a_subpackage_exports_exists(package):
    module = importlib.import_module(f"catsdogs.{package}")
    missing = [name for name in getattr(module, "__all__", []) if not hasattr(module, name)]
    assert not missing, f"catsdogs.{package} exports names it does not have: {missing}"


def test_tflite_runs_through_litert_in_one_place():
    users = [n for n, p in _modules().items() if "tf.lite.Interpreter" in p.read_text()]
    assert users == ["catsdogs.model.tflite"]


def _is_binary(path: Path) -> bool:
    with path.open("rb") as f:
        return b"\0" in f.read(8192)


def test_committed_binaries_are_the_model_and_the_book_figures():
    root = PACKAGE.parent
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    files = [root / f for f in listed.decode().split("\0") if f and (root / f).is_file()]
    binaries = [p for p in files if _is_binary(p)]
    assert binaries, "the published model is committed, so the check must find binaries"
    for path in binaries:
        name = path.relative_to(root).as_posix()
        assert name.startswith(BINARY_HOMES), f"{name}: binaries belong under {' or '.join(BINARY_HOMES)} only"
        assert path.stat().st_size <= MAX_BINARY_BYTES, f"{name} is over {MAX_BINARY_BYTES:,} bytes"
