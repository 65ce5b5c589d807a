"""The SendGrid adapter on the wire: the real SDK against the local SendGrid server, which
checks every request against the v3 mail-send rules."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from sendgrid import SendGridAPIClient

from integrations.ports import EmailMessage
from integrations.sendgrid.factory import build_sendgrid_mail
from integrations.sendgrid.mail import SendGridMail, mail_body
from integrations.sendgrid.transport import OneOpenerClient
from tests.fakes.sendgrid_server import FakeSendGrid

T0 = 1_772_442_000.0  # 2026-03-02 09:00 UTC, epoch seconds
QUICK = 0.3  # the client's read timeout; a "timeout" answer is held for a second
UNSUBSCRIBE = {
    "List-Unsubscribe": "<https://refer.example/unsubscribe/tok>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


@pytest.fixture
def sendgrid() -> Iterator[FakeSendGrid]:
    with FakeSendGrid(now=lambda: T0) as server:
        yield server


def adapter(
    sendgrid: FakeSendGrid, slept: list[float] | None = None, group: int | None = None
) -> SendGridMail:
    return build_sendgrid_mail(
        sendgrid.api_key,
        sendgrid.base_url + "/",  # a trailing slash is tolerated
        default_from="Referral program <program@vendor.example>",
        unsubscribe_group_id=group,
        timeout=QUICK,
        sleep=(slept if slept is not None else []).append,
        clock=lambda: T0,
    )


def message(n: int, **overrides: object) -> EmailMessage:
    values: dict[str, object] = {
        "dedupe_key": f"email:referral:{n}:thanks_closed_won",
        "to": f"champion{n}@client{n}.example",
        "subject": f"Thank you, champion {n}",
        "text": f"Hi {n}, thank you for the intro.",
        "categories": ("referral", "thanks_closed_won"),
        "custom_args": {"referral_id": str(n), "outbox_key": f"email:referral:{n}:thanks"},
        "headers": UNSUBSCRIBE,
    }
    values.update(overrides)
    return EmailMessage(**values)  # type: ignore[arg-type]


def test_one_request_per_email_with_its_tracking_headers_and_group(sendgrid):
    messages = [message(1, html="<p>Hi 1</p>"), message(2)]

    results = adapter(sendgrid, group=4242).send(messages)

    assert [r.ok for r in results] == [True, True]
    assert [r.provider_id for r in results] == [m.message_id for m in sendgrid.mails]
    assert sendgrid.statuses() == [202, 202]
    first, second = (m.body for m in sendgrid.mails)
    assert first == {
        "personalizations": [{"to": [{"email": "champion1@client1.example"}]}],
        "from": {"email": "program@vendor.example", "name": "Referral program"},
        "subject": "Thank you, champion 1",
        "content": [
            {"type": "text/plain", "value": "Hi 1, thank you for the intro."},
            {"type": "text/html", "value": "<p>Hi 1</p>"},
        ],
        "categories": ["referral", "thanks_closed_won"],
        "custom_args": {"referral_id": "1", "outbox_key": "email:referral:1:thanks"},
        "headers": UNSUBSCRIBE,
        "asm": {"group_id": 4242},
    }
    assert second["personalizations"] == [{"to": [{"email": "champion2@client2.example"}]}]
    assert second["content"] == [{"type": "text/plain", "value": "Hi 2, thank you for the intro."}]


def test_without_a_group_headers_or_categories_the_body_has_none(sendgrid):
    plain = message(1, categories=(), custom_args={}, headers={}, from_address="me@vendor.example")
    [result] = adapter(sendgrid).send([plain])
    body = sendgrid.mails[0].body
    assert result.ok and not {"asm", "headers", "categories", "custom_args"} & set(body)
    assert body["from"] == {"email": "me@vendor.example"}


def test_a_429_waits_until_the_rate_limit_resets(sendgrid):
    sendgrid.fail_next(429, reset=T0 + 7)
    slept: list[float] = []

    [result] = adapter(sendgrid, slept).send([message(1)])

    assert result.ok and slept == [7.0]
    assert sendgrid.statuses() == [429, 202] and len(sendgrid.mails) == 1


def test_a_429_past_the_retries_stops_the_batch_until_the_reset(sendgrid):
    sendgrid.fail_next(429, reset=T0 + 30, times=5)
    slept: list[float] = []

    results = adapter(sendgrid, slept).send([message(1), message(2), message(3)])

    assert [(r.ok, r.transient, r.uncertain) for r in results] == [(False, True, False)] * 3
    assert [r.retry_after for r in results] == [30.0] * 3
    assert "too many requests" in (results[0].error or "")
    assert (results[1].error or "").startswith("not tried: ")
    assert len(sendgrid.requests) == 5 and slept == [30.0] * 4  # message 1 only
    assert not sendgrid.mails


def test_a_4xx_is_permanent_with_sendgrids_own_words(sendgrid):
    refused = message(1, categories=tuple(f"c{n}" for n in range(11)))

    results = adapter(sendgrid).send([refused, message(2)])

    assert [(r.ok, r.transient) for r in results] == [(False, False), (True, False)]
    assert results[0].error == (
        "SendGrid 400: The categories may not have more than 10 items. (field categories)"
    )
    assert sendgrid.statuses() == [400, 202]  # not retried; the next mail goes on


def test_a_refused_key_fails_the_batch_with_one_request(sendgrid):
    mail = adapter(sendgrid)
    sendgrid.api_key = "SG.rotated"  # the key we hold was revoked

    results = mail.send([message(1), message(2)])

    assert [(r.ok, r.transient) for r in results] == [(False, False)] * 2
    assert all("SendGrid 401" in (r.error or "") for r in results)
    assert sendgrid.statuses() == [401]


def test_sendgrids_own_5xx_was_not_accepted_and_is_retried(sendgrid):
    sendgrid.fail_next(500)
    slept: list[float] = []

    [result] = adapter(sendgrid, slept).send([message(1)])

    assert result.ok and len(slept) == 1
    assert sendgrid.statuses() == [500, 202] and len(sendgrid.mails) == 1


@pytest.mark.parametrize("mode", ["timeout", "cut", "disconnect", "5xx"])
def test_a_mail_whose_answer_is_lost_is_uncertain_and_not_sent_again(sendgrid, mode):
    sendgrid.lose_answer_next(mode)
    slept: list[float] = []

    first, second = adapter(sendgrid, slept).send([message(1), message(2)])

    assert (first.ok, first.transient, first.uncertain) == (False, True, True)
    assert "answer lost" in (first.error or "") and slept == []
    assert second.ok  # the rest of the batch goes on
    assert [m.recipients for m in sendgrid.mails] == [[message(1).to], [message(2).to]]


def test_a_refused_connection_is_retried_and_not_uncertain(sendgrid):
    base_url = sendgrid.base_url
    sendgrid.stop()
    slept: list[float] = []
    mail = build_sendgrid_mail(
        "SG.k", base_url, default_from="p@vendor.example", sleep=slept.append, timeout=QUICK
    )

    results = mail.send([message(1), message(2)])

    assert [(r.transient, r.uncertain) for r in results] == [(True, False)] * 2
    assert "SendGrid unreachable" in (results[0].error or "")
    assert len(slept) == 4 and mail.requests == 5  # five attempts for the first, none after


def test_sendgrid_cannot_say_what_it_has(sendgrid):
    assert adapter(sendgrid).find_sent(["email:referral:1:thanks"]) is None


def test_logs_carry_keys_never_addresses_or_bodies(sendgrid, caplog):
    sendgrid.lose_answer_next("disconnect")
    sendgrid.fail_next(400, message="Invalid to address champion2@client2.example")
    caplog.set_level(logging.DEBUG)

    adapter(sendgrid).send([message(1), message(2)])

    logged = caplog.text
    assert message(1).dedupe_key in logged and message(2).dedupe_key in logged
    assert "client1.example" not in logged and "client2.example" not in logged
    assert "thank you for the intro" not in logged


def test_the_shared_opener_sends_what_the_sdk_alone_sends(sendgrid):
    """The adapter's client (one urllib opener for every request) against the SDK's own
    client: the same method, path, headers and body reach SendGrid."""
    body = mail_body(message(1), "Referral program <program@vendor.example>")
    sdk = SendGridAPIClient(sendgrid.api_key, host=sendgrid.base_url)
    sdk.send(body)
    ours = adapter(sendgrid)
    ours.send([message(1), message(2)])

    plain, shared, again = sendgrid.requests
    assert (shared.method, shared.path, shared.body) == (plain.method, plain.path, plain.body)
    ignored = {"content-length", "host"}  # urllib sets them per request
    assert {k: v for k, v in shared.headers.items() if k not in ignored} == {
        k: v for k, v in plain.headers.items() if k not in ignored
    }
    assert again.status == 202
    assert isinstance(ours.client.client, OneOpenerClient)
    assert ours.client.client.mail.send.opener is ours.client.client.opener
