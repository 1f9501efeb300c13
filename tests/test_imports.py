"""The import contract: onnxbench's packages form layers, and no import cycle exists.

The graph is read from the sources (AST) and counts **every** import: at module level, inside
a function, under ``if TYPE_CHECKING:`` (a type-only import still ties two modules), and
the package ``__init__`` each import goes through (``from onnxbench.report.tables import x``
depends on ``onnxbench.report`` too, as Python runs its ``__init__`` first). A lazy import
is no way around the contract; a ``"module:Name"`` registry string is (that is how a lower
layer names an implementation above it: plugins, runtimes, frameworks).

``LAYERS`` lists the packages top to bottom: a module may import its own package and any
package of a lower layer, never one above it, nor a sibling of its own layer (siblings are
independent). ``make test`` runs this file; ``test_the_contract_fails_on_*`` prove it can fail.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "onnxbench"

# top to bottom; packages on one line are independent of each other
LAYERS: list[tuple[str, ...]] = [
    ("__main__",),
    ("cli",),
    ("api",),        # the library API (onnxbench/__init__.py loads it lazily)
    ("tuning",),     # onnxbench tune: searches by running suites, reads their run directories
    ("suite",),      # plans run into run directories: suites, load tests, A/B
    ("report", "executors"),  # run directory (files) -> documents; where cases run
    ("scenarios", "tf"),  # how a case is measured; the TensorFlow plugin (nobody imports it)
    ("runtimes",),   # what runs a case
    ("profile",),    # per-operator profiles and placement
    ("build",),      # artifacts: export, optimize
    ("quality",),    # parity, accuracy, labelled data
    ("model",),      # which model, resolved once
    ("measure", "isolation"),  # numbers from latencies; one process per case
    ("core",),       # data that crosses processes
]
ROOT = "(root)"  # onnxbench/__init__.py: the entry point, above everything


def modules(root: Path = SRC) -> dict[str, Path]:
    """Dotted module name -> file, for every module under ``root`` (a package folder)."""
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


def imported(tree: ast.AST, name: str, is_package: bool, *,
             type_checking: bool = True) -> list[str]:
    """Every module name ``tree`` imports (with ``type_checking=False``, those under
    ``if TYPE_CHECKING:`` left out); ``from a.b import c`` gives ``a.b`` and ``a.b.c``."""
    out: list[str] = []

    def visit(node: ast.AST) -> None:
        if not type_checking and isinstance(node, ast.If) and _is_type_checking(node):
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
            out.append(base)
            out.extend(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return out


def import_graph(root: Path = SRC) -> dict[str, set[str]]:
    """Module -> the modules of the package it imports, each with the packages above it
    (their ``__init__`` runs first)."""
    mods = modules(root)
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for target in imported(tree, name, path.name == "__init__.py"):
            while target and target not in mods:  # a name inside a module: the module
                target = target.rpartition(".")[0]
            if target and target != name:
                graph[name].add(target)
            while (target := target.rpartition(".")[0]) in mods:  # its packages' __init__s
                if target != name and not name.startswith(target + "."):  # (own ones ran)
                    graph[name].add(target)
    return graph


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


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def layer_violations(graph: dict[str, set[str]],
                     layers: list[tuple[str, ...]] = LAYERS) -> list[str]:
    """Every import that goes up a layer or across to a sibling, and every package the
    layers do not place."""
    rank = {p: i for i, names in enumerate(layers) for p in names}
    out = sorted({f"package {package_of(m)!r} has no layer: add it to LAYERS"
                  for m in graph if package_of(m) not in rank and package_of(m) != ROOT})
    for name, targets in sorted(graph.items()):
        mine = package_of(name)
        for target in sorted(targets):
            theirs = package_of(target)
            if mine == ROOT or theirs == mine or mine not in rank or theirs not in rank:
                continue
            if rank[theirs] <= rank[mine]:
                kind = "a sibling" if rank[theirs] == rank[mine] else "a higher layer"
                out.append(f"{name} imports {target} ({kind}: {theirs} over {mine})")
    return out


# ------------------------------------------------------------------ the contract itself

def test_no_import_cycle_among_onnxbench_modules():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_packages_import_only_the_layers_below_them():
    bad = layer_violations(import_graph())
    assert not bad, "\n".join(bad)


def test_nothing_but_the_entry_points_at_the_top_of_the_package():
    top = sorted(p.name for p in SRC.glob("*.py"))
    assert top == ["__init__.py", "__main__.py", "api.py"], top


# ------------------------------------------------------ the contract can fail (planted)

def _plant(tmp: Path, files: dict[str, str]) -> Path:
    root = tmp / "onnxbench"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_contract_fails_on_a_planted_type_checking_cycle(tmp_path):
    """A cycle closed only by a TYPE_CHECKING import is still a cycle."""
    root = _plant(tmp_path, {
        "__init__.py": "", "core/__init__.py": "", "model/__init__.py": "",
        "core/case.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                        "    from onnxbench.model.bundle import Bundle\n",
        "model/bundle.py": "from onnxbench.core.case import Case\n"})
    graph = import_graph(root)
    assert find_cycle(graph) == ["onnxbench.core.case", "onnxbench.model.bundle",
                                 "onnxbench.core.case"]
    assert layer_violations(graph) == [
        "onnxbench.core.case imports onnxbench.model (a higher layer: model over core)",
        "onnxbench.core.case imports onnxbench.model.bundle (a higher layer: model over core)"]


def test_the_contract_fails_on_a_planted_package_init_cycle(tmp_path):
    """``report/__init__`` importing ``report.html`` (in a function) while ``report.html``
    imports a name of ``report`` (for its types only) is a cycle, inside one package too."""
    root = _plant(tmp_path, {
        "__init__.py": "",
        "report/__init__.py": "Report = object\n"
                              "def write():\n    from onnxbench.report.html import render\n",
        "report/html.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                          "    from onnxbench.report import Report\n"})
    assert find_cycle(import_graph(root)) == ["onnxbench.report", "onnxbench.report.html",
                                              "onnxbench.report"]


def test_the_contract_fails_on_a_sibling_or_an_unplaced_package(tmp_path):
    root = _plant(tmp_path, {
        "__init__.py": "", "measure/__init__.py": "", "isolation/__init__.py": "",
        "measure/timer.py": "import onnxbench.isolation.worker\n",
        "isolation/worker.py": "", "newthing/__init__.py": ""})
    assert layer_violations(import_graph(root)) == [
        "package 'newthing' has no layer: add it to LAYERS",
        "onnxbench.measure.timer imports onnxbench.isolation (a sibling: isolation over measure)",
        "onnxbench.measure.timer imports onnxbench.isolation.worker "
        "(a sibling: isolation over measure)"]


def test_the_graph_sees_function_level_and_type_checking_imports():
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import x.y\n"
                     "def f():\n    from onnxbench.model.zoo import resolve\n")
    found = imported(tree, "onnxbench.m", False)
    assert "onnxbench.model.zoo" in found and "x.y" in found
    assert "x.y" not in imported(tree, "onnxbench.m", False, type_checking=False)


# ------------------------------------------------ imports inside functions, each with a reason

# third-party libraries a function may import when it needs them, and why; every other
# import stands at the top of its module
LAZY_LIBRARIES = {
    "torch": "seconds to import; only a case that runs PyTorch needs it",
    "torchvision": "PyTorch's (ResNet from torchvision)",
    "transformers": "seconds; only the transformer zoo models",
    "deepctr_torch": "PyTorch's; only DCNv2 (its import is patched: model/zoo/dcnv2.py)",
    "safetensors": "its torch part imports torch",
    "onnxruntime": "a second; planning and the CLI do without it",
    "onnx": "the CLI's start and planning do without it",
    "onnxscript": "the dynamo exporter only",
    "onnx_ir": "the dynamo exporter only",
    "scipy": "scipy.stats takes seconds (the fork server preloads it for workers)",
    "sklearn": "seconds; the digits data and AUC only",
    "PIL": "image pipelines only",
    "plotly": "the HTML report only",
    "mlperf_loadgen": "load scenarios only",
    "pynvml": "GPU inventory only",
    "cpuinfo": "slow (it may spawn a process): the environment fingerprint only",
    "netron": "the optional [viz] extra",
    "ray": "the optional [ray] extra",
    "tensorflow": "the optional [tf] extra", "keras": "the optional [tf] extra",
    "tf2onnx": "the optional [tf] extra", "absl": "TensorFlow's logging, with TensorFlow",
}
# modules whose imports inside functions are about where they run, not about cost
LAZY_MODULES = {
    "onnxbench": "PEP 562: the library API loads on first use",
    "onnxbench.cli": "the command line starts in a fifth of a second (no pydantic, no onnx): "
                     "each command imports the library it calls when it runs",
    "onnxbench.executors.ray": "a Ray driver; its actors import on their node",
    "onnxbench.executors.ray_node": "runs inside a Ray actor: imports happen there",
    "onnxbench.executors.ray_pool": "a Ray driver's actor pool",
    "onnxbench.isolation.lifeline": "the fork server's and each worker's own set-up",
    "onnxbench.isolation.worker": "a child's set-up: resource limits, the fork server",
    "onnxbench.isolation.threads": "threadpoolctl sizes the pools loaded when it is called",
    "onnxbench.scenarios.serving": "set-up inside forked serving processes",
    "onnxbench.quality.parity": "the command line imports its default tolerances at start; "
                                "the option checks (pydantic) load when a tolerance is given",
}


def _top_level_imports(tree: ast.AST) -> list[str]:
    out = []
    for node in tree.body:  # module level only (not functions, not TYPE_CHECKING blocks)
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    return out


def loads_lazy_library(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the LAZY_LIBRARIES its import loads (its own top-level imports and those of
    every onnxbench module and package they import)."""
    direct = {}
    for name, path in mods.items():
        direct[name] = _top_level_imports(ast.parse(path.read_text(encoding="utf-8")))
    def edges(name: str) -> tuple[set[str], set[str]]:
        """(lazy libraries it imports, onnxbench modules its import runs)."""
        libs, runs = set(), set()
        parent = name.rpartition(".")[0]  # its packages' __init__s run first
        if parent in mods:
            runs.add(parent)
        for target in direct[name]:
            if target.split(".")[0] in LAZY_LIBRARIES:
                libs.add(target.split(".")[0])
            while target.startswith("onnxbench") and target not in mods:
                target = target.rpartition(".")[0]
            while target in mods:
                runs.add(target)
                target = target.rpartition(".")[0]
        runs.discard(name)
        return libs, runs

    graph = {name: edges(name) for name in mods}

    def visit(name: str) -> set[str]:
        seen, todo, found = {name}, [name], set()
        while todo:
            libs, runs = graph[todo.pop()]
            found |= libs
            todo += [r for r in runs if r not in seen]
            seen |= runs
        return found

    return {name: visit(name) for name in mods}


def lazy_imports_without_a_reason(root: Path = SRC) -> list[str]:
    mods = modules(root)
    heavy = loads_lazy_library(mods)
    out = []
    for name, path in sorted(mods.items()):
        if name in LAZY_MODULES or name.startswith(("onnxbench.tf", "onnxbench.cli.")):
            continue
        for fn in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in fn.body:
                for imp in ast.walk(node):
                    if isinstance(imp, ast.Import):
                        targets = [a.name for a in imp.names]
                    elif isinstance(imp, ast.ImportFrom) and imp.module and not imp.level:
                        targets = [imp.module]
                    else:
                        continue
                    for t in targets:
                        if t.split(".")[0] in LAZY_LIBRARIES:
                            continue
                        while t.startswith("onnxbench") and t not in mods:
                            t = t.rpartition(".")[0]
                        if t in mods and heavy[t]:
                            continue  # importing it would load a lazy library
                        out.append(f"{name}:{imp.lineno} imports {t} inside {fn.name}()")
    return sorted(set(out))


def test_imports_inside_functions_are_lazy_libraries_only():
    """An import stands at the top of its module unless it loads a heavy or optional
    library (``LAZY_LIBRARIES``, each with its reason), directly or through the onnxbench
    module it names, or the module's imports run elsewhere (``LAZY_MODULES``)."""
    bad = lazy_imports_without_a_reason()
    assert not bad, "\n".join(bad)


def test_the_lazy_import_rule_fails_on_a_planted_cheap_lazy_import(tmp_path):
    root = _plant(tmp_path, {
        "__init__.py": "", "core/__init__.py": "", "core/a.py": "import json\n",
        "core/b.py": "def f():\n    from onnxbench.core.a import json\n"
                     "    import torch\n    import time\n"})
    assert lazy_imports_without_a_reason(root) == [
        "onnxbench.core.b:2 imports onnxbench.core.a inside f()",
        "onnxbench.core.b:4 imports time inside f()"]


# ---------------------------------------------------------------- what imports cost

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
    for name, path in modules().items():
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


def test_core_imports_nothing_above_it():
    """``core`` is the data that crosses processes (``Artifact`` is rebuilt from
    artifact.json in every worker): it imports no other onnxbench package."""
    graph = import_graph()
    above = sorted(f"{m} imports {t}" for m, targets in graph.items()
                   if package_of(m) == "core" for t in targets if package_of(t) != "core")
    assert not above, above


def test_only_the_cli_prints():
    """Library code returns values (or logs, which a worker's log keeps); the CLI prints."""
    printing = []
    for name, path in modules().items():
        if name.startswith("onnxbench.cli"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "print"):
                printing.append(f"{name}:{node.lineno}")
    assert not printing, printing
