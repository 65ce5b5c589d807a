"""Hypothesis strategies for referrals files (``referrals import referrals FILE.csv``).

Each row is built with its expected outcome, as in ``signal_cases``:

- ``valid``: must be stored (its company is ``Co v<index> ...``, unique in the file);
- ``invalid``: one field made certainly wrong; must be rejected and named by its line and
  that field, and leave nothing behind (company ``Co i<index> ...``);
- ``any``: one field replaced by arbitrary text; stored or rejected, but one of the two
  (company ``Co a<index> ...``).

Referrers are the seeded champion, a suppressed champion, or a new partner the program has
never met (one address per row, so a rejected row's address shows whether it left a person
behind). ``SECRET`` is planted in values: no message may repeat it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from hypothesis import strategies as st

from domain.referrals.intake import REFERRAL_COLUMNS

SECRET = "Zq9secret"
REQUIRED_HEADER = ("referrer_email", "company")


@dataclass(frozen=True)
class Seeded:
    """What the database held before the file: addresses and ids the rows may use."""

    referrer: str
    suppressed_referrer: str
    ask_id: int
    missing_ask_id: int  # no ask has this id


@dataclass
class Row:
    outcome: str  # valid | invalid | any
    values: dict[str, str]
    company: str
    bad_field: str | None = None
    line: int = 0


@dataclass
class ReferralFile:
    data: bytes
    rows: list[Row] = field(default_factory=list)


_SAFE = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", max_size=12)
_WORDS = st.text(
    st.characters(exclude_categories=("Cc", "Cs", "Cf", "Co", "Cn", "Zl", "Zp")), max_size=40
).map(lambda t: " ".join(t.split()))
_ANY = st.text(max_size=60) | st.sampled_from(["", " ", '"', "\r\n", "\x00", "\uff11\uff12", "²"])


def _cased(draw: st.DrawFn, value: str) -> str:
    return draw(st.sampled_from([value, value.upper(), f" {value} "]))


@st.composite
def valid_row(draw: st.DrawFn, index: int, seeded: Seeded) -> Row:
    company = f"Co v{index} {draw(_SAFE)}".strip()
    referrer = draw(
        st.sampled_from(
            [seeded.referrer, seeded.suppressed_referrer, f"{SECRET}.p{index}@partner.example"]
        )
    )
    values = {
        "referrer_email": _cased(draw, referrer),
        "company": company,
        "domain": draw(
            st.sampled_from(["", f"v{index}.example", f"https://www.V{index}.example/about"])
        ),
        "contact_email": draw(st.sampled_from(["", f"{SECRET}.c{index}@lead{index}.example"])),
        "contact_name": draw(_WORDS),
        "role": draw(_WORDS),
        "note": draw(st.text(max_size=80).map(lambda t: t.replace("\x00", ""))),
        "channel": draw(st.sampled_from(["", "sales_assisted", "EMAIL_INTRO", " email_intro "])),
        "referrer_type": draw(st.sampled_from(["", "client", "partner"])),
        "industry": draw(_WORDS),
        "ask_id": draw(st.sampled_from(["", str(seeded.ask_id)])),
        "external_id": draw(st.sampled_from(["", f"v{index}-{draw(_SAFE)}"])),
    }
    return Row("valid", values, company)


# field -> ways it can be certainly wrong (whatever the rest of the row holds)
_INVALID: dict[str, list[str]] = {
    "referrer_email": ["", "   ", SECRET, f"{SECRET}@", f"a b@{SECRET}.x"],
    "company": ["", "   ", "\x00Acme", "x" * 301, SECRET + "x" * 1300],
    "contact_email": [f"{SECRET}@", "a\x00b@c.example", f"{SECRET} at x.example"],
    "domain": [f"{SECRET} dot com", "a\x00b.example", "-.-"],
    "contact_name": ["x" * 201, "Bea\x00Ng"],
    "role": ["y" * 201],
    "note": ["z" * 2001],
    "channel": ["fax", f"{SECRET}", "link"],
    "referrer_type": ["nosuchtype", f"{SECRET}"],
    "ask_id": ["abc", "-1", "1.5", "²", "١٢", "99999999999999999999", "MISSING"],
    "external_id": ["e" * 201],
}


@st.composite
def invalid_row(draw: st.DrawFn, index: int, seeded: Seeded) -> Row:
    row = draw(valid_row(index, seeded))
    name = draw(st.sampled_from(sorted(_INVALID)))
    value = draw(st.sampled_from(_INVALID[name]))
    if value == "MISSING":
        value = str(seeded.missing_ask_id)
    company = f"Co i{index}"
    values = {**row.values, "company": company, name: value}
    if name == "company":
        company = f"Co i{index} (never)"
    if name != "referrer_email":
        # A partner's address of its own: a rejected row must not leave that person behind.
        values["referrer_email"] = f"{SECRET}.r{index}@partner.example"
    return Row("invalid", values, company, bad_field=name)


@st.composite
def any_row(draw: st.DrawFn, index: int, seeded: Seeded) -> Row:
    row = draw(valid_row(index, seeded))
    company = f"Co a{index}"
    name = draw(st.sampled_from([c for c in REFERRAL_COLUMNS if c != "company"]))
    return Row("any", {**row.values, "company": company, name: draw(_ANY)}, company)


@st.composite
def referral_file(draw: st.DrawFn, seeded: Seeded, max_rows: int = 6) -> ReferralFile:
    rows: list[Row] = []
    for index in range(draw(st.integers(0, max_rows))):
        kind = draw(st.sampled_from(["valid", "invalid", "any", "valid", "invalid"]))
        maker = {"valid": valid_row, "invalid": invalid_row, "any": any_row}[kind]
        rows.append(draw(maker(index, seeded)))
    optional = [c for c in REFERRAL_COLUMNS if c not in REQUIRED_HEADER]
    header = draw(st.permutations([*REQUIRED_HEADER, *optional]))
    ending = draw(st.sampled_from(["\r\n", "\n"]))
    quoting = csv.QUOTE_ALL if ending == "\n" else csv.QUOTE_MINIMAL  # see signal_cases
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator=ending, quoting=quoting)
    writer.writerow(header)
    for row in rows:
        row.line = _lines_ended(out.getvalue()) + 1
        writer.writerow([row.values.get(name, "") for name in header])
    text = draw(st.sampled_from(["", "\ufeff"])) + out.getvalue()
    return ReferralFile(text.encode("utf-8", "surrogatepass"), rows)


def _lines_ended(text: str) -> int:
    return sum(1 for line in io.StringIO(text, newline="") if line.endswith(("\n", "\r")))
