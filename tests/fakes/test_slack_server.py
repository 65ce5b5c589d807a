"""The fake Slack, driven by the real ``slack_sdk`` WebClient.

What slack_sdk 3.x does on the wire (read from ``web/base_client.py`` and checked here through
``fake.calls``): every call is an HTTP POST to ``base_url + METHOD``; ``chat_postMessage``
sends JSON (booleans stay JSON booleans), ``users_lookupByEmail``, ``conversations_open``
and ``conversations_history`` send form bodies (booleans as ``"1"``/``"0"``), and a call
without arguments (``auth_test``) sends no body but a JSON content type. ``api_call(params=...)``
and ``api_call(data=...)`` both send a urlencoded form; only ``files=`` makes it multipart.

How failures surface: ``SlackApiError`` for any non-200 status or ``ok: false``, with
``e.response.status_code``, ``e.response.headers`` (a plain dict; on a 429 the SDK adds
``retry-after`` next to ``Retry-After``) and ``e.response["error"]``. A non-JSON body (a 5xx
from Slack's edge) does not raise a decoding error: the SDK substitutes
``{"ok": false, "error": "Received a response in a non-JSON format: <first 100 chars>"}``.
"""

from __future__ import annotations

import http.client
import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.fakes.slack_server import BLOCKS_ONLY_TEXT, BOT_USER_ID, FakeSlack

TOKEN = "xoxb-test-token"
T0 = 1_772_442_000.0  # 2026-03-02 09:00 UTC


class Clock:
    """Epoch seconds the fake stamps messages with; tests move it."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeSlack]:
    with FakeSlack(TOKEN, now=clock) as server:
        yield server


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token=TOKEN, base_url=fake.base_url, retry_handlers=[])


def _error_of(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as raised:
        call()
    return raised.value


SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "*Thanks* for the referral"}}
METADATA = {"event_type": "referral_thanked", "event_payload": {"referral_id": "r-1", "n": 2}}


# -- users.lookupByEmail ---------------------------------------------------------------------


def test_lookup_by_email_finds_the_user(fake: FakeSlack, client: WebClient) -> None:
    user_id = fake.add_user("ann.lee@example.com")

    user = client.users_lookupByEmail(email="Ann.Lee@example.com")["user"]

    assert user["id"] == user_id
    assert user["team_id"] and user["deleted"] is False and user["is_bot"] is False
    assert user["profile"]["email"] == "ann.lee@example.com"
    assert user["real_name"] == user["profile"]["real_name"] == "Ann Lee"
    call = fake.calls_to("users.lookupByEmail")[0]
    assert call.http_method == "POST"
    assert call.content_type == "application/x-www-form-urlencoded"
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert call.params == {"email": "Ann.Lee@example.com"}


def test_lookup_by_email_unknown_or_deactivated_is_users_not_found(
    fake: FakeSlack, client: WebClient
) -> None:
    fake.add_user("gone@example.com", deleted=True)

    for email in ["nobody@example.com", "gone@example.com"]:
        error = _error_of(lambda e=email: client.users_lookupByEmail(email=e))
        assert error.response.status_code == 200
        assert error.response["error"] == "users_not_found"


def test_a_json_body_is_not_read_by_form_only_methods(fake: FakeSlack, client: WebClient) -> None:
    fake.add_user("ann@example.com")

    error = _error_of(
        lambda: client.api_call("users.lookupByEmail", json={"email": "ann@example.com"})
    )

    assert error.response["error"] == "invalid_arguments"
    assert fake.calls[-1].params == {"email": "ann@example.com"}  # sent, but not read


# -- chat.postMessage, conversations.open, conversations.history ------------------------------


def test_post_to_a_user_id_lands_in_their_dm_and_history_returns_the_metadata(
    fake: FakeSlack, client: WebClient
) -> None:
    user_id = fake.add_user("ann@example.com")

    posted = client.chat_postMessage(
        channel=user_id, text="Thanks!", blocks=[SECTION], metadata=METADATA, unfurl_links=False
    )

    dm = posted["channel"]
    assert dm.startswith("D")
    assert posted["ts"] == posted["message"]["ts"] == "1772442000.000000"
    assert posted["message"]["metadata"] == METADATA
    assert posted["message"]["user"] == BOT_USER_ID
    assert posted["message"]["blocks"][0]["block_id"]  # Slack fills block ids in
    call = fake.calls_to("chat.postMessage")[0]
    assert call.content_type.startswith("application/json")
    assert call.params["blocks"] == [SECTION] and call.params["unfurl_links"] is False

    opened = client.conversations_open(users=[user_id])
    assert opened["channel"]["id"] == dm and opened["already_open"] is True

    history = client.conversations_history(channel=dm, include_all_metadata=True)
    assert [m["text"] for m in history["messages"]] == ["Thanks!"]
    assert history["messages"][0]["metadata"] == METADATA
    assert history["has_more"] is False
    assert history["response_metadata"] == {"next_cursor": ""}
    assert fake.calls_to("conversations.history")[0].params["include_all_metadata"] == "1"

    plain = client.conversations_history(channel=dm)
    assert "metadata" not in plain["messages"][0]

    [message] = fake.messages(user_id)
    assert message["channel"] == dm and message["metadata"] == METADATA
    assert message["blocks"][0]["text"] == SECTION["text"]


def test_conversations_open_gives_the_same_dm_and_refuses_unknown_users(
    fake: FakeSlack, client: WebClient
) -> None:
    user_id = fake.add_user("ann@example.com")

    first = client.conversations_open(users=user_id)
    again = client.conversations_open(users=user_id)

    assert first.data == {"ok": True, "channel": {"id": first["channel"]["id"]}}
    assert again["channel"]["id"] == first["channel"]["id"]
    assert _error_of(lambda: client.conversations_open(users="U0NOBODY"))
    assert fake.calls[-1].response["error"] == "user_not_found"


def test_unknown_channel_is_channel_not_found(client: WebClient) -> None:
    for call in [
        lambda: client.chat_postMessage(channel="U0NOBODY", text="hi"),
        lambda: client.chat_postMessage(channel="C0NOWHERE", text="hi"),
        lambda: client.conversations_history(channel="D0NOWHERE"),
    ]:
        assert _error_of(call).response["error"] == "channel_not_found"


def test_blocks_may_arrive_as_a_json_string_in_a_form_or_multipart_body(
    fake: FakeSlack, client: WebClient
) -> None:
    channel = fake.add_channel("referrals")
    form = {"channel": channel, "blocks": json.dumps([SECTION]), "metadata": json.dumps(METADATA)}

    client.api_call("chat.postMessage", data=form)
    client.api_call("chat.postMessage", data=form, files={"ignored": b"bytes"})

    kinds = [call.content_type.split(";")[0] for call in fake.calls]
    assert kinds == ["application/x-www-form-urlencoded", "multipart/form-data"]
    for message in fake.messages(channel):
        assert message["text"] == BLOCKS_ONLY_TEXT
        assert message["metadata"] == METADATA


def _blocks(*blocks: dict[str, Any]) -> list[dict[str, Any]]:
    return list(blocks)


@pytest.mark.parametrize(
    ("blocks", "pointer"),
    [
        (_blocks({"type": "sektion", "text": SECTION["text"]}), "/blocks/0/type"),
        (_blocks({"text": SECTION["text"]}), "/blocks/0/type"),
        (_blocks({"type": "section", "text": "plain string"}), "/blocks/0/text"),
        (_blocks({"type": "section", "text": {"type": "markdown", "text": "x"}}), "/text/type"),
        (_blocks({"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}), "/text"),
        (_blocks({"type": "section"}), "/blocks/0"),
        (_blocks({"type": "header", "text": {"type": "mrkdwn", "text": "Hi"}}), "/text/type"),
        (_blocks({"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}), "/text"),
        ([{"type": "divider"}] * 51, "/blocks"),
        (_blocks({"type": "divider", "block_id": "a"}, {"type": "divider", "block_id": "a"}), "id"),
        (_blocks({"type": "context", "elements": []}), "/blocks/0/elements"),
        ([SECTION, "divider"], "/blocks/1"),
    ],
)
def test_invalid_blocks_are_refused(
    fake: FakeSlack, client: WebClient, blocks: list[Any], pointer: str
) -> None:
    channel = fake.add_channel("referrals")

    error = _error_of(lambda: client.chat_postMessage(channel=channel, text="t", blocks=blocks))

    assert error.response["error"] == "invalid_blocks"
    assert pointer in error.response["errors"][0]
    assert fake.messages() == []


def test_valid_blocks_within_the_limits_are_accepted(fake: FakeSlack, client: WebClient) -> None:
    channel = fake.add_channel("referrals")
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "x" * 150}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3000}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "ctx"}]},
        {"type": "actions", "elements": [{"type": "button", "text": SECTION["text"]}]},
        *[{"type": "divider"}] * 46,
    ]

    client.chat_postMessage(channel=channel, text="fallback", blocks=blocks)

    assert len(fake.messages(channel)[0]["blocks"]) == 50


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({}, "no_text"),
        ({"text": ""}, "no_text"),
        ({"text": "x" * 40_001}, "msg_too_long"),
        ({"text": "t", "blocks": "not json"}, "invalid_blocks_format"),
        ({"text": "t", "blocks": {"type": "divider"}}, "invalid_blocks_format"),
        ({"text": "t", "metadata": {"event_payload": {}}}, "invalid_metadata_schema"),
    ],
)
def test_message_content_rules(
    fake: FakeSlack, client: WebClient, arguments: dict[str, Any], error: str
) -> None:
    channel = fake.add_channel("referrals")

    body = {"channel": channel, **arguments}
    raised = _error_of(lambda: client.api_call("chat.postMessage", json=body))

    assert raised.response["error"] == error


def test_history_is_newest_first_and_pages_with_the_sdk_iterator(
    fake: FakeSlack, client: WebClient, clock: Clock
) -> None:
    channel = fake.add_channel("referrals")
    stamps = []
    for n in range(5):
        stamps.append(client.chat_postMessage(channel=channel, text=f"m{n}")["ts"])
        clock.now += 60
    assert stamps == sorted(stamps) and len(set(stamps)) == 5

    pages = [
        [m["text"] for m in page["messages"]]
        for page in client.conversations_history(channel=channel, limit=2)
    ]
    window = client.conversations_history(channel=channel, oldest=stamps[1], latest=stamps[4])

    assert pages == [["m4", "m3"], ["m2", "m1"], ["m0"]]
    assert [m["text"] for m in window["messages"]] == ["m3", "m2"]


def test_timestamps_stay_unique_when_the_clock_stands_still(
    fake: FakeSlack, client: WebClient
) -> None:
    channel = fake.add_channel("referrals")

    stamps = [client.chat_postMessage(channel=channel, text="x")["ts"] for _ in range(3)]

    assert stamps == ["1772442000.000000", "1772442000.000001", "1772442000.000002"]


def test_a_deactivated_users_dm_still_takes_messages(fake: FakeSlack, client: WebClient) -> None:
    user_id = fake.add_user("gone@example.com", deleted=True)

    assert client.chat_postMessage(channel=user_id, text="hi")["ok"] is True
    error = _error_of(lambda: client.conversations_open(users=user_id))
    assert error.response["error"] == "user_disabled"


def test_a_channel_the_bot_is_not_in_refuses_posts(fake: FakeSlack, client: WebClient) -> None:
    channel = fake.add_channel("sales", is_member=False)

    error = _error_of(lambda: client.chat_postMessage(channel=channel, text="hi"))

    assert error.response["error"] == "not_in_channel"


# -- auth, unknown methods, wire details -----------------------------------------------------


def test_auth_test_and_bad_tokens(fake: FakeSlack, client: WebClient) -> None:
    me = client.auth_test()
    assert me["user_id"] == BOT_USER_ID and me["bot_id"] and me["team_id"] and me["url"]

    wrong = WebClient(token="xoxb-wrong", base_url=fake.base_url, retry_handlers=[])
    missing = WebClient(base_url=fake.base_url, retry_handlers=[])
    error = _error_of(lambda: wrong.chat_postMessage(channel="C1", text="hi"))
    assert (error.response.status_code, error.response["error"]) == (200, "invalid_auth")
    error = _error_of(lambda: missing.users_lookupByEmail(email="a@example.com"))
    assert error.response["error"] == "not_authed"


def test_unknown_method(client: WebClient) -> None:
    error = _error_of(lambda: client.api_call("chat.postMesage", json={"channel": "C1"}))

    assert error.response["error"] == "unknown_method"


def test_every_answer_is_json_with_a_request_id(client: WebClient) -> None:
    response = client.auth_test()

    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.headers["x-slack-req-id"]


def test_json_without_a_charset_gets_slacks_warning(fake: FakeSlack) -> None:
    request = urllib.request.Request(
        fake.base_url + "auth.test",
        data=b"{}",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        body = json.loads(answer.read())

    assert body["ok"] is True and body["warning"] == "missing_charset"


# -- canned failures -------------------------------------------------------------------------


def test_rate_limit_surfaces_as_slack_api_error_with_retry_after(
    fake: FakeSlack, client: WebClient
) -> None:
    channel = fake.add_channel("referrals")
    fake.fail_next("chat.postMessage", status=429, headers={"Retry-After": "7"})

    error = _error_of(lambda: client.chat_postMessage(channel=channel, text="hi"))

    assert error.response.status_code == 429
    assert error.response["error"] == "ratelimited"
    assert error.response.headers["Retry-After"] == "7"
    assert error.response.headers["retry-after"] == "7"  # the SDK adds the lower-case alias
    assert client.chat_postMessage(channel=channel, text="hi")["ok"] is True  # only once


def test_a_canned_429_always_carries_retry_after(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next("auth.test", status=429)

    assert _error_of(client.auth_test).response.headers["Retry-After"] == "1"


def test_a_5xx_with_a_plain_body_surfaces_as_slack_api_error(
    fake: FakeSlack, client: WebClient
) -> None:
    fake.fail_next("users.lookupByEmail", status=503, times=2)

    for _ in range(2):
        error = _error_of(lambda: client.users_lookupByEmail(email="a@example.com"))
        assert error.response.status_code == 503
        assert error.response["ok"] is False
        assert error.response["error"].startswith("Received a response in a non-JSON format")
    assert [c.status for c in fake.calls] == [503, 503]
    assert fake.calls[0].response == {"raw_body": "503 Service Unavailable"}


def test_a_canned_error_on_http_200(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next("auth.test", error="invalid_auth")

    error = _error_of(client.auth_test)

    assert (error.response.status_code, error.response["error"]) == (200, "invalid_auth")
    assert client.auth_test()["ok"] is True


def test_fail_next_needs_an_error_code_for_non_429_4xx_and_200() -> None:
    with pytest.raises(ValueError):
        FakeSlack().fail_next("auth.test")


# -- answers lost after the call was performed (lose_answer_next) ------------------------------


def _quick(fake: FakeSlack) -> WebClient:
    """A client that gives up on an answer after 0.3 s."""
    return WebClient(
        token=TOKEN,
        base_url=fake.base_url,
        timeout=0.3,
        retry_handlers=[],  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("mode", "raised"),
    [
        ("timeout", TimeoutError),
        ("disconnect", http.client.RemoteDisconnected),
        ("cut", SlackApiError),
        ("5xx", SlackApiError),
    ],
)
def test_a_lost_answer_comes_after_the_message_was_posted(
    fake: FakeSlack, mode: str, raised: type[Exception]
) -> None:
    user = fake.add_user("casey@example.com")
    fake.lose_answer_next("chat.postMessage", mode, hold=1.0)

    with pytest.raises(raised):
        _quick(fake).chat_postMessage(channel=user, text="once")

    assert [m["text"] for m in fake.messages(user)] == ["once"]
    [lost] = fake.lost_answers
    assert (lost.method_name, lost.mode, lost.performed["ok"]) == ("chat.postMessage", mode, True)
    assert _quick(fake).chat_postMessage(channel=user, text="next")["ok"] is True  # once only


def test_a_cut_body_keeps_the_200_and_the_sdk_calls_it_non_json(fake: FakeSlack) -> None:
    user = fake.add_user("casey@example.com")
    fake.lose_answer_next("chat.postMessage", "cut")
    error = _error_of(lambda: _quick(fake).chat_postMessage(channel=user, text="hi"))
    assert error.response.status_code == 200
    assert error.response["error"].startswith("Received a response in a non-JSON format")


def test_a_5xx_lost_answer_has_slacks_plain_body_and_status(fake: FakeSlack) -> None:
    user = fake.add_user("casey@example.com")
    fake.lose_answer_next("chat.postMessage", "5xx", status=503, times=2)
    for text in ("a", "b"):
        error = _error_of(lambda t=text: _quick(fake).chat_postMessage(channel=user, text=t))
        assert error.response.status_code == 503
    assert len(fake.messages(user)) == 2 and len(fake.lost_answers) == 2


def test_lose_answer_next_refuses_unknown_modes_and_non_5xx_statuses() -> None:
    with pytest.raises(ValueError):
        FakeSlack().lose_answer_next("chat.postMessage", "vanish")
    with pytest.raises(ValueError):
        FakeSlack().lose_answer_next("chat.postMessage", "5xx", status=404)


# -- chat.update, chat.postEphemeral, views.open and the interaction payloads ----------------

BUTTONS = {
    "type": "actions",
    "block_id": "ask:7",
    "elements": [
        {
            "type": "button",
            "action_id": "ask_asked",
            "text": {"type": "plain_text", "text": "Asked"},
            "value": "7",
        }
    ],
}
MODAL = {
    "type": "modal",
    "callback_id": "intro",
    "title": {"type": "plain_text", "text": "Log an intro"},
    "submit": {"type": "plain_text", "text": "Save"},
    "private_metadata": '{"ask_id": 7}',
    "blocks": [
        {
            "type": "input",
            "block_id": "company",
            "label": {"type": "plain_text", "text": "Company"},
            "element": {"type": "plain_text_input", "action_id": "value"},
        }
    ],
}


def test_chat_update_replaces_blocks_and_text_of_the_bots_message(
    fake: FakeSlack, client: WebClient
) -> None:
    user = fake.add_user("casey@example.com")
    posted = client.chat_postMessage(channel=user, text="digest", blocks=[SECTION, BUTTONS])
    done = {"type": "context", "elements": [{"type": "mrkdwn", "text": "Asked"}]}

    answer = client.chat_update(
        channel=posted["channel"], ts=posted["ts"], text="digest", blocks=[SECTION, done]
    )

    assert answer["ok"] is True and answer["ts"] == posted["ts"]
    [call] = fake.calls_to("chat.update")
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert call.content_type.startswith("application/json")
    [message] = fake.messages(user)
    assert [b["type"] for b in message["blocks"]] == ["section", "context"]
    assert message["edited"]["user"] == BOT_USER_ID
    kept = client.chat_update(channel=posted["channel"], ts=posted["ts"], text="new text")
    assert kept["message"]["blocks"][1]["type"] == "context"  # blocks left out are kept


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_chat_update_refuses_unknown_channels_and_messages(
    fake: FakeSlack, client: WebClient
) -> None:
    user = fake.add_user("casey@example.com")
    posted = client.chat_postMessage(channel=user, text="digest")

    assert (
        _error_of(lambda: client.chat_update(channel=user, ts=posted["ts"], text="x")).response[
            "error"
        ]
        == "channel_not_found"
    )  # a user id is not a conversation id
    assert (
        _error_of(
            lambda: client.chat_update(channel=posted["channel"], ts="1.000001", text="x")
        ).response["error"]
        == "message_not_found"
    )
    assert (
        _error_of(lambda: client.chat_update(channel=posted["channel"], ts=posted["ts"])).response[
            "error"
        ]
        == "no_text"
    )


def test_post_ephemeral_reaches_only_members_and_is_not_in_history(
    fake: FakeSlack, client: WebClient
) -> None:
    casey = fake.add_user("casey@example.com")
    other = fake.add_user("other@example.com")
    dm = client.conversations_open(users=casey)["channel"]["id"]

    answer = client.chat_postEphemeral(channel=dm, user=casey, text="Not yours")

    assert answer.data == {"ok": True, "message_ts": answer["message_ts"]}
    assert [(e["channel"], e["user"], e["text"]) for e in fake.ephemerals()] == [
        (dm, casey, "Not yours")
    ]
    assert client.conversations_history(channel=dm)["messages"] == []
    refused = _error_of(lambda: client.chat_postEphemeral(channel=dm, user=other, text="x"))
    assert refused.response["error"] == "user_not_in_channel"
    missing = _error_of(
        lambda: client.chat_postEphemeral(channel="C0NOWHERE", user=casey, text="x")
    )
    assert missing.response["error"] == "channel_not_found"


def test_views_open_exchanges_a_trigger_once_and_answers_the_view(
    fake: FakeSlack, client: WebClient
) -> None:
    casey = fake.add_user("casey@example.com")
    trigger = fake.issue_trigger(casey)

    view = client.views_open(trigger_id=trigger, view=MODAL)["view"]

    assert view["id"].startswith("V") and view["hash"] and view["callback_id"] == "intro"
    assert view["private_metadata"] == MODAL["private_metadata"]
    assert view["state"] == {"values": {}}
    again = _error_of(lambda: client.views_open(trigger_id=trigger, view=MODAL))
    assert again.response["error"] == "exchanged_trigger_id"
    unknown = _error_of(lambda: client.views_open(trigger_id="1.2.3", view=MODAL))
    assert unknown.response["error"] == "invalid_trigger_id"
    submitted = fake.view_submission(view["id"], {"company": "Initech"})
    assert submitted["type"] == "view_submission" and submitted["user"]["id"] == casey
    assert submitted["view"]["state"]["values"] == {
        "company": {"value": {"type": "plain_text_input", "value": "Initech"}}
    }


def test_a_trigger_expires_after_three_seconds() -> None:
    seconds = [100.0]
    late = FakeSlack(TOKEN, trigger_clock=lambda: seconds[0]).start()
    try:
        client = WebClient(token=TOKEN, base_url=late.base_url, retry_handlers=[])
        trigger = late.issue_trigger("U0CASEY01")
        seconds[0] += 3.5
        error = _error_of(lambda: client.views_open(trigger_id=trigger, view=MODAL))
        assert error.response["error"] == "expired_trigger_id"
    finally:
        late.stop()


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"type": "home"}, "/view/type"),
        ({"title": {"type": "plain_text", "text": "x" * 25}}, "/view/title/text"),
        ({"submit": None}, "/view/submit"),
        ({"private_metadata": "x" * 3001}, "/view/private_metadata"),
        ({"blocks": [{"type": "input", "element": {"type": "plain_text_input"}}]}, "/label"),
    ],
)
def test_views_open_refuses_views_slack_refuses(
    fake: FakeSlack, client: WebClient, change: dict[str, Any], pointer: str
) -> None:
    view = {k: v for k, v in {**MODAL, **change}.items() if v is not None}
    trigger = fake.issue_trigger(fake.add_user("casey@example.com"))

    error = _error_of(lambda: client.views_open(trigger_id=trigger, view=view))

    assert error.response["error"] == "invalid_arguments"
    assert pointer in error.response["response_metadata"]["messages"][0]
    assert fake.views() == []


def test_a_block_action_payload_carries_the_posted_button(
    fake: FakeSlack, client: WebClient
) -> None:
    casey = fake.add_user("casey@example.com")
    posted = client.chat_postMessage(channel=casey, text="digest", blocks=[SECTION, BUTTONS])

    payload = fake.block_action(casey, posted["channel"], posted["ts"], "ask:7", "ask_asked")

    assert payload["type"] == "block_actions" and payload["user"]["id"] == casey
    assert payload["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": posted["channel"],
        "is_ephemeral": False,
    }
    [action] = payload["actions"]
    assert (action["action_id"], action["block_id"], action["value"]) == ("ask_asked", "ask:7", "7")
    assert payload["message"]["blocks"][1]["block_id"] == "ask:7"
    with pytest.raises(ValueError):
        fake.block_action(casey, posted["channel"], posted["ts"], "ask:8", "ask_asked")


PICKER = {
    "type": "input",
    "block_id": "referrer",
    "label": {"type": "plain_text", "text": "Referrer"},
    "element": {
        "type": "external_select",
        "action_id": "referrer_person",
        "placeholder": {"type": "plain_text", "text": "Type a name"},
        "min_query_length": 2,
    },
}


def _with_picker(**element: Any) -> dict[str, Any]:
    picker = {**PICKER, "element": {**PICKER["element"], **element}}
    picker["element"] = {k: v for k, v in picker["element"].items() if v is not None}
    return {**MODAL, "blocks": [picker, *MODAL["blocks"]]}


def test_an_external_select_is_opened_and_served_by_block_suggestions(
    fake: FakeSlack, client: WebClient
) -> None:
    casey = fake.add_user("casey@example.com")
    initial = {"text": {"type": "plain_text", "text": "Ana Lima — Acme"}, "value": "7"}
    view = client.views_open(
        trigger_id=fake.issue_trigger(casey), view=_with_picker(initial_option=initial)
    )["view"]

    payload = fake.block_suggestion(view["id"], "referrer", "an")

    assert view["blocks"][0]["element"]["type"] == "external_select"
    assert {k: payload[k] for k in ("type", "action_id", "block_id", "value")} == {
        "type": "block_suggestion",
        "action_id": "referrer_person",
        "block_id": "referrer",
        "value": "an",
    }
    assert payload["user"]["id"] == casey and payload["team"]["id"] == view["team_id"]
    assert payload["container"] == {"type": "view", "view_id": view["id"]}
    assert payload["view"]["id"] == view["id"] and "trigger_id" not in payload
    with pytest.raises(ValueError, match="after 2 characters"):
        fake.block_suggestion(view["id"], "referrer", "a")  # Slack sends nothing that short
    with pytest.raises(ValueError, match="not an external select"):
        fake.block_suggestion(view["id"], "company", "Initech")

    submitted = fake.view_submission(view["id"], {"referrer": initial, "company": "Initech"})
    assert submitted["view"]["state"]["values"]["referrer"] == {
        "referrer_person": {"type": "external_select", "selected_option": initial}
    }
    empty = fake.view_submission(view["id"], {})
    assert empty["view"]["state"]["values"]["referrer"] == {
        "referrer_person": {"type": "external_select", "selected_option": None}
    }


def test_without_min_query_length_slack_waits_for_three_characters(
    fake: FakeSlack, client: WebClient
) -> None:
    casey = fake.add_user("casey@example.com")
    view = client.views_open(
        trigger_id=fake.issue_trigger(casey), view=_with_picker(min_query_length=None)
    )["view"]

    with pytest.raises(ValueError, match="after 3 characters"):
        fake.block_suggestion(view["id"], "referrer", "an")
    assert fake.block_suggestion(view["id"], "referrer", "ana")["value"] == "ana"


@pytest.mark.parametrize(
    ("element", "pointer"),
    [
        ({"placeholder": {"type": "plain_text", "text": "x" * 151}}, "/element/placeholder/text"),
        ({"placeholder": {"type": "mrkdwn", "text": "x"}}, "/element/placeholder"),
        ({"min_query_length": -1}, "/element/min_query_length"),
        ({"min_query_length": "2"}, "/element/min_query_length"),
        ({"action_id": "a" * 256}, "/element/action_id"),
        ({"options": [{"text": {"type": "plain_text", "text": "A"}, "value": "1"}]}, "/options"),
        (
            {"initial_option": {"text": {"type": "plain_text", "text": "x" * 76}, "value": "1"}},
            "/element/initial_option/text/text",
        ),
        (
            {"initial_option": {"text": {"type": "plain_text", "text": "A"}, "value": "v" * 151}},
            "/element/initial_option/value",
        ),
        ({"focus_on_load": "yes"}, "/element/focus_on_load"),
    ],
)
def test_views_open_refuses_external_selects_slack_refuses(
    fake: FakeSlack, client: WebClient, element: dict[str, Any], pointer: str
) -> None:
    trigger = fake.issue_trigger(fake.add_user("casey@example.com"))

    error = _error_of(lambda: client.views_open(trigger_id=trigger, view=_with_picker(**element)))

    assert error.response["error"] == "invalid_arguments"
    assert pointer in error.response["response_metadata"]["messages"][0]
    assert fake.views() == []
