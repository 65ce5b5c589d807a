"""What people type is shown, never run: escaped in pages, never HTML in emails (every email
is text/plain, in the .eml and in SendGrid's request alike), escaped for Slack's mrkdwn (no
``<!channel>``, mention or link can be slipped in). And an address that unsubscribed gets no
email from any template: each ends ``suppressed`` and nothing is written.
"""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from db.engine import transaction
from db.models import OutboxMessage
from db.repositories.outbox import enqueue
from db.repositories.suppressions import NewSuppression, suppress
from domain.digest import mrkdwn
from domain.program import load_preset
from domain.statuses import OutboxChannel, OutboxStatus
from domain.templates import ALLOWED_VARIABLES
from integrations.deliverers import EmailDeliverer
from integrations.ports import OutboundItem
from integrations.sandbox.email_folder import EmailFolderSender
from integrations.sendgrid.mail import mail_body
from tasks.outbox_dispatch import dispatch_outbox
from tasks.referrals.emails import ReferrerFacts, RewardFacts, referrer_message
from tests.conftest import T0
from tests.web.conftest import MakeSite
from tests.web.site import add_referrer, csrf_token
from web.slack.blocks import notice, recorded

EVIL = '<script>alert("x")</script><!channel> <@U0BOSS> <https://evil.example|click> & Co'
PROGRAM = load_preset("saas")
SETTINGS = Settings(REFERRALS_SECRET_KEY="escaping-tests")  # type: ignore[call-arg]
REFERRER_TEMPLATES = [
    name
    for name in ALLOWED_VARIABLES
    if name.startswith(("referral_", "intro_", "thanks_", "reward_"))
]


def test_typed_and_stored_html_is_escaped_in_pages(make_site: MakeSite) -> None:
    site = make_site()
    code = add_referrer(site.factory, T0, first_name=EVIL, company=EVIL, email="evil@acme.example")
    landing = site.client.get(f"/r/{code}")
    assert landing.status_code == 200
    assert "<script>" not in landing.text and "&lt;script&gt;" in landing.text
    page = site.client.get("/refer")
    answer = site.client.post(
        "/refer",
        data={"csrf_token": csrf_token(page.text), "code": EVIL, "name": EVIL, "company": EVIL},
    )
    assert answer.status_code == 422
    assert "<script>" not in answer.text and "<!channel>" not in answer.text


@pytest.mark.parametrize("template", REFERRER_TEMPLATES)
def test_emails_are_plain_text_in_the_eml_and_in_sendgrids_request(
    template: str, tmp_path: Path
) -> None:
    facts = ReferrerFacts(1, "ana@acme.example", EVIL, EVIL, EVIL, EVIL, "https://r.example/r/X")
    reward = RewardFacts(7, EVIL, "$100", EVIL) if template.startswith("reward_") else None
    message = referrer_message(PROGRAM, SETTINGS, template, facts, reward)
    assert "html" not in message.payload  # no HTML part: nothing typed can render as HTML
    item = OutboundItem(message.dedupe_key, message.operation, message.recipient, message.payload)
    built = EmailDeliverer._message(item)
    assert [c["type"] for c in mail_body(built, "program@example.com")["content"]] == ["text/plain"]
    EmailFolderSender(tmp_path, "program@example.com").send([built])
    [eml] = tmp_path.glob("*.eml")
    parsed = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert {part.get_content_type() for part in parsed.walk() if not part.is_multipart()} == {
        "text/plain"
    }


def test_slack_text_from_people_cannot_mention_link_or_format() -> None:
    escaped = mrkdwn(EVIL)
    assert "<" not in escaped and ">" not in escaped
    assert "&lt;!channel&gt;" in escaped and "&amp; Co" in escaped
    line = recorded("ask:1", EVIL, "U0CSM0001", T0)["elements"][0]["text"]
    assert "<!channel>" not in line and "<@U0BOSS>" not in line and "<https://" not in line
    assert "<@U0CSM0001>" in line  # only the mention the app itself makes
    shown = str(notice(f"Intro logged: {mrkdwn(EVIL)}"))
    assert "<!channel>" not in shown


# --- unsubscribes: every email path --------------------------------------------------------


def _suppressed(factory: sessionmaker[Session], address: str) -> None:
    with transaction(factory) as session:
        suppress(session, [NewSuppression(address, "unsubscribe", "link")], T0)


@pytest.mark.parametrize("template", [*REFERRER_TEMPLATES, "reward_approval"])
def test_an_unsubscribed_address_gets_no_email_from_any_template(
    template: str, factory: sessionmaker[Session], tmp_path: Path
) -> None:
    address = f"gone.{template}@acme.example"
    if template == "reward_approval":  # the approver's email, as approval_requests builds it
        from tests.factories import email as plain_email

        message = plain_email(1, prefix=template)
        message = type(message)(**{**message.__dict__, "recipient": address, "template": template})
    else:
        facts = ReferrerFacts(1, address, "Ana", "Ana Lima", "Acme", "Casey", "")
        reward = (
            RewardFacts(7, "account_credit", "$100", "") if template.startswith("reward_") else None
        )
        message = referrer_message(PROGRAM, SETTINGS, template, facts, reward)
    _suppressed(factory, address.upper())  # any case: one person
    with transaction(factory) as session:
        enqueue(session, [message], T0)
    folder = tmp_path / "outbox"
    sender = EmailDeliverer(EmailFolderSender(folder, "program@example.com"))
    report = dispatch_outbox(factory, {OutboxChannel.EMAIL: sender}, T0)
    assert report.suppressed == {"email": 1}
    assert not folder.exists() or not list(folder.glob("*.eml"))
    with factory() as session:
        row = session.scalars(
            select(OutboxMessage).where(OutboxMessage.dedupe_key == message.dedupe_key)
        ).one()
    assert row.status == OutboxStatus.SUPPRESSED and row.sent_at is None
