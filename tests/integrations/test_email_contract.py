"""One contract for both email adapters, so the sandbox cannot drift from SendGrid: the same
messages give the same results and arrive the same way (read back from the ``.eml`` file, or
from what the local SendGrid server accepted)."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from integrations.ports import EmailMessage, EmailSender
from integrations.sandbox.email_folder import EmailFolderSender
from integrations.sendgrid.factory import build_sendgrid_mail
from tests.fakes.sendgrid_server import FakeSendGrid

SENDER = "Referral program <program@vendor.example>"
UNSUBSCRIBE = {
    "List-Unsubscribe": "<https://refer.example/unsubscribe/tok-1>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


@dataclass(frozen=True)
class Arrived:
    """A delivered email as its recipient would see it."""

    to: str
    sender: str
    subject: str
    text: str
    html: str | None
    headers: dict[str, str]


class Backend:
    sender: EmailSender

    def arrived(self) -> list[Arrived]:
        """What arrived, by recipient."""
        raise NotImplementedError


class SandboxBackend(Backend):
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.sender = EmailFolderSender(folder, SENDER)

    def arrived(self) -> list[Arrived]:
        mails = []
        for path in self.folder.glob("*.eml"):
            mime: Any = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            html = mime.get_body(("html",))
            mails.append(
                Arrived(
                    to=str(mime["To"]),
                    sender=str(mime["From"]),
                    subject=str(mime["Subject"]),
                    text=mime.get_body(("plain",)).get_content().rstrip("\n"),
                    html=html.get_content().rstrip("\n") if html is not None else None,
                    headers={name: str(mime[name]) for name in UNSUBSCRIBE if name in mime},
                )
            )
        return sorted(mails, key=lambda mail: mail.to)


class SendGridBackend(Backend):
    def __init__(self, fake: FakeSendGrid) -> None:
        self.fake = fake
        self.sender = build_sendgrid_mail(
            fake.api_key, fake.base_url, default_from=SENDER, sleep=lambda s: None
        )

    def arrived(self) -> list[Arrived]:
        mails = []
        for mail in self.fake.mails:
            body = mail.body
            content = {c["type"]: c["value"] for c in body["content"]}
            sender = body["from"]
            mails.append(
                Arrived(
                    to=body["personalizations"][0]["to"][0]["email"],
                    sender=f"{sender['name']} <{sender['email']}>",
                    subject=body["subject"],
                    text=content["text/plain"],
                    html=content.get("text/html"),
                    headers=dict(body.get("headers") or {}),
                )
            )
        return sorted(mails, key=lambda mail: mail.to)


@pytest.fixture(params=["sandbox", "sendgrid"])
def backend(request, tmp_path) -> Iterator[Backend]:
    if request.param == "sandbox":
        yield SandboxBackend(tmp_path / "outbox")
        return
    with FakeSendGrid() as fake:
        yield SendGridBackend(fake)


def message(n: int, **overrides: Any) -> EmailMessage:
    values: dict[str, Any] = {
        "dedupe_key": f"email:referral:{n}:contacted",
        "to": f"champion{n}@client.example",
        "subject": f"Your intro #{n} was contacted",
        "text": f"Hi {n},\nthe team reached out today.",
        "categories": ("referral", "contacted"),
        "custom_args": {"referral_id": str(n)},
        "headers": UNSUBSCRIBE,
    }
    values.update(overrides)
    return EmailMessage(**values)


def test_each_message_arrives_as_given_with_its_unsubscribe_headers(backend):
    results = backend.sender.send([message(1, html="<p>Hi 1</p>"), message(2)])

    assert [(r.dedupe_key, r.ok) for r in results] == [
        (message(1).dedupe_key, True),
        (message(2).dedupe_key, True),
    ]
    assert all(r.provider_id for r in results)
    assert backend.arrived() == [
        Arrived(
            "champion1@client.example",
            SENDER,
            "Your intro #1 was contacted",
            "Hi 1,\nthe team reached out today.",
            "<p>Hi 1</p>",
            UNSUBSCRIBE,
        ),
        Arrived(
            "champion2@client.example",
            SENDER,
            "Your intro #2 was contacted",
            "Hi 2,\nthe team reached out today.",
            None,
            UNSUBSCRIBE,
        ),
    ]


@pytest.mark.parametrize("header", ["Subject", "from", "Reply-To", "X-SG-ID"])
def test_a_header_the_sender_builds_itself_is_refused_for_good(backend, header):
    refused, accepted = backend.sender.send(
        [message(1, headers={**UNSUBSCRIBE, header: "x"}), message(2)]
    )

    assert (refused.ok, refused.transient, refused.uncertain) == (False, False, False)
    assert header in (refused.error or "") and accepted.ok
    assert [a.to for a in backend.arrived()] == ["champion2@client.example"]


def test_the_sandbox_writes_a_long_unsubscribe_link_as_one_line(tmp_path):
    """Folded at 78 characters, the URL would become encoded words no client reads as a link."""
    url = "https://refer.example/unsubscribe/" + "t" * 150
    sender = EmailFolderSender(tmp_path, SENDER)

    sender.send([message(1, headers={**UNSUBSCRIBE, "List-Unsubscribe": f"<{url}>"})])

    [path] = tmp_path.glob("*.eml")
    assert f"List-Unsubscribe: <{url}>\n" in path.read_text()
