"""Hypothesis strategies for program files: presets mutated as data and as text.

A data mutation happens at a key path of a preset (any depth): a value of another type,
a deletion, an unknown key, or the value wrapped in many levels of nesting. Each case keeps
the paths it touched, so a test can check that the errors point there.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

import yaml
from hypothesis import strategies as st

from domain.program import PRESETS, preset_text
from domain.program_base import join_path, key_segment

KeyPath = tuple[Any, ...]  # keys and list indexes from the root


@dataclass
class ProgramCase:
    text: str
    touched: list[KeyPath]  # where the data was changed (before later mutations moved it)
    nested: bool  # a mutation added deep nesting


@cache
def preset_data(name: str) -> Any:
    return yaml.safe_load(preset_text(name))


def rendered(path: KeyPath) -> str:
    """A key path as error messages write it."""
    text = ""
    for part in path:
        index = isinstance(part, int) and not isinstance(part, bool)
        text = f"{text}[{part}]" if index else join_path(text, key_segment(part))
    return text


def all_paths(data: Any, path: KeyPath = ()) -> list[KeyPath]:
    paths = [path]
    if isinstance(data, dict):
        for key, value in data.items():
            paths += all_paths(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            paths += all_paths(value, (*path, i))
    return paths


_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats()
    | _TEXT
    | st.dates(date(1, 1, 1), date(9999, 12, 31))
    | st.datetimes(datetime(1, 1, 1), datetime(9999, 12, 31))
    | st.sampled_from(["first_payment", "closed_lost", "{{ account_name }}", "{% if", "USD"])
)
VALUES = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(_TEXT | st.integers(), children, max_size=4)
    ),
    max_leaves=8,
)
_KINDS = st.sampled_from(["replace", "replace", "delete", "unknown_key", "nest"])
_DEPTH = st.integers(1, 70)


@st.composite
def mutated_data(draw: st.DrawFn) -> tuple[Any, list[KeyPath], bool]:
    """A preset's data with 1 to 3 mutations, the paths touched, and whether one nested."""
    data = copy.deepcopy(preset_data(draw(st.sampled_from(PRESETS))))
    touched: list[KeyPath] = []
    nested = False
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(all_paths(data)))
        kind = draw(_KINDS)
        if kind == "delete" and path:
            _delete(data, path)
        elif kind == "unknown_key":
            target = _get(data, path)
            key = draw(_TEXT)
            if not isinstance(target, dict) or key in target:
                continue
            target[key] = draw(VALUES)
            path = (*path, key)
        elif kind == "nest":
            value = _get(data, path)
            for _ in range(draw(_DEPTH)):
                value = [value] if draw(st.booleans()) else {"x": value}
            data = _set(data, path, value)
            nested = True
        else:
            data = _set(data, path, draw(VALUES))
        touched.append(path)
    return data, touched, nested


@st.composite
def mutated_preset(draw: st.DrawFn) -> ProgramCase:
    """The same, written out as YAML."""
    data, touched, nested = draw(mutated_data())
    text = yaml.safe_dump(data, allow_unicode=draw(st.booleans()), sort_keys=False)
    return ProgramCase(text, touched, nested)


def _get(data: Any, path: KeyPath) -> Any:
    for part in path:
        data = data[part]
    return data


def _set(data: Any, path: KeyPath, value: Any) -> Any:
    if not path:
        return value
    _get(data, path[:-1])[path[-1]] = value
    return data


def _delete(data: Any, path: KeyPath) -> None:
    del _get(data, path[:-1])[path[-1]]


# --- text mutations ------------------------------------------------------------------------

_SNIPPETS = st.sampled_from(
    [
        "\t",
        "  ",
        ":",
        "- ",
        "&a ",
        "*a",
        "<<: *a\n",
        "[",
        "{",
        "'",
        '"',
        "\\",
        "!!int ",
        "!!binary ",
        "!!python/object:os.system ",
        "? ",
        "---\n",
        "\x00",
        "\x07",
        "\ufeff",
        "\n",
        "9" * 5000,
        "2026-02-30",
        "[" * 200,
    ]
)


@st.composite
def mangled_preset(draw: st.DrawFn) -> str:
    text = preset_text(draw(st.sampled_from(PRESETS)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        how = draw(st.sampled_from(["insert", "insert", "delete", "duplicate_line"]))
        if how == "insert":
            piece = draw(_SNIPPETS | st.text(max_size=20))
            text = text[:at] + piece + text[at:]
        elif how == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 200)) :]
        else:
            lines = text.splitlines(keepends=True)
            i = draw(st.integers(0, len(lines) - 1))
            text = "".join([*lines[: i + 1], lines[i], *lines[i + 1 :]])
    return text


@st.composite
def program_bytes(draw: st.DrawFn) -> bytes:
    """Files as found on disk: other encodings, stray bytes, BOMs, truncation."""
    text = draw(mangled_preset())
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16", "cp1252"]))
    data = text.encode(encoding, errors="replace")
    if draw(st.booleans()):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(max_size=16)) + data[at:]
    return data[: draw(st.integers(0, len(data)))] if draw(st.booleans()) else data


def paths_related(error_path: str, touched: Sequence[KeyPath]) -> bool:
    """The error is about a touched key: at it, inside it, or in the mapping holding it (a
    rule between siblings, e.g. asks.expire_after_days >= asks.due_days)."""
    for path in touched:
        near = rendered(path[:-1]) if path else ""
        here = rendered(path)
        if _within(error_path, near) or _within(here, error_path):
            return True
    return False


def _within(path: str, ancestor: str) -> bool:
    return (
        not ancestor
        or path == ancestor
        or (path.startswith(ancestor) and path[len(ancestor)] in ".[")
    )
