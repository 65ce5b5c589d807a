"""Reading program YAML safely: any text gives data or a ``ProgramError``, never a crash.

``yaml.safe_load`` alone lets several inputs through as other exceptions or as hazards:
characters YAML forbids (``ReaderError`` before parsing starts), values its constructors
cannot build (``!!int abc``, ``2026-02-30``, a 5,000-digit integer raise ``ValueError`` and
friends), nesting deep enough to exhaust the stack, and aliases that expand a small file into
billions of values for the validator to walk ("billion laughs") or into a cycle. Each of those
becomes one message with its line. Duplicate mapping keys, which YAML would silently resolve
to the last one, are reported with their key path.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from domain.display import printable
from domain.program_base import ProgramError, join_path, key_segment

MAX_DEPTH = 50
"""Levels of nesting; a program needs about six."""
MAX_VALUES = 100_000
"""Values after expanding aliases; a program has a few hundred."""


def read_yaml(text: str) -> tuple[Any, list[str]]:
    """Parsed YAML and the duplicate-key problems; anything unreadable raises ``ProgramError``."""
    try:
        loader = _ProgramYamlLoader(text)
    except yaml.reader.ReaderError as exc:  # the whole text is checked before parsing
        raise ProgramError([_forbidden_character(text, exc)]) from None
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ProgramError([f"{where}{exc.problem or exc.context or 'invalid YAML'}"]) from None
    except yaml.YAMLError as exc:
        raise ProgramError([f"invalid YAML: {exc}"]) from None
    except RecursionError:  # nesting too deep for the parser itself, before our own check
        raise ProgramError([f"nested more than {MAX_DEPTH} levels deep"]) from None
    finally:
        loader.dispose()
    return data, loader.problems


def _forbidden_character(text: str, exc: yaml.reader.ReaderError) -> str:
    position = exc.position
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or " ")
    what = "a NUL character" if code == 0 else f"the character U+{code:04X}, which YAML forbids"
    return f"line {line}, column {column}: contains {what}"


class _ProgramYamlLoader(yaml.SafeLoader):
    """A SafeLoader that checks the document's shape before building it and turns every
    failure to build a value into a marked error."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.problems: list[str] = []

    def construct_document(self, node: Node) -> Any:
        _check_shape(node)
        self._find_duplicates(node, "", set())
        return super().construct_document(node)

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            raise ConstructorError(None, None, _unbuildable(node, exc), node.start_mark) from None

    def _find_duplicates(self, node: Node, path: str, visited: set[int]) -> None:
        if id(node) in visited:  # aliases: walk each node once
            return
        visited.add(id(node))
        if isinstance(node, SequenceNode):
            for i, item in enumerate(node.value):
                self._find_duplicates(item, f"{path}[{i}]", visited)
        elif isinstance(node, MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode) or key_node.tag.endswith(":merge"):
                    continue
                child = join_path(path, key_segment(key_node.value))
                if key_node.value in seen:
                    line = key_node.start_mark.line + 1
                    self.problems.append(f"{child}: duplicate key (line {line})")
                seen.add(key_node.value)
                self._find_duplicates(value_node, child, visited)


def _unbuildable(node: Node, exc: Exception) -> str:
    kind = str(node.tag).rsplit(":", 1)[-1]
    value = f"'{printable(node.value)}' " if isinstance(node, ScalarNode) else ""
    reason = f" ({exc})" if kind == "timestamp" and isinstance(exc, ValueError) else ""
    return f"{value}is not a valid {printable(kind)}{reason}"


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_shape(root: Node) -> None:
    """Refuse nesting deeper than ``MAX_DEPTH``, aliases that form a cycle, and documents
    that expand to more than ``MAX_VALUES`` values; without building anything.

    An alias makes a node the child of several parents, so sizes and heights are memoised
    per node (linear in the file, whatever the expansion) and cycles are found as an alias
    back to a node on the current path of the walk.
    """
    shape: dict[int, tuple[int, int]] = {}  # id(node) -> (values, levels) below and including
    on_path: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        children = _children(node)
        if finished:
            on_path.discard(id(node))
            below = [shape[id(child)] for child in children]
            size = 1 + sum(values for values, _ in below)
            height = 1 + max((levels for _, levels in below), default=0)
            shape[id(node)] = (min(size, MAX_VALUES + 1), height)
            continue
        if id(node) in shape:
            continue
        on_path.add(id(node))
        stack.append((node, True))
        for child in children:
            if id(child) in on_path:
                line = child.start_mark.line + 1
                raise ProgramError([f"line {line}: an alias refers to a value that contains it"])
            if id(child) not in shape:
                stack.append((child, False))
    size, height = shape[id(root)]
    if height > MAX_DEPTH:
        line = _deepest(root, shape).start_mark.line + 1
        raise ProgramError([f"line {line}: nested more than {MAX_DEPTH} levels deep"])
    if size > MAX_VALUES:
        raise ProgramError(
            [f"expands to more than {MAX_VALUES} values through aliases (*name); write it out"]
        )


def _deepest(root: Node, shape: dict[int, tuple[int, int]]) -> Node:
    """The node ``MAX_DEPTH`` levels down the deepest branch: where to look in the file."""
    node = root
    for _ in range(MAX_DEPTH):
        node = max(_children(node), key=lambda child: shape[id(child)][1])
    return node
