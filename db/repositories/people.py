"""The program's known people, searched by name or account: the Slack intro form's referrer
picker. One set-based query; the caller turns rows into what it shows."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from db.models import Account, Person

MAX_CHOICES = 20
_ESCAPE = "\\"


@dataclass(frozen=True)
class PersonChoice:
    person_id: int
    first_name: str
    last_name: str
    account_name: str | None


def _contains(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, its wildcards taken literally."""
    for char in (_ESCAPE, "%", "_"):
        text = text.replace(char, _ESCAPE + char)
    return f"%{text}%"


def search_people(session: Session, query: str, limit: int = MAX_CHOICES) -> list[PersonChoice]:
    """People with an email who have not opted out, whose first name, last name, full name
    or account name contains ``query`` (any case); at most ``limit``, ordered by last name,
    first name, account name and id. An empty query finds nobody."""
    needle = " ".join(query.split()).lower()
    if not needle or limit <= 0:
        return []
    pattern = _contains(needle)
    account_name = func.coalesce(Account.name, "")
    full_name = Person.first_name + " " + Person.last_name
    searched = (Person.first_name, Person.last_name, full_name, account_name)
    rows = session.execute(
        select(Person.id, Person.first_name, Person.last_name, Account.name)
        .outerjoin(Account, Account.id == Person.account_id)
        .where(
            func.trim(Person.email) != "",
            Person.opted_out.is_(False),
            or_(*(func.lower(column).like(pattern, escape=_ESCAPE) for column in searched)),
        )
        .order_by(
            func.lower(Person.last_name),
            func.lower(Person.first_name),
            func.lower(account_name),
            Person.id,
        )
        .limit(limit)
    )
    return [PersonChoice(pid, first or "", last or "", name) for pid, first, last, name in rows]
