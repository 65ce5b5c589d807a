"""Fault plans on the local vendor servers: each kind in the vendor's own format, seen through
the real SDKs and adapters, and counted at the vendor (refusals do nothing, the others spoil
the answer of something done)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from integrations.hubspot.factory import build_hubspot_crm
from integrations.ports import ChatMessage, CrmTask, EmailMessage
from integrations.sendgrid.factory import build_sendgrid_mail
from integrations.slack.chat import build_slack_chat
from tests.fakes.faults import KINDS, FaultPlan, spoiled_body
from tests.fakes.hubspot_server import FakeHubSpot
from tests.fakes.sendgrid_server import FakeSendGrid
from tests.fakes.slack_server import FakeSlack

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
QUICK = 0.3  # the clients' read timeout
HOLD = 0.6  # a slow answer comes after the client gave up
TASK_CREATE = "POST /crm/v3/objects/tasks/batch/create"
PERFORMED = {"slow", "cut", "malformed"}


def only(kind: str, endpoint: str) -> FaultPlan:
    return FaultPlan(0.0, kinds=[kind], endpoints={endpoint: 1.0}, hold=HOLD)


def test_the_same_seed_draws_the_same_faults_and_endpoints_have_their_own_rates() -> None:
    def draws(plan: FaultPlan) -> list[str | None]:
        return [
            getattr(plan.draw(e), "kind", None) for e in ["chat.postMessage", "auth.test"] * 200
        ]

    first, again = FaultPlan(0.2, seed=7), FaultPlan(0.2, seed=7)
    assert draws(first) == draws(again)
    assert 40 <= len(first.injected) <= 120 and set(first.by_kind()) == set(KINDS)

    quiet = FaultPlan(0.5, seed=1, endpoints={"auth": 0.0})
    draws(quiet)
    assert {f.endpoint for f in quiet.injected} == {"chat.postMessage"}
    with quiet.paused():
        assert quiet.draw("chat.postMessage") is None


def test_a_cut_promises_more_than_it_sends_and_malformed_is_not_json() -> None:
    body, length = spoiled_body("cut", b'{"ok": true}')
    assert length > len(body)
    body, length = spoiled_body("malformed", b'{"ok": true}')
    assert length == len(body) and body == b'{"ok":'


@pytest.mark.parametrize("kind", KINDS)
def test_hubspot_task_create(kind: str) -> None:
    with FakeHubSpot(now=lambda: T0) as hubspot:
        hubspot.add_property("tasks", "referral_outbox_key", has_unique_value=True)
        hubspot.faults = only(kind, TASK_CREATE)
        slept: list[float] = []
        crm = build_hubspot_crm(
            hubspot.token, hubspot.base_url, 1000, 100, sleep=slept.append, timeout=QUICK
        )
        task = CrmTask("crm-task:ask:1", "Ask", "Script", T0 + timedelta(days=7), None, None, None)

        [result] = crm.create_tasks([task])

        created = len(hubspot.objects("tasks"))
        if kind in PERFORMED:  # done once, answer lost: asked about before any second try
            assert (created, result.uncertain, slept) == (1, True, [])
        elif kind == "rate_limited":  # refused each time, retried after Retry-After
            assert (created, result.uncertain, result.transient) == (0, False, True)
            assert slept == [1.0] * 4 and len(hubspot.faults.injected) == 5
        else:  # a 5xx to a write may have been done: asked about first, not retried here
            assert (created, result.uncertain, len(hubspot.faults.injected)) == (0, True, 1)


def test_hubspot_429_carries_retry_after_and_its_rate_limit_headers() -> None:
    import urllib.request

    with FakeHubSpot(faults=FaultPlan(1.0, kinds=["rate_limited"])) as hubspot:
        request = urllib.request.Request(
            f"{hubspot.base_url}/crm/v3/owners",
            headers={"Authorization": f"Bearer {hubspot.token}"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
    headers = refused.value.headers
    assert refused.value.code == 429 and headers["Retry-After"] == "1"
    assert headers["X-HubSpot-RateLimit-Max"] == "190"
    assert headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert b'"errorType": "RATE_LIMIT"' in refused.value.read()


@pytest.mark.parametrize("kind", KINDS)
def test_slack_post(kind: str) -> None:
    with FakeSlack() as slack:
        user = slack.add_user("casey@vendor.example")
        slack.faults = only(kind, "chat.postMessage")
        slept: list[float] = []
        chat = build_slack_chat(slack.token, slack.base_url, sleep=slept.append, timeout=QUICK)

        [result] = chat.post([ChatMessage("digest:1", user, "hi", [])])

        posted = len(slack.messages(user))
        if kind in PERFORMED:
            assert (posted, result.uncertain) == (1, True)
        elif kind == "rate_limited":
            assert (posted, result.uncertain, slept) == (0, False, [1.0] * 4)
            refused = slack.calls_to("chat.postMessage")[0]
            assert (refused.status, refused.response) == (
                429,
                {"ok": False, "error": "ratelimited"},
            )
        else:  # Slack's edge answered 5xx: it may have posted, so it is asked about first
            assert (posted, result.uncertain) == (0, True)


@pytest.mark.parametrize("kind", KINDS)
def test_sendgrid_mail_send(kind: str) -> None:
    now = 1_772_442_000.0
    with FakeSendGrid(now=lambda: now) as sendgrid:
        sendgrid.faults = only(kind, "POST /v3/mail/send")
        slept: list[float] = []
        mail = build_sendgrid_mail(
            sendgrid.api_key,
            sendgrid.base_url,
            default_from="program@vendor.example",
            timeout=QUICK,
            sleep=slept.append,
            clock=lambda: now,
        )
        message = EmailMessage("email:1", "ana@client.example", "Thanks", "Thank you")

        [result] = mail.send([message])

        accepted = len(sendgrid.mails)
        if kind == "malformed":  # a 202 is a 202: SendGrid's answer has no body to read
            assert (accepted, result.ok) == (1, True)
        elif kind in PERFORMED:  # queued, answer lost: SendGrid cannot be asked afterwards
            assert (accepted, result.uncertain) == (1, True)
        else:  # SendGrid's own refusal (its JSON): nothing queued, retried, then transient
            assert (accepted, result.uncertain, result.transient) == (0, False, True)
            assert len(slept) == 4
            if kind == "rate_limited":
                assert slept == [1.0] * 4  # until X-RateLimit-Reset
