"""Read a suite's YAML as data only, with bounds: a suite file is input, not a program.

PyYAML's ``safe_load`` builds no objects, but it still lets a few hundred bytes of nested
aliases stand for billions of nodes (each alias is a reference; whatever walks the result,
pydantic here, expands them), and it lets a mapping repeat a key (the last silently wins).
So a suite is read in three bounded steps, each failing with ONE line (``UserError``):

1. the file: at most ``MAX_SUITE_BYTES``, UTF-8, OS errors named with the path;
2. the node graph (``yaml.compose``): at most ``MAX_NODES`` nodes once aliases are
   expanded (counted on the shared graph, so the count itself is cheap), no recursive
   alias, no nesting deeper than Python can compose, no duplicate key in a mapping;
3. only then the Python values (``construct_document``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from onnxbench.core.errors import UserError, os_error_message

MAX_SUITE_BYTES = 1 << 20   # 1 MiB: the largest built-in suite is ~2 kB
MAX_NODES = 100_000         # YAML nodes after alias expansion (a 1000-case suite has ~20k)
MERGE_TAG = "tag:yaml.org,2002:merge"


def read_suite_text(path: Path) -> str:
    """The suite file's text; UserError for a file too large, not UTF-8, or unreadable."""
    try:
        size = path.stat().st_size
        if size > MAX_SUITE_BYTES:
            raise UserError(f"{path}: {size} bytes; a suite file is at most "
                            f"{MAX_SUITE_BYTES} bytes (is this the right file?)")
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(os_error_message(exc, "reading the suite")) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
                        f"{exc.start}); save the suite as UTF-8") from None


def compose_suite_yaml(text: str, source: str) -> tuple[yaml.Node | None, Any]:
    """(root node, Python value) of the YAML ``text``, within the bounds above."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_SUITE_BYTES:
        raise UserError(f"{source}: more than {MAX_SUITE_BYTES} bytes; a suite file is "
                        "at most that (is this the right file?)")
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
            if node is not None:
                _check_size(node, source)
                _check_duplicate_keys(node, source)
            return node, (loader.construct_document(node) if node is not None else None)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{source}:{mark.line + 1}" if mark else source
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise UserError(f"{where}: not valid YAML ({problem})") from None
        except RecursionError:
            raise UserError(f"{source}: YAML nested too deeply to be a suite") from None
    finally:
        loader.dispose()


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_size(root: yaml.Node, source: str) -> None:
    """Refuse a graph whose alias expansion exceeds MAX_NODES, or that refers to itself.

    ``expanded[id]`` is a node's size with every alias expanded, computed once per shared
    node (iteratively: no recursion limit), so a billion-node bomb costs a few hundred steps.
    """
    expanded: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            total = 1 + sum(expanded[id(c)] for c in _children(node))
            if total > MAX_NODES:
                raise UserError(f"{source}:{node.start_mark.line + 1}: YAML aliases expand "
                                f"to more than {MAX_NODES} nodes; a suite is refused above "
                                "that (an alias bomb?)")
            expanded[key] = total
            continue
        if key in expanded:
            continue
        if key in on_path:
            raise UserError(f"{source}:{node.start_mark.line + 1}: a YAML alias refers to "
                            "the node that contains it; a suite cannot be recursive")
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in expanded)


def _check_duplicate_keys(root: yaml.Node, source: str) -> None:
    """A key given twice in one mapping is a mistake YAML would hide (the last one wins)."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[Any, yaml.Node] = {}
            for key, _value in node.value:
                if not isinstance(key, yaml.ScalarNode) or key.tag == MERGE_TAG:
                    continue
                if key.value in first:
                    raise UserError(
                        f"{source}:{key.start_mark.line + 1}: duplicate key {key.value!r} "
                        f"(first at line {first[key.value].start_mark.line + 1}); give each "
                        "key once")
                first[key.value] = key
        stack.extend(_children(node))
