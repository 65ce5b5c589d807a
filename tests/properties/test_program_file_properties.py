"""Properties of program loading over mutated presets, mangled text and stray bytes.

Whatever the file holds, ``parse_program`` and ``load_program`` return a ``Program`` or raise
``ProgramError`` (never another exception), every message is one printable line that starts
with a key path or a line number, and a mutation of the data is reported at the key it
touched (or at a rule that ties sections together).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path as FilePath
from typing import Any

from hypothesis import given, settings

from domain.program import (
    Program,
    ProgramError,
    load_program,
    parse_program,
    program_from_data,
)
from tests.properties.profiles import scaled
from tests.properties.program_cases import (
    KeyPath,
    ProgramCase,
    mangled_preset,
    mutated_data,
    mutated_preset,
    paths_related,
    program_bytes,
)

_SEGMENT = r"(?:[A-Za-z0-9_-]+|\['.*?'\]|\[\d+\])"
KEY_PATH = rf"{_SEGMENT}(?:\.[A-Za-z0-9_-]+|\['.*?'\]|\[\d+\])*"
LINE = r"line \d+(?:, column \d+)?"
WHOLE_FILE = (
    r"the program must be a mapping of keys \(version, name, rewards, \.\.\.\)",
    r"nested more than \d+ levels deep",
    r"expands to more than \d+ values through aliases \(\*name\); write it out",
    r"a value is nested too deeply to check",
    r"invalid YAML: .+",
)
MESSAGE = re.compile(rf"(?:(?P<path>{KEY_PATH})|{LINE}): .+|" + "|".join(WHOLE_FILE))

CROSS_REFERENCES = re.compile(
    r"rewards\[\d+\]\.(?:referrer_types\[\d+\]|approval\.referrer_types\[\d+\]"
    r"|qualifying_stage|parts\[\d+\]\.stage|key)"
    r"|referrer_types\[\d+\]\.key|guards\.detractor_max_nps|stage_map\.stages"
)


def problems_of(load: Callable[[], Program]) -> list[str]:
    """The errors of loading; [] when it loads. Any other exception fails the test."""
    try:
        program = load()
    except ProgramError as error:
        assert error.errors, "a ProgramError must say what is wrong"
        for message in error.errors:
            assert all(c.isprintable() for c in message), repr(message)
            assert MESSAGE.fullmatch(message), message
        return error.errors
    assert isinstance(program, Program)
    return []


def assert_named(errors: list[str], touched: list[KeyPath], nested: bool) -> None:
    """The errors point at a touched key, at a rule tying sections together, or (deep
    nesting) at a line."""
    if not errors:
        return
    paths = [m.group("path") for m in map(MESSAGE.fullmatch, errors) if m and m.group("path")]
    pointed = any(
        paths_related(path, touched) or CROSS_REFERENCES.fullmatch(path) for path in paths
    )
    by_line = any(re.match(LINE, message) for message in errors)
    whole = () in touched  # the document itself was replaced: "must be a mapping"
    deep = nested and (by_line or "nested" in errors[0])
    assert pointed or whole or deep, (touched, errors)


@settings(max_examples=scaled(300))
@given(case=mutated_data())
def test_wrong_types_deletions_and_nesting_at_any_key_are_named_by_key_path(
    case: tuple[Any, list[KeyPath], bool],
) -> None:
    data, touched, nested = case
    assert_named(problems_of(lambda: program_from_data(data)), touched, nested)


@settings(max_examples=scaled(80))
@given(case=mutated_preset())
def test_a_mutated_preset_file_loads_or_names_the_keys_it_touched(case: ProgramCase) -> None:
    assert_named(problems_of(lambda: parse_program(case.text)), case.touched, case.nested)


@settings(max_examples=scaled(120))
@given(text=mangled_preset())
def test_mangled_text_loads_or_gives_one_line_per_problem(text: str) -> None:
    problems_of(lambda: parse_program(text))


@settings(max_examples=scaled(80))
@given(data=program_bytes())
def test_any_bytes_on_disk_load_or_raise_program_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = FilePath(folder) / "program.yaml"
        path.write_bytes(data)
        try:
            load_program(path)
        except ProgramError as error:
            assert error.errors and all("\n" not in message for message in error.errors)
