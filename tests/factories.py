"""Small builders for rows the tests need."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from db.engine import transaction
from db.repositories.outbox import NewMessage, enqueue
from domain.program import load_preset
from domain.statuses import OutboxChannel
from integrations.ports import ReferralPush
from simulation.book import Book
from simulation.team_file import write_team_file
from tasks.signal_files import read_rows


def email(n: int, prefix: str = "test") -> NewMessage:
    return NewMessage(
        channel=OutboxChannel.EMAIL,
        operation="send_email",
        recipient=f"person{n}@client{n}.example",
        dedupe_key=f"{prefix}:email:{n}",
        template="thanks_closed_won",
        payload={"subject": f"Thanks #{n}", "text": f"Thank you, person {n}."},
    )


def chat(n: int, prefix: str = "test") -> NewMessage:
    return NewMessage(
        channel=OutboxChannel.CHAT,
        operation="post_message",
        recipient=f"U{n:08d}",
        dedupe_key=f"{prefix}:chat:{n}",
        payload={"text": f"Digest {n}", "blocks": []},
    )


def enqueue_messages(
    factory: sessionmaker[Session], messages: list[NewMessage], now: datetime
) -> int:
    with transaction(factory) as session:
        return enqueue(session, messages, now)


def referral_push(n: int, **overrides: object) -> ReferralPush:
    """A referral to push to the CRM: prospect ``n`` with its own domain unless overridden."""
    values: dict[str, object] = {
        "referral_key": f"ref-{n}",
        "company_name": f"Prospect {n}",
        "company_domain": f"prospect{n}.example",
        "contact_email": f"cfo@prospect{n}.example",
        "contact_first_name": "Bea",
        "contact_last_name": "Ng",
        "contact_title": "CFO",
        "deal_name": f"Prospect {n} (referral)",
        "pipeline_id": "default",
        "stage_id": "appointmentscheduled",
        "referred_by_email": "ana@client.example",
        "referrer_type": "client",
    }
    return ReferralPush(**{**values, **overrides})  # type: ignore[arg-type]


def book_in_sandbox(factory: sessionmaker[Session], book: Book, folder: Path) -> None:
    """A generated book the way a new user gets one going: into the sandbox CRM, one sync
    (its owners become team members), then the team file an admin writes (roles)."""
    from integrations.sandbox.crm import SandboxCrm
    from tasks.load_book import load_book
    from tasks.sync_crm import sync_crm
    from tasks.team import import_team

    load_book(factory, book)
    sync_crm(factory, SandboxCrm(factory), load_preset("saas"), object_types=("owners",))
    write_team_file(book, folder / "team.csv")
    report = import_team(factory, read_rows(folder / "team.csv"))
    assert report.rejected == 0, report.errors
