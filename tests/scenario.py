"""A small world for ask tests: CSMs, accounts, people and signals, straight into the tables."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from itertools import count

from sqlalchemy.orm import Session, sessionmaker

from db.models import Account, Person, Signal, TeamMember
from domain.signals import SignalKind, SignalSource
from domain.statuses import TeamRole

_ids = count(1)


class World:
    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def csm(
        self,
        name: str = "Casey Ng",
        team: str = "team-north",
        slack: str | None = None,
        role: TeamRole | None = TeamRole.CSM,
    ) -> int:
        n = next(_ids)
        with self.factory.begin() as session:
            member = TeamMember(
                email=f"csm{n}@vendor.example",
                name=name,
                team=team,
                role=role,
                crm_owner_id=f"owner-{n}",
                slack_user_id=slack,
            )
            session.add(member)
            session.flush()
            return member.id

    def account(
        self,
        csm_id: int | None,
        name: str = "Acme",
        segment: str = "smb",
        health: int = 80,
        **flags: bool,
    ) -> int:
        n = next(_ids)
        with self.factory.begin() as session:
            owner = session.get(TeamMember, csm_id) if csm_id is not None else None
            account = Account(
                crm_id=f"c{n}",
                name=f"{name} {n}",
                domain=f"acme{n}.example",
                segment=segment,
                owner_id=csm_id,
                owner_crm_id=owner.crm_owner_id if owner else None,
                health_score=health,
                **flags,
            )
            session.add(account)
            session.flush()
            return account.id

    def person(
        self, account_id: int, title: str = "CFO", seniority: str = "c_level", **kw: object
    ) -> int:
        n = next(_ids)
        with self.factory.begin() as session:
            person = Person(
                account_id=account_id,
                crm_id=f"p{n}",
                first_name=f"Ana{n}",
                last_name="Lima",
                email=f"ana{n}@acme.example",
                title=title,
                seniority=seniority,
                **kw,
            )
            session.add(person)
            session.flush()
            return person.id

    def signal(
        self,
        account_id: int,
        kind: SignalKind,
        at: datetime,
        value: float | None = None,
        person_id: int | None = None,
        text: str | None = None,
    ) -> int:
        n = next(_ids)
        with self.factory.begin() as session:
            account = session.get(Account, account_id)
            signal = Signal(
                external_id=f"s{n}",
                kind=kind,
                source=SignalSource.CLI,
                account_crm_id=account.crm_id if account else "?",
                account_id=account_id,
                person_id=person_id,
                value=Decimal(str(value)) if value is not None else None,
                text=text,
                occurred_at=at,
                ingested_at=at,
            )
            session.add(signal)
            session.flush()
            return signal.id

    def link(self, person_id: int, referrer_type: str = "client") -> str:
        """A referrer's personal link; returns its code."""
        from datetime import UTC
        from datetime import datetime as dt

        from db.models import ReferralLink
        from domain.referral_codes import new_code

        code = new_code()
        with self.factory.begin() as session:
            session.add(
                ReferralLink(
                    code=code,
                    person_id=person_id,
                    referrer_type_key=referrer_type,
                    created_at=dt(2026, 1, 1, tzinfo=UTC),
                )
            )
        return code
