"""Issue 9's acceptance, as an admin sees it: intros recorded at the command line, decided by
`referrals run track-referrals` (through Prefect), read back with `referrals referrals show` and
`referrals review list`; a second run adds nothing; an unsubscribed referrer hears nothing more."""

from __future__ import annotations

import email
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from cli.main import app
from core.settings import get_settings
from db.models import Account, OutboxMessage, Person, SandboxDeal, SandboxDealStageEntry
from domain.statuses import OutboxStatus
from tasks.context import app_context
from tasks.referrals.unsubscribe import unsubscribe
from tests.scenario import World

pytestmark = pytest.mark.prefect
T = datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.fixture
def cli(flow_env: Path, monkeypatch: pytest.MonkeyPatch):
    program = flow_env / "program.yaml"
    program.write_text(
        program.read_text().replace("excluded_domains: []", "excluded_domains: [rival.example]", 1)
    )
    monkeypatch.chdir(flow_env)
    get_settings.cache_clear()
    app_context.cache_clear()
    runner = CliRunner()

    def invoke(*args: str) -> str:
        result = runner.invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    return invoke


def clients(factory) -> tuple[str, str]:
    """Two client champions, each at their own company; returns their emails."""
    w = World(factory)
    csm = w.csm(slack="U0CSM00001")
    emails = []
    for domain in ("northwind.example", "contoso.example"):
        account = w.account(csm, name=domain)
        person = w.person(account)
        with factory.begin() as session:
            session.get(Account, account).domain = domain
            found = session.get(Person, person)
            found.email = f"champion@{domain}"
            emails.append(found.email)
    return emails[0], emails[1]


def refer(cli, referrer: str, company: str, *options: str) -> int:
    at = (T - timedelta(hours=1)).isoformat()
    out = cli("refer", "--referrer", referrer, "--company", company, *options, "--at", at, "--json")
    return json.loads(out)["referral_id"]


def show(cli, referral_id: int) -> dict:
    return json.loads(cli("referrals", "show", str(referral_id), "--json"))


def emails_to(factory, address: str) -> list[str]:
    with factory() as session:
        return list(
            session.scalars(
                select(OutboxMessage.template).where(
                    OutboxMessage.channel == "email",
                    OutboxMessage.recipient == address,
                    OutboxMessage.status != OutboxStatus.SUPPRESSED,
                )
            )
        )


def test_two_clients_one_company_refusals_review_reruns_and_unsubscribe(
    cli, committed_factory, flow_env
):
    north, contoso = clients(committed_factory)
    first = refer(cli, north, "Acme", "--domain", "acme.io", "--contact-email", "cfo@acme.io")
    second = refer(cli, contoso, "ACME Inc", "--domain", "www.Acme.io")
    own = refer(cli, north, "Northwind", "--contact-email", "boss@northwind.example")
    rival = refer(cli, contoso, "Rival", "--domain", "rival.example")
    personal = refer(cli, north, "Someone's shop", "--contact-email", "someone@gmail.com")

    ran = json.loads(cli("run", "track-referrals", "--at", T.isoformat(), "--json"))
    assert {"step": "CRM pushes delivered", "count": 1} in ran, ran

    assert show(cli, first)["status"] == "eligible" and show(cli, first)["crm_deal"]
    assert show(cli, second)["status"] == "duplicate"
    assert show(cli, second)["duplicate_of"] == first
    refused = show(cli, own)
    assert refused["status"] == "ineligible"
    assert "self_referral_domain" in refused["reason_codes"], refused
    assert "referrer" in refused["decision"]
    excluded = show(cli, rival)
    assert excluded["status"] == "ineligible" and excluded["reason_codes"] == ["excluded_domain"]
    in_review = json.loads(cli("review", "list", "--json"))
    assert [r["id"] for r in in_review] == [personal]
    assert "personal_email_referred" in in_review[0]["reasons"]
    text = cli("referrals", "show", str(own))
    assert "self_referral_domain" in text and "ineligible" in text

    with committed_factory() as session:
        assert session.scalar(select(func.count()).select_from(SandboxDeal)) == 1
        outbox_rows = session.scalar(select(func.count()).select_from(OutboxMessage))
    assert emails_to(committed_factory, north).count("referral_received") == 3

    cli("run", "track-referrals", "--at", (T + timedelta(hours=1)).isoformat())
    with committed_factory() as session:
        assert session.scalar(select(func.count()).select_from(SandboxDeal)) == 1
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == outbox_rows

    # The champion unsubscribes with the link of the email they got; then the deal moves on.
    token = unsubscribe_token(flow_env, north)
    assert unsubscribe(committed_factory, get_settings(), token, T + timedelta(days=1))
    moved = T + timedelta(days=3)
    with committed_factory.begin() as session:
        deal = session.scalars(select(SandboxDeal)).one()
        deal.stage_id, deal.stage_entered_at, deal.updated_at = "qualifiedtobuy", moved, moved
        session.add(
            SandboxDealStageEntry(deal_id=deal.id, stage_id="qualifiedtobuy", entered_at=moved)
        )
    cli("run", "sync-crm", "--at", moved.isoformat())
    later = json.loads(cli("run", "track-referrals", "--at", moved.isoformat(), "--json"))
    assert {"step": "feedback not sent (suppressed or no address)", "count": 1} in later, later
    assert show(cli, first)["stage"] == "discovery"
    assert "intro_contacted" not in emails_to(committed_factory, north)


def unsubscribe_token(folder: Path, address: str) -> str:
    """The token of the one-click link in the newest email the sandbox wrote to ``address``."""
    for path in sorted(folder.rglob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True):
        message = email.message_from_bytes(path.read_bytes())
        if message["To"] == address:
            header = message["List-Unsubscribe"]
            assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            url = re.search(r"<(https?://[^>]+)>", header).group(1)
            return urlsplit(url).path.rsplit("/", 1)[1]
    raise AssertionError(f"no email to {address}")
