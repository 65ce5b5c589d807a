"""Building blocks shared by the program schema modules.

Rule checks that span several fields cannot point pydantic at the offending key by raising a
plain ``ValueError`` (the error would name the whole model). They raise ``rule_error`` with
a list of ``(relative path, message)`` problems instead; the loader appends each relative path
to the model's own location, so every message still names the exact key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from domain.display import printable

RULE_ERROR_TYPE = "program_rule"

Problem = tuple[str, str]
"""``(path relative to the model being validated, short message)``; ``""`` is the model."""

_KEY = re.compile(r"[a-z][a-z0-9_]*")
_PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")


class ProgramError(Exception):
    """An invalid program; ``errors`` lists every problem as ``key.path[i]: message``.

    Each error is one line: a key or value quoted from the file cannot split it.
    """

    def __init__(self, errors: Sequence[str], source: str | None = None) -> None:
        self.errors: list[str] = [printable(error, limit=None) for error in errors]
        self.source = source
        where = f" {source}" if source else ""
        lines = "\n".join(f"  - {error}" for error in self.errors)
        super().__init__(f"invalid program{where}:\n{lines}")


class ProgramFileError(ProgramError):
    """The program file cannot be read as text at all (missing, a directory, not UTF-8)."""


class ProgramModel(BaseModel):
    """Base of every program model: unknown keys are typos, and loaded rules never change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def join_path(base: str, sub: str) -> str:
    """``join_path("rewards[0]", "parts[1].stage")`` -> ``rewards[0].parts[1].stage``."""
    if not base:
        return sub
    if not sub:
        return base
    return f"{base}{sub}" if sub.startswith("[") else f"{base}.{sub}"


def key_segment(key: object) -> str:
    """A mapping key as a key path segment: plain keys as they are, others quoted
    (``stage_map.stages['Closed Won']``) so a space, dot or line break cannot blur the path."""
    text = str(key)
    return text if _PLAIN_SEGMENT.fullmatch(text) else f"['{printable(text)}']"


def rule_error(problems: Sequence[Problem]) -> PydanticCustomError:
    """A validation error carrying several path-named problems (see the module docstring)."""
    summary = "; ".join(f"{path}: {msg}" if path else msg for path, msg in problems)
    return PydanticCustomError(
        RULE_ERROR_TYPE, "{summary}", {"summary": summary, "problems": tuple(problems)}
    )


def raise_problems(problems: Sequence[Problem]) -> None:
    """Raise ``rule_error`` when there is anything to report."""
    if problems:
        raise rule_error(problems)


def _check_key(value: str) -> str:
    if not _KEY.fullmatch(value):
        raise ValueError("must be lowercase letters, digits or _ and start with a letter")
    return value


Key = Annotated[str, AfterValidator(_check_key)]
"""A stable identifier (referrer type, reward): stored on ledger rows, so kept slug-like."""

Text = Annotated[str, Field(min_length=1)]


def _lower_strip(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(v.strip().lower().lstrip("@") for v in values)


LowercaseList = Annotated[tuple[str, ...], AfterValidator(_lower_strip)]
"""Email domains or keywords, compared case-insensitively, so normalised once at load."""
