"""Slack's buttons, forms, shortcut and command, end to end: requests signed as Slack signs
them (HMAC-SHA256 of ``v0:{timestamp}:{body}`` with the signing secret) posted to the web app's
``/slack/events``, which answers Slack through the real SDK against the local fake Slack; the
payloads are built by the fake from the messages and modals the app really sent."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk import WebClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from db.models import Account, Ask, AuditEntry, Person, Referral, TeamMember
from domain.clock import FixedClock
from domain.digest import ask_actions
from domain.program import Program, load_preset
from domain.signals import SignalKind as K
from domain.statuses import AskStatus, ReferralChannel, RewardStatus, TeamRole
from tasks import slack_actions as actions
from tasks.detect_moments import detect_moments
from tasks.rewards.messages import decision_buttons
from tests.fakes.slack_server import TEAM_ID, FakeSlack, RecordedCall
from tests.scenario import World
from tests.tasks.reward_world import DUE, RewardWorld, approving, awaiting_approval
from tests.web.site import context_for, site_settings
from web.app import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PATH = "/slack/events"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-slack-actions-token"
NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
SAAS = load_preset("saas")
CSM_SLACK = "U0CSM0001"


def signature(secret: str, body: bytes, timestamp: int) -> str:
    base = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class SlackSite:
    client: TestClient
    fake: FakeSlack
    factory: sessionmaker[Session]

    def post(
        self,
        payload: dict[str, Any] | None = None,
        *,
        form: dict[str, str] | None = None,
        retry: int | None = None,
        age: int = 0,
        secret: str = SECRET,
        wait: bool = True,
    ) -> Any:
        """Deliver as Slack does; then (``wait``) let the work that runs after the ack end."""
        fields = form if form is not None else {"payload": json.dumps(payload)}
        body = urlencode(fields).encode()
        stamp = int(time.time()) - age
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": str(stamp),
            "X-Slack-Signature": signature(secret, body, stamp),
        }
        if retry:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        started = time.monotonic()
        answer = self.client.post(PATH, content=body, headers=headers)
        answer.elapsed_seconds = time.monotonic() - started
        if wait:
            assert self.client.app.state.slack.work.wait_idle(10)
        return answer

    def calls(self, method: str) -> list[RecordedCall]:
        return self.fake.calls_to(method)

    def ask(self, ask_id: int) -> Ask:
        with self.factory() as session:
            return session.get(Ask, ask_id)

    def audits(self, action: str) -> list[AuditEntry]:
        with self.factory() as session:
            return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(TOKEN) as server:
        yield server


def make_site(
    url: str,
    factory: sessionmaker[Session],
    tmp_path: Path,
    fake: FakeSlack,
    program: Program,
    now: datetime,
) -> SlackSite:
    settings = site_settings(
        url,
        tmp_path / "data",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_API_BASE=fake.base_url,
    )
    context = context_for(settings, factory, program, FixedClock(now))
    return SlackSite(TestClient(create_app(context)), fake, factory)


@pytest.fixture
def site(committed_url, committed_factory, tmp_path, fake) -> Iterator[SlackSite]:
    made = make_site(committed_url, committed_factory, tmp_path, fake, SAAS, NOW)
    yield made
    made.client.close()


@dataclass(frozen=True)
class Digest:
    ask_id: int
    channel: str
    ts: str


def digest_with_an_ask(site: SlackSite) -> Digest:
    """A CSM on Slack with one ask, and their digest message with its buttons."""
    w = World(site.factory)
    csm = w.csm(slack=CSM_SLACK)
    account = w.account(csm)
    w.person(account)
    w.signal(account, K.FEEDBACK_POSITIVE, NOW - timedelta(hours=3))
    detect_moments(site.factory, SAAS, NOW - timedelta(hours=2))
    with site.factory() as session:
        ask_id = session.scalars(select(Ask.id)).one()
    site.fake.add_user("casey@vendor.example", CSM_SLACK)
    bot = WebClient(token=TOKEN, base_url=site.fake.base_url, retry_handlers=[])
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "*Ana* at Acme"}}
    posted = bot.chat_postMessage(
        channel=CSM_SLACK, text="Referral asks", blocks=[section, ask_actions(ask_id)]
    )
    return Digest(ask_id, posted["channel"], posted["ts"])


def shared_digest(site: SlackSite, digest: Digest, members: tuple[str, ...]) -> Digest:
    """The ask's buttons in a channel others are in too (say the digest was shared)."""
    channel = site.fake.add_channel("csm-team", members=members)
    bot = WebClient(token=TOKEN, base_url=site.fake.base_url, retry_handlers=[])
    posted = bot.chat_postMessage(channel=channel, text="asks", blocks=[ask_actions(digest.ask_id)])
    return Digest(digest.ask_id, channel, posted["ts"])


def click(site: SlackSite, digest: Digest, action_id: str, user: str = CSM_SLACK) -> dict:
    return site.fake.block_action(
        user, digest.channel, digest.ts, f"ask:{digest.ask_id}", action_id
    )


def blocks_of(site: SlackSite, digest: Digest) -> list[dict]:
    [message] = [m for m in site.fake.messages(digest.channel) if m["ts"] == digest.ts]
    return message["blocks"]


def assert_replaced(site: SlackSite, digest: Digest, block_id: str, words: str, user: str) -> None:
    """chat.update: bot token, the message's channel and ts, the buttons now a context line."""
    [update] = site.calls("chat.update")
    assert update.headers["authorization"] == f"Bearer {TOKEN}"
    assert (update.params["channel"], update.params["ts"]) == (digest.channel, digest.ts)
    [line] = [b for b in update.params["blocks"] if b["block_id"] == block_id]
    assert line["type"] == "context"
    text = line["elements"][0]["text"]
    assert words in text and f"<@{user}>" in text and "@vendor.example" not in text
    assert f"<!date^{int(NOW.timestamp())}^" in text
    assert update.params["blocks"][0]["type"] == "section"  # the rest of the message stays
    assert blocks_of(site, digest) == update.params["blocks"]


# -- signatures --------------------------------------------------------------------------------


def test_a_wrong_signature_or_an_old_timestamp_is_401_and_changes_nothing(site: SlackSite) -> None:
    digest = digest_with_an_ask(site)
    payload = click(site, digest, "ask_asked")

    assert site.post(payload, secret="not-the-secret").status_code == 401
    assert site.post(payload, age=6 * 60).status_code == 401
    unsigned = site.client.post(PATH, content=urlencode({"payload": json.dumps(payload)}))
    assert unsigned.status_code == 401
    assert site.ask(digest.ask_id).status is not AskStatus.ASKED
    assert site.fake.calls_to("chat.update") == [] and site.fake.calls_to("auth.test") == []


def test_no_signing_secret_no_slack_endpoint(committed_url, committed_factory, tmp_path) -> None:
    settings = site_settings(committed_url, tmp_path / "data")
    app = create_app(context_for(settings, committed_factory, SAAS, FixedClock(NOW)))
    assert app.state.slack is None
    with TestClient(app) as client:
        assert client.post(PATH, content=b"payload=%7B%7D").status_code in {404, 405}


# -- digest buttons ----------------------------------------------------------------------------


def test_asked_is_recorded_and_the_message_updated_in_place(site: SlackSite) -> None:
    digest = digest_with_an_ask(site)

    answer = site.post(click(site, digest, "ask_asked"))

    assert answer.status_code == 200 and answer.elapsed_seconds < 3
    assert site.ask(digest.ask_id).status is AskStatus.ASKED
    assert_replaced(site, digest, f"ask:{digest.ask_id}", "Asked", CSM_SLACK)
    [entry] = site.audits("ask_recorded")
    assert entry.details["slack_user_id"] == CSM_SLACK
    assert entry.details["slack_team_id"] == TEAM_ID


def test_slack_gets_its_answer_before_the_slow_work_is_done(
    site: SlackSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    digest = digest_with_an_ask(site)
    slow = actions.record_ask

    def record_slowly(*args: Any, **kwargs: Any) -> Any:
        time.sleep(1.5)
        return slow(*args, **kwargs)

    monkeypatch.setattr(actions, "record_ask", record_slowly)
    body = urlencode({"payload": json.dumps(click(site, digest, "ask_asked"))}).encode()
    stamp = int(time.time())
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(stamp),
        "X-Slack-Signature": signature(SECRET, body, stamp),
    }
    started = time.monotonic()
    answer = site.client.post(PATH, content=body, headers=headers)
    acked_after = time.monotonic() - started

    assert answer.status_code == 200 and acked_after < 1.0
    assert site.client.app.state.slack.work.wait_idle(10)
    assert site.ask(digest.ask_id).status is AskStatus.ASKED


def test_snooze_is_recorded_and_the_message_updated(site: SlackSite) -> None:
    digest = digest_with_an_ask(site)

    site.post(click(site, digest, "ask_snooze"))

    ask = site.ask(digest.ask_id)
    assert ask.status is AskStatus.SNOOZED and ask.due_at.replace(tzinfo=UTC) > NOW
    assert_replaced(site, digest, f"ask:{digest.ask_id}", "Snoozed", CSM_SLACK)


def test_decline_opens_the_reason_modal_then_records_once_and_updates(site: SlackSite) -> None:
    digest = digest_with_an_ask(site)
    payload = click(site, digest, "ask_decline")

    assert site.post(payload).status_code == 200

    [opened] = site.calls("views.open")
    assert opened.headers["authorization"] == f"Bearer {TOKEN}"
    assert opened.params["trigger_id"] == payload["trigger_id"]
    view = opened.params["view"]
    assert view["callback_id"] == "ask_decline"
    assert json.loads(view["private_metadata"]) == {
        "id": digest.ask_id,
        "channel": digest.channel,
        "ts": digest.ts,
    }
    assert site.ask(digest.ask_id).status is not AskStatus.DECLINED  # not before the submit
    [view_id] = [v["id"] for v in site.fake.views()]

    submission = site.fake.view_submission(view_id, {"reason": "Not this quarter"})
    answer = site.post(submission)
    again = site.post(submission, retry=1)

    assert answer.status_code == 200 and answer.content in {b"", b"{}"}  # the modal closes
    assert again.status_code == 200
    ask = site.ask(digest.ask_id)
    assert ask.status is AskStatus.DECLINED and ask.outcome_note == "Not this quarter"
    assert ask.outcome_at.replace(tzinfo=UTC) == NOW  # the person's cooldown starts now
    assert_replaced(site, digest, f"ask:{digest.ask_id}", "Declined", CSM_SLACK)
    assert len(site.audits("ask_recorded")) == 1


def test_a_retried_click_changes_nothing_and_updates_nothing_the_second_time(
    site: SlackSite,
) -> None:
    digest = digest_with_an_ask(site)
    payload = click(site, digest, "ask_asked")

    site.post(payload)
    first_outcome_at = site.ask(digest.ask_id).outcome_at
    site.post(payload, retry=1)
    site.post(payload, retry=2)

    assert site.ask(digest.ask_id).outcome_at == first_outcome_at
    assert len(site.calls("chat.update")) == 1
    assert len(site.audits("ask_recorded")) == 1
    assert site.fake.ephemerals() == []


def test_a_retried_modal_button_opens_no_second_modal(site: SlackSite) -> None:
    digest = digest_with_an_ask(site)
    payload = click(site, digest, "ask_intro")

    site.post(payload)
    site.post(payload, retry=1)

    assert len(site.calls("views.open")) == 1
    assert [c.response["ok"] for c in site.calls("views.open")] == [True]


def test_an_unknown_slack_user_is_told_privately_and_nothing_changes(site: SlackSite) -> None:
    digest = digest_with_an_ask(site)
    stranger = site.fake.add_user("stranger@vendor.example", "U0STRANGER")
    shared = shared_digest(site, digest, (CSM_SLACK, stranger))

    site.post(click(site, shared, "ask_asked", user=stranger))

    assert site.ask(digest.ask_id).status is not AskStatus.ASKED
    assert site.calls("chat.update") == []
    [call] = site.calls("chat.postEphemeral")
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert call.params["user"] == stranger and call.params["channel"] == shared.channel
    assert "not on the referral program's team" in call.params["text"]
    assert call.response["ok"] is True
    assert [e["user"] for e in site.fake.ephemerals()] == [stranger]


def test_another_csms_ask_is_refused_privately(site: SlackSite) -> None:
    digest = digest_with_an_ask(site)
    World(site.factory).csm(name="Other", slack="U0OTHER01")
    site.fake.add_user("other@vendor.example", "U0OTHER01")
    shared = shared_digest(site, digest, (CSM_SLACK, "U0OTHER01"))
    channel = shared.channel

    site.post(click(site, shared, "ask_asked", user="U0OTHER01"))

    assert site.ask(digest.ask_id).status is not AskStatus.ASKED
    [note] = site.fake.ephemerals("U0OTHER01")
    assert note["channel"] == channel and "another CSM's" in note["text"]
    assert site.calls("chat.update") == []


# -- the intro form ------------------------------------------------------------------------------


INTRO = {
    "company": "Initech",
    "domain": "initech.example",
    "contact_name": "Bill Lumbergh",
    "contact_email": "bill@initech.example",
    "note": "Met at the user group",
}


def test_intro_made_opens_the_form_and_a_submission_creates_a_linked_email_intro(
    site: SlackSite,
) -> None:
    digest = digest_with_an_ask(site)
    payload = click(site, digest, "ask_intro")

    site.post(payload)

    [opened] = site.calls("views.open")
    assert opened.params["trigger_id"] == payload["trigger_id"]
    view = opened.params["view"]
    inputs = [b["block_id"] for b in view["blocks"] if b["type"] == "input"]
    assert inputs == ["company", "domain", "contact_name", "contact_email", "note"]
    assert json.loads(view["private_metadata"])["id"] == digest.ask_id
    [view_id] = [v["id"] for v in site.fake.views()]

    bad = site.post(site.fake.view_submission(view_id, {**INTRO, "contact_email": "bill@"}))
    assert bad.json()["response_action"] == "errors"
    assert set(bad.json()["errors"]) == {"contact_email"}
    with site.factory() as session:
        assert session.scalars(select(Referral)).all() == []

    good = site.post(site.fake.view_submission(view_id, INTRO))

    assert good.status_code == 200 and good.content in {b"", b"{}"}
    with site.factory() as session:
        [referral] = session.scalars(select(Referral)).all()
    assert referral.channel is ReferralChannel.EMAIL_INTRO and referral.ask_id == digest.ask_id
    assert site.ask(digest.ask_id).status is AskStatus.INTRO_MADE
    assert_replaced(site, digest, f"ask:{digest.ask_id}", "Intro to Initech logged", CSM_SLACK)
    [entry] = site.audits("intro_logged")
    assert entry.details["slack_user_id"] == CSM_SLACK


def test_the_shortcut_and_refer_open_the_form_with_the_referrer_picker(site: SlackSite) -> None:
    digest = digest_with_an_ask(site)
    with site.factory() as session:
        ask = session.get(Ask, digest.ask_id)
        champion = session.get(Person, ask.champion_id)

    site.post(site.fake.shortcut(CSM_SLACK, "log_intro"))
    command = site.post(form=site.fake.slash_command(CSM_SLACK, digest.channel, "/refer"))

    assert command.status_code == 200
    views = site.calls("views.open")
    assert len(views) == 2 and all(call.response["ok"] for call in views)
    for call in views:
        view = call.params["view"]
        inputs = [b for b in view["blocks"] if b["type"] == "input"]
        assert inputs[0]["block_id"] == "referrer" and view["callback_id"] == "intro"
        assert inputs[0]["element"] == {
            "type": "external_select",
            "action_id": "referrer_person",
            "placeholder": {"type": "plain_text", "text": "Type a name or an account"},
            "min_query_length": 2,
        }
    view_id = site.fake.views()[-1]["id"]

    missing = site.post(site.fake.view_submission(view_id, INTRO))
    assert missing.json() == {
        "response_action": "errors",
        "errors": {"referrer": "is required: whose intro is it?"},
    }
    found = site.post(site.fake.block_suggestion(view_id, "referrer", champion.first_name))
    [option] = found.json()["options"]
    assert option["value"] == str(champion.id)
    done = site.post(site.fake.view_submission(view_id, {**INTRO, "referrer": option}))

    assert done.json()["response_action"] == "update"
    assert "Intro logged: Initech" in done.json()["view"]["blocks"][0]["text"]["text"]
    with site.factory() as session:
        [referral] = session.scalars(select(Referral)).all()
    assert referral.channel is ReferralChannel.EMAIL_INTRO and referral.ask_id is None
    assert referral.referrer_person_id == champion.id
    assert referral.referrer_email == champion.email
    assert site.calls("chat.update") == []
    [entry] = site.audits("intro_logged")
    assert entry.details["slack_user_id"] == CSM_SLACK


def a_person(
    site: SlackSite, account_id: int | None, first: str, last: str, email: str, **kw
) -> int:
    """A known person (a possible referrer) with the given name and email ("" for none)."""
    with site.factory.begin() as session:
        person = Person(account_id=account_id, first_name=first, last_name=last, email=email, **kw)
        session.add(person)
        session.flush()
        return person.id


def intro_form_of(site: SlackSite, user: str = CSM_SLACK) -> str:
    """A CSM on Slack opens the intro form from the shortcut; its view id."""
    site.post(site.fake.shortcut(user, "log_intro"))
    return site.fake.views()[-1]["id"]


def test_a_signed_block_suggestion_answers_the_matching_people(site: SlackSite) -> None:
    w = World(site.factory)
    csm = w.csm(slack=CSM_SLACK)
    site.fake.add_user("casey@vendor.example", CSM_SLACK)
    other = w.csm(name="Other CSM")  # the picker shows every account's people
    acme, globex = w.account(csm, name="Acme"), w.account(other, name="Globex")
    ana = a_person(site, acme, "Ana", "Lima", "ana@acme.example")
    bea = a_person(site, globex, "Bea", "Acmeson", "bea@globex.example")
    a_person(site, acme, "Nora", "Noemail", "")
    a_person(site, acme, "Otto", "Out", "otto@acme.example", opted_out=True)
    with site.factory() as session:
        acme_name = session.get(Account, acme).name
        globex_name = session.get(Account, globex).name
    view_id = intro_form_of(site)

    answer = site.post(site.fake.block_suggestion(view_id, "referrer", "aCm"))

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json() == {
        "options": [
            {
                "text": {"type": "plain_text", "text": f"Bea Acmeson — {globex_name}"},
                "value": str(bea),
            },
            {"text": {"type": "plain_text", "text": f"Ana Lima — {acme_name}"}, "value": str(ana)},
        ]
    }
    assert "@" not in answer.text
    nobody = site.post(site.fake.block_suggestion(view_id, "referrer", "zz"))
    assert nobody.json() == {"options": []}


def test_a_stranger_gets_no_options(site: SlackSite) -> None:
    w = World(site.factory)
    w.csm(slack=CSM_SLACK)
    site.fake.add_user("casey@vendor.example", CSM_SLACK)
    a_person(site, w.account(None), "Ana", "Lima", "ana@acme.example")
    view_id = intro_form_of(site)
    payload = site.fake.block_suggestion(view_id, "referrer", "Ana")
    payload["user"] = {**payload["user"], "id": "U0STRANGER"}

    assert site.post(payload).json() == {"options": []}


def test_long_labels_are_cut_to_slacks_75_characters(site: SlackSite) -> None:
    w = World(site.factory)
    w.csm(slack=CSM_SLACK)
    site.fake.add_user("casey@vendor.example", CSM_SLACK)
    account = w.account(None, name="The Extraordinarily Long Named Holding Company Of Everything")
    a_person(site, account, "Maximiliana", "Wolfeschlegel", "max@h.example")
    view_id = intro_form_of(site)

    [option] = site.post(site.fake.block_suggestion(view_id, "referrer", "maxi")).json()["options"]

    text = option["text"]["text"]
    assert len(text) == 75 and text.startswith("Maximiliana Wolfeschlegel — The Extra")
    assert text.endswith("…")


def test_a_picked_person_without_an_email_is_refused_next_to_the_picker(site: SlackSite) -> None:
    w = World(site.factory)
    w.csm(slack=CSM_SLACK)
    site.fake.add_user("casey@vendor.example", CSM_SLACK)
    nora = a_person(site, w.account(None), "Nora", "Noemail", "")
    view_id = intro_form_of(site)
    picked = {"text": {"type": "plain_text", "text": "Nora Noemail — Acme"}, "value": str(nora)}

    answer = site.post(site.fake.view_submission(view_id, {**INTRO, "referrer": picked}))
    gone = site.post(
        site.fake.view_submission(view_id, {**INTRO, "referrer": {**picked, "value": "999999"}})
    )

    assert answer.json()["response_action"] == "errors"
    assert set(answer.json()["errors"]) == {"referrer"}
    assert "no email on file" in answer.json()["errors"]["referrer"]
    assert set(gone.json()["errors"]) == {"referrer"}
    with site.factory() as session:
        assert session.scalars(select(Referral)).all() == []
    assert site.audits("intro_logged") == []


def test_an_unsigned_or_badly_signed_block_suggestion_is_401(site: SlackSite) -> None:
    w = World(site.factory)
    w.csm(slack=CSM_SLACK)
    site.fake.add_user("casey@vendor.example", CSM_SLACK)
    a_person(site, w.account(None), "Ana", "Lima", "ana@acme.example")
    payload = site.fake.block_suggestion(intro_form_of(site), "referrer", "Ana")

    unsigned = site.client.post(
        PATH,
        content=urlencode({"payload": json.dumps(payload)}).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert unsigned.status_code == 401 and "Ana" not in unsigned.text
    assert site.post(payload, secret="not-the-secret").status_code == 401
    assert site.post(payload, age=6 * 60).status_code == 401


def test_a_stranger_gets_a_notice_instead_of_the_form(site: SlackSite) -> None:
    stranger = site.fake.add_user("stranger@vendor.example", "U0STRANGER")

    site.post(site.fake.shortcut(stranger, "log_intro"))

    [opened] = site.calls("views.open")
    assert "callback_id" not in opened.params["view"]
    assert "not on the referral program's team" in json.dumps(opened.params["view"])


# -- approvals -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Approval:
    rw: RewardWorld
    reward_id: int
    channel: str
    ts: str


@pytest.fixture
def approvals(
    committed_url, committed_factory, tmp_path, fake
) -> Iterator[tuple[SlackSite, Approval]]:
    rw = RewardWorld(committed_factory, tmp_path, approving())
    reward_id = awaiting_approval(rw)
    with committed_factory.begin() as session:
        session.get(TeamMember, rw.approver).slack_user_id = "U0APPROVER"
        csm = session.get(TeamMember, rw.csm)  # the referring account's CSM approves too
        csm.slack_user_id, csm.role = CSM_SLACK, TeamRole.APPROVER
    fake.add_user("approver@vendor.example", "U0APPROVER")
    fake.add_user("casey@vendor.example", CSM_SLACK)
    channel = fake.add_channel("reward-approvals", members=("U0APPROVER", CSM_SLACK))
    bot = WebClient(token=TOKEN, base_url=fake.base_url, retry_handlers=[])
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "Reward to approve"}}
    posted = bot.chat_postMessage(
        channel=channel, text="Reward to approve", blocks=[section, decision_buttons(reward_id)]
    )
    site = make_site(committed_url, committed_factory, tmp_path, fake, rw.program, DUE)
    yield site, Approval(rw, reward_id, channel, posted["ts"])
    site.client.close()


def _press(site: SlackSite, approval: Approval, action_id: str, user: str) -> dict:
    return site.fake.block_action(
        user, approval.channel, approval.ts, f"reward:{approval.reward_id}", action_id
    )


def test_the_referring_accounts_csm_cannot_approve_from_slack(approvals) -> None:
    site, approval = approvals

    site.post(_press(site, approval, "reward_approve", CSM_SLACK))

    assert approval.rw.reward(approval.reward_id).status is RewardStatus.AWAITING_APPROVAL
    [note] = site.fake.ephemerals(CSM_SLACK)
    assert note["channel"] == approval.channel and "four eyes" in note["text"]
    assert site.calls("chat.update") == [] and site.audits("reward_approved") == []


def test_an_approver_approves_once_and_the_message_shows_it(approvals) -> None:
    site, approval = approvals
    payload = _press(site, approval, "reward_approve", "U0APPROVER")

    site.post(payload)
    site.post(payload, retry=1)

    assert approval.rw.reward(approval.reward_id).status is RewardStatus.APPROVED
    [update] = site.calls("chat.update")
    assert (update.params["channel"], update.params["ts"]) == (approval.channel, approval.ts)
    [line] = [b for b in update.params["blocks"] if b["block_id"] == f"reward:{approval.reward_id}"]
    assert line["type"] == "context" and "Approved by <@U0APPROVER>" in line["elements"][0]["text"]
    [entry] = site.audits("reward_approved")  # one entry, the decision and its Slack ids
    assert entry.details["slack_user_id"] == "U0APPROVER"


def test_reject_asks_for_a_reason_then_rejects(approvals) -> None:
    site, approval = approvals
    payload = _press(site, approval, "reward_reject", "U0APPROVER")

    site.post(payload)

    [opened] = site.calls("views.open")
    assert opened.params["trigger_id"] == payload["trigger_id"]
    assert opened.params["view"]["callback_id"] == "reward_reject"
    assert approval.rw.reward(approval.reward_id).status is RewardStatus.AWAITING_APPROVAL
    [view_id] = [v["id"] for v in site.fake.views()]

    site.post(site.fake.view_submission(view_id, {"reason": "Referrer is an employee"}))

    assert approval.rw.reward(approval.reward_id).status is RewardStatus.VOIDED
    [update] = site.calls("chat.update")
    text = json.dumps(update.params["blocks"])
    assert "Rejected (Referrer is an employee) by <@U0APPROVER>" in text


def test_a_retried_snooze_changes_nothing_the_second_time(site: SlackSite) -> None:
    digest = digest_with_an_ask(site)
    payload = click(site, digest, "ask_snooze")

    site.post(payload)
    site.post(payload, retry=1)

    assert len(site.calls("chat.update")) == 1
    assert len(site.audits("ask_recorded")) == 1


# From the review: what people type is shown escaped, odd ids are refused politely, a lost
# update is repaired by the next click, slow work never delays an acknowledgement.


def test_what_people_typed_is_shown_escaped_in_the_message(approvals) -> None:
    site, approval = approvals
    site.post(_press(site, approval, "reward_reject", "U0APPROVER"))
    [view_id] = [v["id"] for v in site.fake.views()]
    evil = "<!channel> <https://evil.example/login|Re-approve here>"
    site.post(site.fake.view_submission(view_id, {"reason": evil}))
    [update] = site.calls("chat.update")
    text = json.dumps(update.params["blocks"])
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "<https://evil.example" not in text


def test_odd_ids_in_a_signed_form_are_refused_politely(site: SlackSite) -> None:
    digest = digest_with_an_ask(site)
    site.post(click(site, digest, "ask_decline"))
    [view_id] = [v["id"] for v in site.fake.views()]
    submission = site.fake.view_submission(view_id, {"reason": "x"})
    for metadata in (
        json.dumps({"id": "9" * 25, "channel": digest.channel, "ts": digest.ts}),
        json.dumps({"id": "\u00b2", "channel": digest.channel, "ts": digest.ts}),
        "[1]",
    ):
        submission["view"]["private_metadata"] = metadata
        answer = site.post(submission)
        assert answer.status_code == 200, answer.text
        assert "carries no ask" in answer.text
    assert site.ask(digest.ask_id).status is not AskStatus.DECLINED


def test_an_update_lost_the_first_time_is_repaired_by_the_next_click(site: SlackSite) -> None:
    digest = digest_with_an_ask(site)
    site.fake.fail_next("chat.update", status=429)
    site.post(click(site, digest, "ask_asked"))
    assert site.ask(digest.ask_id).status is AskStatus.ASKED
    assert any(b.get("type") == "actions" for b in blocks_of(site, digest))
    site.post(click(site, digest, "ask_asked"))  # nothing new is recorded; the message is fixed
    assert not any(b.get("type") == "actions" for b in blocks_of(site, digest))


def test_slow_work_after_acks_never_delays_the_next_acknowledgement(
    site: SlackSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasks import slack_actions

    digest = digest_with_an_ask(site)
    record = slack_actions.record_ask

    def slowly(*args: Any, **kwargs: Any) -> Any:
        time.sleep(3.5)
        return record(*args, **kwargs)

    monkeypatch.setattr(slack_actions, "record_ask", slowly)
    timings = []
    for _ in range(10):  # more clicks than the work pool has threads
        answer = site.post(click(site, digest, "ask_asked"), wait=False)
        timings.append((answer.status_code, answer.elapsed_seconds))
    assert site.client.app.state.slack.work.wait_idle(60)
    assert all(code == 200 and took < 1.0 for code, took in timings), timings
