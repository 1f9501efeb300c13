"""The shape of onnxbench's imports: no cycle, and the TensorFlow plugin imported by no one.

The graph is read from the sources (AST), every ``import`` counted wherever it stands (a
function-level import is still a dependency), except those under ``if TYPE_CHECKING:``
(they never run). ``from pkg import name`` counts as importing ``pkg.name`` when that is a
module, else ``pkg``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "onnxbench"


def _modules(root: Path = SRC) -> dict[str, Path]:
    found = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, name: str, is_package: bool) -> list[str]:
    """Every module name imported by ``tree`` (TYPE_CHECKING blocks left out)."""
    out: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            out.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".") if is_package else name.split(".")[:-1]
                package = package[:len(package) - node.level + 1]
                base = ".".join(package + ([node.module] if node.module else []))
            out.extend(f"{base}.{alias.name}" for alias in node.names)
            out.append(base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the onnxbench modules it imports."""
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for target in _imports(tree, name, path.name == "__init__.py"):
            if target in modules and target != name:
                graph[name].add(target)
        # "from pkg import mod" adds both pkg.mod and pkg: keep pkg only when a name of
        # pkg itself (not a submodule) was imported
        for target in list(graph[name]):
            subs = {t for t in graph[name] if t.startswith(target + ".")}
            if subs and not _imports_names_of(tree, target, modules):
                graph[name].discard(target)
    return graph


def _imports_names_of(tree: ast.AST, package: str, modules: dict[str, Path]) -> bool:
    for node in ast.walk(tree):
        if (isinstance(node, ast.ImportFrom) and node.module == package and not node.level
                and any(f"{package}.{a.name}" not in modules for a in node.names)):
            return True
        if isinstance(node, ast.Import) and any(a.name == package for a in node.names):
            return True
    return False


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph (as a path that ends where it starts), or None."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = dfs(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = dfs(start)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_graph_sees_function_level_imports_but_not_type_checking_ones():
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import x.y\n"
                     "def f():\n    from onnxbench.model.zoo import resolve\n")
    found = _imports(tree, "onnxbench.m", False)
    assert "onnxbench.model.zoo" in found and "x.y" not in found


def test_no_import_cycle_among_onnxbench_modules():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_only_the_tf_plugin_imports_onnxbench_tf():
    offenders = sorted(f"{name} imports {target}" for name, targets in import_graph().items()
                       if not name.startswith("onnxbench.tf")
                       for target in targets if target.startswith("onnxbench.tf"))
    assert not offenders, offenders


@pytest.mark.parametrize("module", ["onnxbench", "onnxbench.cli", "onnxbench.model.zoo",
                                    "onnxbench.runtimes", "onnxbench.suite"])
def test_core_imports_stay_cheap(module):
    """No torch, onnxruntime or TensorFlow at import (the CLI and planner start fast)."""
    code = (f"import sys, {module}; heavy = [m for m in ('torch', 'onnxruntime', "
            "'tensorflow', 'onnxbench.tf') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_no_import_error_guard_around_onnxbench_modules():
    """``try: from onnxbench.x import y / except ImportError`` can only hide a real bug in
    onnxbench's own code: every module is always there."""
    guarded = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Try):
                continue
            catches = {ast.unparse(h.type) for h in node.handlers if h.type is not None}
            if not catches & {"ImportError", "ModuleNotFoundError"}:
                continue
            for inner in node.body:
                for sub in ast.walk(inner):
                    module = (sub.module if isinstance(sub, ast.ImportFrom) else
                              sub.names[0].name if isinstance(sub, ast.Import) else None)
                    if module and module.startswith("onnxbench"):
                        guarded.append(f"{name}: {module}")
    assert not guarded, guarded


def test_artifact_is_a_plain_record():
    """``Artifact`` crosses into workers and is rebuilt from artifact.json: it imports no
    zoo, optimize or framework code (the bundle resolves the model, once)."""
    tree = ast.parse((SRC / "core" / "artifact.py").read_text(encoding="utf-8"))
    assert not [t for t in _imports(tree, "onnxbench.core.artifact", False)
                if t.startswith("onnxbench")]


def test_tuning_sits_between_api_and_report():
    """``onnxbench.tuning`` is below the API and the CLI (it imports neither) and above
    everything else (none of it imports tuning: the report reads ``tune.json``)."""
    above = ("onnxbench.cli", "onnxbench.api", "onnxbench.__main__")
    graph = import_graph()
    wrong = sorted(f"{name} imports {target}" for name, targets in graph.items()
                   for target in targets
                   if (name.startswith("onnxbench.tuning") and target.startswith(above))
                   or (target.startswith("onnxbench.tuning") and name != "onnxbench"
                       and not name.startswith((*above, "onnxbench.tuning"))))
    assert not wrong, wrong
