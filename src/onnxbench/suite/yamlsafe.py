"""Read YAML as data only, with bounds: a suite file is input, not a program.

Every YAML onnxbench parses goes through here: suite files (``compose_suite_yaml``), the
``executor:`` a run directory's ``configs/suite.yaml`` names, and each ``KEY=VALUE``
option of the command line (``option_value``: the same bounds, smaller).

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
MAX_VALUE_BYTES = 64 << 10  # one command-line option value
MAX_VALUE_NODES = 10_000    # ... and its nodes after alias expansion
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
    try:
        return _compose(text, source, MAX_NODES)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"{where}: not valid YAML ({problem})") from None


def option_value(text: str, source: str) -> Any:
    """One command-line option value read as YAML (``4``, ``true``, ``[1, 2]``), within
    ``MAX_VALUE_BYTES`` / ``MAX_VALUE_NODES``; text that is not YAML stays the text.
    ``source`` names the option in the one-line error (e.g. ``-o threads``)."""
    if not text.strip():
        return ""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_VALUE_BYTES:
        raise UserError(f"{source}: a value of more than {MAX_VALUE_BYTES} bytes; an option "
                        "value is at most that")
    try:
        return _compose(text, source, MAX_VALUE_NODES)[1]
    except yaml.YAMLError:
        return text


def _compose(text: str, source: str, max_nodes: int) -> tuple[yaml.Node | None, Any]:
    """(root node, value); yaml.YAMLError as PyYAML raises it, UserError for the bounds."""
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
            if node is not None:
                _check_size(node, source, max_nodes)
                _check_duplicate_keys(node, source)
            return node, (loader.construct_document(node) if node is not None else None)
        except RecursionError:
            raise UserError(f"{source}: YAML nested too deeply") from None
    finally:
        loader.dispose()


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_size(root: yaml.Node, source: str, max_nodes: int = MAX_NODES) -> None:
    """Refuse a graph whose alias expansion exceeds ``max_nodes``, or that refers to itself.

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
            if total > max_nodes:
                raise UserError(f"{source}:{node.start_mark.line + 1}: YAML aliases expand "
                                f"to more than {max_nodes} nodes; refused above that (an "
                                "alias bomb?)")
            expanded[key] = total
            continue
        if key in expanded:
            continue
        if key in on_path:
            raise UserError(f"{source}:{node.start_mark.line + 1}: a YAML alias refers to "
                            "the node that contains it; YAML here cannot be recursive")
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
