"""The fake SendGrid, driven by the real ``sendgrid`` SDK (and raw HTTP where the SDK cannot
send what is being checked).

What sendgrid 6.x does on the wire (read from ``base_interface.py`` and python-http-client,
checked here through ``fake.requests``): ``SendGridAPIClient(key, host=...).send(dict)`` is a
POST to ``host + /v3/mail/send`` with ``Authorization: Bearer <key>``, a JSON body and
``Content-Type: application/json``; a non-2xx answer raises
``python_http_client.exceptions.HTTPError`` (a subclass per status) carrying ``status_code``,
``body`` and ``headers``.
"""

from __future__ import annotations

import gzip
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from tests.fakes.sendgrid_server import FakeSendGrid

T0 = 1_772_442_000.0  # 2026-03-02 09:00 UTC


def mail(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "personalizations": [{"to": [{"email": "ann@client.example"}]}],
        "from": {"email": "program@vendor.example", "name": "Referral program"},
        "subject": "Thanks for the intro",
        "content": [
            {"type": "text/plain", "value": "Thank you."},
            {"type": "text/html", "value": "<p>Thank you.</p>"},
        ],
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid(now=lambda: T0) as server:
        yield server


@pytest.fixture
def client(fake: FakeSendGrid) -> SendGridAPIClient:
    sdk = SendGridAPIClient(fake.api_key, host=fake.base_url)
    sdk.client.timeout = 5
    return sdk


def refusal(client: SendGridAPIClient, body: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    with pytest.raises(HTTPError) as raised:
        client.send(body)
    return raised.value.status_code, json.loads(raised.value.body)["errors"]


def fields(errors: list[dict[str, Any]]) -> list[str | None]:
    return [e["field"] for e in errors]


def post(fake: FakeSendGrid, data: bytes, headers: dict[str, str], method: str = "POST") -> Any:
    request = urllib.request.Request(
        fake.base_url + "/v3/mail/send", data=data, headers=headers, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# -- accepted mail ------------------------------------------------------------------------------


def test_a_valid_mail_is_accepted_with_a_message_id(fake, client):
    response = client.send(mail(categories=["referral"], custom_args={"outbox_key": "k1"}))

    assert response.status_code == 202 and response.body == b""
    [accepted] = fake.mails
    assert response.headers["X-Message-Id"] == accepted.message_id
    assert accepted.recipients == ["ann@client.example"]
    assert accepted.custom_args == {"outbox_key": "k1"}
    [request] = fake.requests
    assert (request.method, request.path, request.status) == ("POST", "/v3/mail/send", 202)
    assert request.headers["authorization"] == f"Bearer {fake.api_key}"
    assert request.headers["content-type"] == "application/json"
    assert fake.mails_to("ANN@client.example") == [accepted]


def test_a_subject_in_every_personalization_replaces_the_top_level_one(fake, client):
    body = mail(subject=None)
    body["personalizations"][0]["subject"] = "Per person"
    assert client.send(body).status_code == 202


def test_a_gzipped_body_is_read(fake):
    data = gzip.compress(json.dumps(mail()).encode())
    headers = {
        "Authorization": f"Bearer {fake.api_key}",
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
    }
    assert post(fake, data, headers)[0] == 202 and len(fake.mails) == 1


# -- authentication, method, path, body -----------------------------------------------------------


def test_a_missing_or_wrong_key_is_401_with_sendgrids_error(fake):
    missing = post(fake, json.dumps(mail()).encode(), {"Content-Type": "application/json"})
    wrong = refusal(SendGridAPIClient("SG.wrong", host=fake.base_url), mail())

    assert missing == (
        401,
        {"errors": [{"message": "authorization required", "field": None, "help": None}]},
    )
    assert wrong[0] == 401 and "invalid, expired, or revoked" in wrong[1][0]["message"]
    assert not fake.mails


def test_other_paths_and_methods_are_refused(fake):
    headers = {"Authorization": f"Bearer {fake.api_key}", "Content-Type": "application/json"}
    assert post(fake, b"{}", headers, method="PUT")[0] == 405
    request = urllib.request.Request(fake.base_url + "/v3/mail/sendx", data=b"{}", headers=headers)
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=5)
    assert raised.value.code == 404


def test_a_body_that_is_not_json_is_400(fake):
    headers = {"Authorization": f"Bearer {fake.api_key}", "Content-Type": "application/json"}
    assert post(fake, b"{not json", headers)[0] == 400
    status, body = post(fake, b"{}", {**headers, "Content-Type": "text/plain"})
    assert status == 400 and "application/json" in body["errors"][0]["message"]


def test_a_body_over_the_limit_is_413(client):
    with FakeSendGrid(max_body_bytes=1000) as small:
        sdk = SendGridAPIClient(small.api_key, host=small.base_url)
        status, errors = refusal(sdk, mail(content=[{"type": "text/plain", "value": "x" * 2000}]))
    assert (status, errors[0]["message"]) == (413, "content too large")


# -- the mail-send rules ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"personalizations": []}, "personalizations"),
        ({"personalizations": [{"to": []}]}, "personalizations.0.to"),
        (
            {"personalizations": [{"to": [{"email": "not-an-address"}]}]},
            "personalizations.0.to.0.email",
        ),
        ({"personalizations": [{"to": [{"email": "a@b.example"}]}] * 1001}, "personalizations"),
        ({"from": None}, "from.email"),
        ({"from": {"email": "nobody"}}, "from.email"),
        ({"reply_to": {"email": "nobody"}}, "reply_to.email"),
        ({"subject": None}, "subject"),
        ({"subject": ""}, "subject"),
        ({"content": None}, "content"),
        ({"content": [{"type": "text/plain", "value": ""}]}, "content.0.value"),
        ({"categories": [f"c{n}" for n in range(11)]}, "categories"),
        ({"categories": ["x" * 256]}, "categories.0"),
        ({"categories": ["a", "a"]}, "categories"),
        ({"custom_args": {"referral_id": 12}}, "custom_args.referral_id"),
        ({"custom_args": {"k": "v" * 10_001}}, "custom_args"),
        ({"headers": {"From": "x@y.example"}}, "headers.From"),
        ({"headers": {"X-SG-ID": "1"}}, "headers.X-SG-ID"),
        ({"headers": {"X-Count": 1}}, "headers.X-Count"),
        ({"asm": {"group_id": "12"}}, "asm.group_id"),
        ({"asm": {"group_id": 1, "groups_to_display": list(range(26))}}, "asm.groups_to_display"),
    ],
)
def test_each_rule_of_the_description_is_refused_by_field(fake, client, overrides, field):
    status, errors = refusal(client, mail(**overrides))
    assert status == 400 and field in fields(errors), errors
    assert not fake.mails


def test_html_before_plain_text_is_refused(client):
    body = mail(
        content=[{"type": "text/html", "value": "<p>x</p>"}, {"type": "text/plain", "value": "x"}]
    )
    status, errors = refusal(client, body)
    assert status == 400 and "text/plain must be first" in errors[0]["message"]


def test_an_address_twice_in_one_personalization_is_refused(client):
    to = [{"email": "ann@client.example"}]
    status, errors = refusal(client, mail(personalizations=[{"to": to, "cc": to}]))
    assert status == 400 and fields(errors) == ["personalizations.0"]


def test_every_problem_is_listed_at_once(client):
    status, errors = refusal(client, mail(subject="", categories=["a", "a"], asm={}))
    assert status == 400 and fields(errors) == ["subject", "categories", "asm.group_id"]


def test_valid_headers_and_an_unsubscribe_group_are_accepted(fake, client):
    headers = {
        "List-Unsubscribe": "<https://refer.example/u/abc>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    response = client.send(mail(headers=headers, asm={"group_id": 42, "groups_to_display": [42]}))
    assert response.status_code == 202 and fake.mails[0].body["headers"] == headers


# -- canned failures ----------------------------------------------------------------------------


def test_a_429_carries_the_rate_limit_reset_and_sends_nothing(fake, client):
    fake.fail_next(429, reset=T0 + 7)
    with pytest.raises(HTTPError) as raised:
        client.send(mail())
    error = raised.value
    assert error.status_code == 429 and error.headers["X-RateLimit-Reset"] == str(int(T0 + 7))
    assert error.headers["X-RateLimit-Remaining"] == "0"
    assert json.loads(error.body)["errors"][0]["message"] == "too many requests"
    assert client.send(mail()).status_code == 202  # once only
    assert fake.statuses() == [429, 202] and len(fake.mails) == 1


def test_a_429_resets_a_second_from_now_by_default(fake, client):
    fake.fail_next(429)
    with pytest.raises(HTTPError) as raised:
        client.send(mail())
    assert raised.value.headers["X-RateLimit-Reset"] == str(int(T0 + 1))


@pytest.mark.parametrize("status", [500, 503])
def test_a_canned_5xx_is_sendgrids_json_and_sends_nothing(fake, client, status):
    fake.fail_next(status, times=2)
    for _ in range(2):
        code, errors = refusal(client, mail())
        assert code == status and errors[0]["message"]
    assert not fake.mails and client.send(mail()).status_code == 202


def test_a_canned_4xx_carries_the_given_message_and_field(client, fake):
    fake.fail_next(
        403,
        message="The from address does not match a verified Sender Identity.",
        field_name="from",
    )
    status, errors = refusal(client, mail())
    assert status == 403 and errors == [
        {
            "message": "The from address does not match a verified Sender Identity.",
            "field": "from",
            "help": None,
        }
    ]


def test_fail_next_and_lose_answer_next_check_their_arguments(fake):
    for bad in (lambda: fake.fail_next(202), lambda: fake.fail_next(500, times=0)):
        with pytest.raises(ValueError):
            bad()
    for bad in (
        lambda: fake.lose_answer_next("vanish"),
        lambda: fake.lose_answer_next("5xx", status=404),
    ):
        with pytest.raises(ValueError):
            bad()


# -- lost answers: the mail is accepted, the answer is not received ------------------------------


@pytest.mark.parametrize(
    ("mode", "raised"),
    [
        ("timeout", TimeoutError),
        ("cut", Exception),  # http.client.IncompleteRead
        ("disconnect", ConnectionError),  # http.client.RemoteDisconnected
        ("5xx", HTTPError),
    ],
)
def test_a_lost_answer_still_accepts_the_mail(fake, client, mode, raised):
    client.client.timeout = 0.3
    fake.lose_answer_next(mode)
    started = time.monotonic()

    with pytest.raises(raised) as error:
        client.send(mail())

    assert len(fake.mails) == 1 and [lost.mode for lost in fake.lost_answers] == [mode]
    assert fake.lost_answers[0].message_id == fake.mails[0].message_id
    if mode == "5xx":
        assert error.value.status_code == 502 and error.value.body == b"502 Bad Gateway"
    if mode == "timeout":
        assert time.monotonic() - started < 1.0
    assert client.send(mail()).status_code == 202  # the next one is answered


def test_a_refused_mail_does_not_use_up_a_lost_answer(fake, client):
    fake.lose_answer_next("disconnect")
    refusal(client, mail(subject=""))
    with pytest.raises(ConnectionError):
        client.send(mail())
    assert len(fake.mails) == 1
