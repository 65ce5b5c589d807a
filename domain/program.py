"""Program rules as code: read ``program.yaml``, validate it, report every problem by key path.

RevOps edits the program file by hand, so a bad file must say exactly what to fix, all at
once: ``rewards[0].delay_days: must be >= 0``, ``triggers.nsp: unknown key``. Pydantic's
errors are translated into those short messages; YAML syntax errors carry line and column;
duplicate keys (which YAML would silently resolve to the last one) are refused.

The models live in ``program_schema`` and its section modules and are re-exported here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from domain.program_base import (
    RULE_ERROR_TYPE,
    ProgramError,
    ProgramFileError,
    join_path,
    key_segment,
)
from domain.program_champions import Asks, Scoring, ScoringWeights, SeniorityKeywords
from domain.program_moments import CsatTrigger, Guards, NpsTrigger, Rollout, Trigger, Triggers
from domain.program_referrers import Eligibility, ReferrerType, Regulated, Velocity
from domain.program_rewards import Approval, FixedValue, PercentValue, Reward, RewardPart
from domain.program_schema import (
    EmailTemplate,
    IdealCustomer,
    Links,
    Program,
    SegmentProfile,
    StageMap,
    Templates,
    cross_reference_problems,
)
from domain.program_yaml import read_yaml

__all__ = [
    "PRESETS",
    "Approval",
    "Asks",
    "CsatTrigger",
    "Eligibility",
    "EmailTemplate",
    "FixedValue",
    "Guards",
    "IdealCustomer",
    "Links",
    "NpsTrigger",
    "PercentValue",
    "Program",
    "ProgramError",
    "ProgramFileError",
    "ReferrerType",
    "Regulated",
    "Reward",
    "RewardPart",
    "Rollout",
    "Scoring",
    "ScoringWeights",
    "SegmentProfile",
    "SeniorityKeywords",
    "StageMap",
    "Templates",
    "Trigger",
    "Triggers",
    "Velocity",
    "check_program",
    "load_preset",
    "load_program",
    "parse_program",
    "preset_text",
    "program_from_data",
]

PRESETS: tuple[str, ...] = ("saas", "consulting", "financial", "recruitment")
MAX_FILE_BYTES = 1_000_000
"""A program file is a few kilobytes; a bigger one is a mistake (or /dev/zero)."""

_UNION_TAGS = {"value": frozenset({"fixed", "percent"})}
"""Discriminated unions: pydantic puts the tag in the error location; users never wrote it."""

_TYPE_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "unknown key",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "decimal_type": "must be a number",
    "decimal_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "set_type": "must be a list",
    "frozen_set_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
}
_BOUNDS = {
    "greater_than_equal": ("ge", ">="),
    "less_than_equal": ("le", "<="),
    "greater_than": ("gt", ">"),
    "less_than": ("lt", "<"),
}


def preset_text(name: str) -> str:
    """The YAML of a packaged preset, the starting point of a new ``program.yaml``."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset '{name}'; choose one of: {', '.join(PRESETS)}")
    return resources.files("domain.presets").joinpath(f"{name}.yaml").read_text(encoding="utf-8")


def load_preset(name: str) -> Program:
    """A packaged preset as a ``Program`` (demo and tests run on these)."""
    return parse_program(preset_text(name))


def parse_program(text: str) -> Program:
    """Validate program YAML; raises ``ProgramError`` listing every problem found."""
    data, errors = read_yaml(text)
    return program_from_data(data, errors)


def program_from_data(data: Any, errors: Sequence[str] = ()) -> Program:
    """Validate parsed program data; ``errors`` are problems already found in the YAML."""
    errors = list(errors)
    if not isinstance(data, dict):
        errors.append("the program must be a mapping of keys (version, name, rewards, ...)")
        raise ProgramError(errors)
    try:
        program = Program.model_validate(data)
    except ValidationError as exc:
        errors.extend(translate_errors(exc.errors(), data))
        # The program-wide checks only run on a structurally valid model; run them on the raw
        # data too so one pass reports every kind of mistake.
        errors.extend(_format(path, msg) for path, msg in cross_reference_problems(data))
        raise ProgramError(list(dict.fromkeys(errors))) from None
    except RecursionError:  # a validator recursing on a value (a template's nested brackets)
        raise ProgramError([*errors, "a value is nested too deeply to check"]) from None
    if errors:
        raise ProgramError(errors)
    return program


def check_program(text: str) -> list[str]:
    """Every problem with program YAML; empty when it is valid."""
    try:
        parse_program(text)
    except ProgramError as exc:
        return exc.errors
    return []


def load_program(path: Path) -> Program:
    """Read and validate a program file; any problem (missing file too) is a ``ProgramError``,
    a ``ProgramFileError`` when the file cannot be read as text at all."""
    text = _read_text(path)
    try:
        return parse_program(text)
    except ProgramError as exc:
        raise ProgramError(exc.errors, source=str(path)) from None


def _read_text(path: Path) -> str:
    def failed(problem: str) -> ProgramFileError:
        return ProgramFileError([f"{path}: {problem}"], source=str(path))

    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise failed("file not found") from None
    except IsADirectoryError:
        raise failed("is a directory, not a YAML file") from None
    except OSError as exc:
        raise failed(f"cannot be read ({exc.strerror})") from None
    except ValueError:  # a NUL in the path
        raise failed("is not a valid file name") from None
    if len(data) > MAX_FILE_BYTES:
        raise failed(f"is larger than {MAX_FILE_BYTES // 1_000_000} MB; is it the right file?")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise failed(f"is not UTF-8 text (line {line}); save it as UTF-8") from None


def translate_errors(errors: Iterable[ErrorDetails], data: Any = None) -> list[str]:
    """Pydantic error details -> ``path: short message`` lines, in document order."""
    lines: list[str] = []
    for error in errors:
        path = _loc_path(error["loc"], data)
        if error["type"] == RULE_ERROR_TYPE:
            problems = error.get("ctx", {}).get("problems", ())
            lines.extend(_format(join_path(path, sub), msg) for sub, msg in problems)
        elif error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            lines.append(_format(join_path(path, "kind"), _message(error)))
        elif error["type"] == "invalid_key":  # the key (a number, a date) is the loc's end
            key_path = join_path(_loc_path(error["loc"][:-1], data), key_segment(error["loc"][-1]))
            lines.append(_format(key_path, "unknown key (keys here are text)"))
        else:
            lines.append(_format(path, _message(error)))
    return lines


def _message(error: ErrorDetails) -> str:
    kind, ctx = error["type"], error.get("ctx", {})
    if kind in _TYPE_MESSAGES:
        return _TYPE_MESSAGES[kind]
    if kind in _BOUNDS:
        key, sign = _BOUNDS[kind]
        bound = ctx[key]
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        return f"must be {sign} {bound}"
    if kind in ("enum", "literal_error"):
        return f"must be one of {', '.join(_choices(str(ctx['expected'])))}"
    if kind == "union_tag_invalid":
        return f"must be one of {', '.join(_choices(str(ctx['expected_tags'])))}"
    if kind == "union_tag_not_found":
        return "is required"
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return "must not be empty"
    if kind == "too_short":
        count = ctx["min_length"]
        return f"must have at least {count} item{'s' if count != 1 else ''}"
    if kind in ("value_error", "assertion_error"):
        return str(ctx["error"])
    return error["msg"]


def _choices(expected: str) -> list[str]:
    """``"'a', 'b' or 'c'"`` (pydantic's wording) -> ``["a", "b", "c"]``."""
    quoted = re.findall(r"'([^']*)'", expected)
    return quoted or [part.strip() for part in re.split(r",| or ", expected) if part.strip()]


def _loc_path(loc: Sequence[int | str], data: Any = None) -> str:
    """Pydantic's error location as a key path. ``data`` (the raw YAML) tells a list index
    from a mapping key that is a number (``stages: {12: closed_won}``)."""
    path, previous, node = "", None, data
    for part in loc:
        if isinstance(part, str) and (
            part in _UNION_TAGS.get(str(previous), ()) or part == "[key]"
        ):
            continue
        if isinstance(part, int) and not isinstance(node, Mapping):
            path += f"[{part}]"
        else:
            path = join_path(path, key_segment(part))
        node = _child(node, part)
        previous = part
    return path


def _child(node: Any, part: int | str) -> Any:
    if isinstance(node, Mapping):
        return node.get(part)
    if isinstance(node, list | tuple) and isinstance(part, int) and -len(node) <= part < len(node):
        return node[part]
    return None


def _format(path: str, message: str) -> str:
    return f"{path}: {message}" if path else message
