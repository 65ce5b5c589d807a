"""A referral site for tests: a migrated database with one referrer and their link, the
program rules, a fixed clock, and the web app on top."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from db.models import Account, Person, RateCounter, Referral, ReferralLink, Suppression
from domain.clock import FixedClock
from domain.program import Program
from domain.referral_codes import new_code
from web.context import WebContext

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def site_settings(url: str, data_dir: Path, **extra: object) -> Settings:
    values: dict[str, object] = {
        "DATABASE_URL": url,
        "REFERRALS_DATA_DIR": str(data_dir),
        "REFERRALS_SECRET_KEY": "web-tests-secret-key",
        **extra,
    }
    return Settings(**values)  # type: ignore[arg-type]


def add_referrer(
    factory: sessionmaker[Session],
    now: datetime,
    *,
    first_name: str = "Ana",
    company: str = "Acme Corp",
    email: str = "ana.lima@acmecorp.example",
    referrer_type: str = "client",
) -> str:
    """A client's champion with a personal link; returns the link's code."""
    code = new_code()
    with factory.begin() as session:
        account = Account(crm_id=f"crm-{code}", name=company, domain="acmecorp.example")
        session.add(account)
        session.flush()
        person = Person(account_id=account.id, first_name=first_name, last_name="Lima", email=email)
        session.add(person)
        session.flush()
        session.add(
            ReferralLink(
                code=code, person_id=person.id, referrer_type_key=referrer_type, created_at=now
            )
        )
    return code


def context_for(
    settings: Settings,
    factory: sessionmaker[Session],
    program: Program,
    clock: FixedClock,
    webhook_key: str | None = None,
) -> WebContext:
    return WebContext(settings, factory, program, clock, sendgrid_webhook_key=webhook_key)


def csrf_token(html: str) -> str:
    found = _TOKEN.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


@dataclass(frozen=True)
class Stored:
    """What the database holds after a request (the tests' only view of side effects)."""

    factory: sessionmaker[Session]

    def referrals(self) -> list[Referral]:
        with self.factory() as session:
            return list(session.scalars(select(Referral).order_by(Referral.id)))

    def suppressions(self) -> dict[str, str]:
        with self.factory() as session:
            return {s.email: s.reason for s in session.scalars(select(Suppression))}

    def counters(self) -> list[RateCounter]:
        with self.factory() as session:
            return list(session.scalars(select(RateCounter)))


VALID = {
    "name": "Bea Ng",
    "email": "bea.ng@prospect.example",
    "company": "Prospect Ltd",
    "role": "CFO",
    "note": "Looking at tools this quarter.",
}


def submit(client: Any, path: str, fields: dict[str, str], *, page: str | None = None) -> Any:
    """Open the form's page (which sets the CSRF cookie) and post ``fields`` with its token."""
    shown = client.get(page or path.split("?")[0])
    assert shown.status_code == 200, shown.text
    return client.post(path, data={"csrf_token": csrf_token(shown.text), **fields})
