"""Hypothesis strategies for signal files: each line is built with its expected outcome.

A line is one of:

- ``valid``: a row that must be stored with exactly these facts;
- ``invalid``: a valid row with one field made certainly wrong (a NUL, a control character,
  a byte that is not UTF-8, a date near the ends of the calendar, a number too big or not a
  number, a field over its length or over csv's field limit, an unknown column, a missing
  required field): it must be rejected and named by its line and, where the row could be
  read, by that field;
- ``any``: a row with one field replaced by arbitrary text or JSON, or a line of junk: it
  may be stored or rejected, but must be one of the two.

Valid rows get unique external ids starting with ``v``, and junk never contains a ``v``, so
junk can never claim a valid row's id. ``SECRET`` is planted in emails, texts and bad
values: no error message may repeat it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from typing import Any

from hypothesis import strategies as st

from domain.signal_rows import FIELDS, MAX_LENGTH, REQUIRED
from domain.signals import SCORED_KINDS, SignalKind, SignalSource

SECRET = "Zq9secret"
BAD_BYTE_MARK = "\ue000"  # replaced by a byte that is not UTF-8 once the file is encoded
CSV_FIELD_LIMIT = 131_072


@dataclass
class Line:
    outcome: str  # "valid" | "invalid" | "any"
    values: dict[str, Any] | None = None  # None: a junk line
    junk: str = ""
    bad_field: str | None = None  # the field an invalid line is wrong in (None: the whole row)
    expected: dict[str, Any] = field(default_factory=dict)  # stored facts of a valid line


@dataclass
class SignalFile:
    suffix: str  # ".csv" | ".jsonl"
    data: bytes
    lines: dict[int, Line]  # line number in the file -> what was written there


# --- valid values --------------------------------------------------------------------------
# Strategies are built once, here: building them inside each draw costs more than drawing.

_PLAIN = st.characters(exclude_categories=("Cc", "Cs"), exclude_characters=BAD_BYTE_MARK + "v\x00")
_FIRST = _PLAIN.filter(lambda c: not c.isspace())
_TAIL = st.text(_PLAIN, max_size=20)
_BOOL = st.booleans()
_FLIPS = st.lists(st.booleans(), max_size=25)
_ALNUM = "abcdefghijklmnopqrstuwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_EMAIL = st.builds(
    lambda local, host, tld: f"{SECRET}{local}@{host}.{tld}",
    st.text(_ALNUM + "._+-", min_size=1, max_size=20),
    st.text(_ALNUM + "-", min_size=1, max_size=20),
    st.text(_ALNUM[:25], min_size=2, max_size=6),
)
_UTC = st.datetimes(datetime(1900, 1, 1), datetime(2199, 12, 31, 23, 59, 59)).map(
    lambda naive: naive.replace(tzinfo=UTC)
)
_OFFSET_MINUTES = st.integers(-(24 * 60 - 1), 24 * 60 - 1)
_CENTS = st.integers(-(10**14) + 1, 10**14 - 1)
_SCORES = {kind: st.integers(low, high) for kind, (low, high) in SCORED_KINDS.items()}
_TEXT = st.text(_PLAIN | st.sampled_from("\n\r\t"), max_size=80)


@lru_cache(maxsize=512)
def _below(count: int) -> st.SearchStrategy[int]:
    return st.integers(0, count - 1)


def _pick(draw: st.DrawFn, options: Sequence[Any]) -> Any:
    return options[draw(_below(len(options)))]


def _identifier(draw: st.DrawFn, prefix: str, limit: int) -> str:
    """Up to ``limit`` characters, never blank, equal to itself stripped."""
    fill = "_" * draw(_below(limit + 1))  # reaches the limit, cheaply
    return f"{prefix or draw(_FIRST)}{draw(_TAIL)}{fill}"[:limit].strip()


def _enum_text(draw: st.DrawFn, value: str) -> str:
    flips = draw(_FLIPS) + [False] * len(value)
    cased = "".join(c.upper() if flip else c for c, flip in zip(value, flips, strict=False))
    pad = _pick(draw, ["", " ", "\u00a0", " \u2003"])
    return pad + cased + pad.strip(" ")


def _instant(draw: st.DrawFn) -> tuple[str, datetime]:
    utc = draw(_UTC)
    style = _pick(draw, ["offset", "zulu", "date"])
    if style == "date":
        utc = utc.replace(hour=0, minute=0, second=0, microsecond=0)
        return utc.date().isoformat(), utc
    if style == "zulu":
        return utc.isoformat().replace("+00:00", "Z"), utc
    local = utc.astimezone(timezone(timedelta(minutes=draw(_OFFSET_MINUTES))))
    return local.isoformat(), utc


def _value(draw: st.DrawFn, kind: SignalKind) -> tuple[Any, Decimal | None]:
    if kind in SCORED_KINDS:
        score = draw(_SCORES[kind])
        return _pick(draw, [str(score), f"{score}.0", f" {score}.00 ", score]), Decimal(score)
    if draw(_BOOL):
        return None, None
    amount = Decimal(draw(_CENTS)).scaleb(-2)
    return _pick(draw, [str(amount), f" {amount}"]), amount


@st.composite
def valid_row(draw: st.DrawFn, index: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Values to write and the facts that must be stored."""
    kind = _pick(draw, list(SignalKind))
    external_id = _identifier(draw, f"v{index}-", MAX_LENGTH["external_id"])
    account = _identifier(draw, "", MAX_LENGTH["account_crm_id"])
    email = draw(_EMAIL) if draw(_BOOL) else None
    value, amount = _value(draw, kind)
    text = _pick(draw, [None, draw(_TEXT), f"{SECRET} {draw(_TEXT)}"])
    occurred, instant = _instant(draw)
    source = _pick(draw, [None, *SignalSource])
    written = {
        "external_id": external_id,
        "kind": _enum_text(draw, kind.value),
        "account_crm_id": account,
        "person_email": email,
        "value": value,
        "text": text,
        "occurred_at": occurred,
        "source": _enum_text(draw, source.value) if source else None,
    }
    expected = {
        "external_id": external_id,
        "kind": kind,
        "account_crm_id": account,
        "person_email": email.lower() if email else None,
        "value": amount,
        "text": (text.strip() or None) if text is not None else None,
        "occurred_at": instant,
        "source": source or SignalSource.FILE,
    }
    return written, expected


# --- certainly invalid values --------------------------------------------------------------


def _inserted(draw: st.DrawFn, text: str, piece: str) -> str:
    at = draw(_below(len(text) + 1))
    return text[:at] + piece + text[at:]


@st.composite
def invalid_value(draw: st.DrawFn, name: str, row: dict[str, Any], csv_file: bool) -> Any:
    """A value for ``name`` that the validator must refuse, whatever the rest of the row."""
    base = str(row[name] if row[name] is not None else "x")
    choices = ["nul", "bad_byte", "too_long"]
    if name != "text":
        choices.append("control")
    if name in REQUIRED:
        choices.append("missing")
    if not csv_file:
        choices.append("not_scalar")
    choices += {
        "kind": ["not_member"],
        "source": ["not_member"],
        "person_email": ["not_email"],
        "value": ["not_number"],
        "occurred_at": ["bad_instant"],
    }.get(name, [])
    how = _pick(draw, choices)
    if how == "nul":
        return _inserted(draw, base, "\x00")
    if how == "bad_byte":
        return _inserted(draw, base, BAD_BYTE_MARK)
    if how == "control":
        control = _pick(draw, "\x01\x07\x0b\x1b\x7f\x85\n\r\t")
        return _inserted(draw, base.strip() or "x", "x" + control + "x")
    if how == "missing":
        return _pick(draw, [None, "", "   "])
    if how == "not_scalar":
        return _pick(draw, [[], [1], {"a": SECRET}, True, False])
    if how == "not_member":
        return f"{SECRET}{draw(_TAIL)}"
    if how == "not_email":
        return _pick(draw, [SECRET, f"{SECRET}@", f"{SECRET}@host", f"a b@{SECRET}.x"])
    if how == "not_number":
        return _pick(
            draw, ["1e999999", "NaN", "-Infinity", "sNaN", "12.345", "1e12", SECRET, "1" * 5000]
        )
    if how == "bad_instant":
        return _bad_instant(draw)
    limit = MAX_LENGTH.get(name, 64)  # too_long; kind, value, ... have no room for 64 chars
    return SECRET + "x" * _pick(draw, [limit + 1, limit + 1000])


_FAR = st.datetimes(datetime(1, 1, 1), datetime(1899, 12, 30)) | st.datetimes(
    datetime(2200, 1, 2), datetime(9999, 12, 31, 23, 59, 59)
)
_NONZERO_MINUTES = st.integers(1, 24 * 60 - 1)


def _bad_instant(draw: st.DrawFn) -> str:
    offset = timezone(timedelta(minutes=draw(_NONZERO_MINUTES) * _pick(draw, [1, -1])))
    far = draw(_FAR)
    edge = _pick(draw, [datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59), far])
    return _pick(
        draw,
        [
            edge.replace(tzinfo=offset).isoformat(),
            far.replace(tzinfo=UTC).isoformat(),
            far.date().isoformat(),
            datetime(2026, 2, 1, 9).isoformat(),  # naive
            f"{SECRET} yesterday",
        ],
    )


# --- arbitrary values and junk -------------------------------------------------------------

JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(st.characters(exclude_characters="v")),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)


# No line break (one junk line stays one line), no quote in CSV (it would swallow the lines
# after it into one field), no "v" (see the module docstring).
_JUNK = {
    csv_file: st.text(st.characters(exclude_characters=banned), min_size=1, max_size=200)
    for csv_file, banned in ((True, 'v\n\r"'), (False, "v\n\r"))
}


# --- whole files ---------------------------------------------------------------------------


@st.composite
def signal_file(draw: st.DrawFn, max_rows: int = 8) -> SignalFile:
    suffix = _pick(draw, [".csv", ".jsonl"])
    csv_file = suffix == ".csv"
    lines: list[Line] = []
    for index in range(draw(_below(max_rows + 1))):
        written, expected = draw(valid_row(index))
        outcome = _pick(draw, ["valid", "invalid", "any", "valid", "invalid"])
        if outcome == "valid":
            lines.append(Line("valid", written, expected=expected))
        elif outcome == "invalid":
            lines.append(draw(_invalid_line(written, csv_file)))
        elif draw(_BOOL):
            name = _pick(draw, FIELDS[1:])  # the id stays a "v" id: see the docstring
            junk_value = draw(_JUNK[csv_file] if csv_file else JSONISH)
            lines.append(Line("any", {**written, "external_id": f"a{index}", name: junk_value}))
        else:
            lines.append(Line("any", junk=draw(_JUNK[csv_file])))
    return _csv_file(draw, lines) if csv_file else _jsonl_file(draw, lines)


@st.composite
def _invalid_line(draw: st.DrawFn, written: dict[str, Any], csv_file: bool) -> Line:
    extras = ["huge_field"] if csv_file else ["unknown_column", "unreadable_json"]
    name = _pick(draw, FIELDS if draw(_below(3)) else extras)  # a third are whole-row cases
    if name == "huge_field":  # over csv's own field limit: the row cannot even be read
        return Line("invalid", {**written, "text": "x" * (CSV_FIELD_LIMIT + 1)}, bad_field=None)
    if name == "unreadable_json":  # json.loads itself raises ValueError or RecursionError
        junk = _pick(draw, ['{"value": ' + "9" * 5000 + "}", "[" * 100_000, "{" + SECRET])
        return Line("invalid", junk=junk, bad_field=None)
    if name == "unknown_column":
        return Line("invalid", {**written, "colour": SECRET}, bad_field="colour")
    value = draw(invalid_value(name, written, csv_file))
    return Line("invalid", {**written, name: value}, bad_field=name)


def _encode(text: str, bad_byte: bytes) -> bytes:
    # surrogatepass: arbitrary text may hold lone surrogates; written raw they are not UTF-8
    return text.encode("utf-8", "surrogatepass").replace(BAD_BYTE_MARK.encode(), bad_byte)


_BAD_BYTES = st.sampled_from([b"\x80", b"\xbf", b"\xc0", b"\xe9", b"\xf5", b"\xff"])


def _csv_file(draw: st.DrawFn, lines: list[Line]) -> SignalFile:
    header = draw(st.permutations(FIELDS))
    # csv.writer quotes a field only for the characters of its own line ending: with "\n" it
    # would leave a "\r" in a text bare, which every reader takes for a line break.
    ending, quoting = _pick(draw, [("\r\n", csv.QUOTE_MINIMAL), ("\n", csv.QUOTE_ALL)])
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator=ending, quoting=quoting)
    text = _pick(draw, ["", "\ufeff"])
    writer.writerow(header)
    numbered: dict[int, Line] = {}
    for line in lines:
        text += out.getvalue()
        out.seek(0)
        out.truncate()
        if draw(_below(6)) == 0:
            text += ending  # a blank line: skipped, but counted
        number = _count_lines(text) + 1
        numbered[number] = line
        if line.values is None:
            text += line.junk + ending
        else:
            writer.writerow([_cell(line.values.get(name)) for name in header])
    text += out.getvalue()
    return SignalFile(".csv", _encode(text, draw(_BAD_BYTES)), numbered)


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _jsonl_file(draw: st.DrawFn, lines: list[Line]) -> SignalFile:
    ascii_only = draw(_BOOL)
    text = _pick(draw, ["", "\ufeff"])
    numbered: dict[int, Line] = {}
    for line in lines:
        if draw(_below(6)) == 0:
            text += " \n"
        numbered[_count_lines(text) + 1] = line
        if line.values is None:
            text += line.junk + "\n"
        else:
            kept = {k: v for k, v in line.values.items() if v is not None or draw(_BOOL)}
            text += json.dumps(kept, ensure_ascii=ascii_only) + "\n"
    if ascii_only:
        text = text.replace(json.dumps(BAD_BYTE_MARK)[1:-1], BAD_BYTE_MARK)
    return SignalFile(".jsonl", _encode(text, draw(_BAD_BYTES)), numbered)


def _count_lines(text: str) -> int:
    """Lines ended so far, as Python's reader counts them (\\n, \\r and \\r\\n end one)."""
    return sum(1 for line in io.StringIO(text, newline="") if line.endswith(("\n", "\r")))
