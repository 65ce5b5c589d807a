"""The fake HubSpot's lost answers (``lose_answer_next``): the request is performed, then its
answer is held past the client's timeout, cut, or replaced by a 5xx, as the real SDK meets
them. Split from test_hubspot_server.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import urllib3
from hubspot import HubSpot
from hubspot.crm.companies import (
    BatchInputSimplePublicObjectBatchInputForCreate as CompanyBatchCreate,
)
from hubspot.crm.companies.exceptions import ServiceException
from urllib3.util import Retry

from tests.fakes import FakeHubSpot
from tests.fakes.test_hubspot_server import T0, TOKEN, _error, _search


@pytest.fixture
def fake() -> Iterator[FakeHubSpot]:
    with FakeHubSpot(TOKEN, now=lambda: T0) as server:
        yield server


# -- answers lost after the request was performed (lose_answer_next) ---------------------------


def _adapter_like_client(fake: FakeHubSpot) -> HubSpot:
    """Built as the adapter builds it: no urllib3 retries, no client-side validation."""
    return HubSpot(access_token=TOKEN, host=fake.base_url, retry=Retry(total=0))


def _create_company(client: HubSpot, name: str, read_timeout: float = 5.0):
    return client.crm.companies.batch_api.create(
        batch_input_simple_public_object_batch_input_for_create=CompanyBatchCreate(
            inputs=[{"properties": {"name": name}}]
        ),
        _request_timeout=(5.0, read_timeout),
    )


@pytest.mark.parametrize(
    ("mode", "raised"),
    [
        ("timeout", urllib3.exceptions.ReadTimeoutError),
        ("disconnect", urllib3.exceptions.ProtocolError),
        ("5xx", ServiceException),
    ],
)
def test_a_lost_answer_comes_after_the_write_was_performed(
    fake: FakeHubSpot, mode: str, raised: type[Exception]
) -> None:
    client = _adapter_like_client(fake)
    fake.lose_answer_next("POST", "/crm/v3/objects/companies/batch/create", mode, hold=1.0)

    # Only the held answer must outlast the read timeout; the others must not be cut by it
    # on a busy machine.
    with pytest.raises(raised):
        _create_company(client, "Lost", read_timeout=0.3 if mode == "timeout" else 5.0)

    assert [p["name"] for p in fake.objects("companies").values()] == ["Lost"]
    assert [(a.path, a.mode, a.performed_status) for a in fake.lost_answers] == [
        ("/crm/v3/objects/companies/batch/create", mode, 201)
    ]
    assert _create_company(client, "Next").results[0].properties["name"] == "Next"  # once only


def test_a_5xx_lost_answer_can_be_a_503_with_hubspots_error_body(fake: FakeHubSpot) -> None:
    fake.lose_answer_next("POST", "/crm/v3/objects/companies/batch/create", "5xx", status=503)
    with pytest.raises(ServiceException) as failed:
        _create_company(_adapter_like_client(fake), "Lost")
    assert failed.value.status == 503
    assert _error(failed)["category"] == "INTERNAL_ERROR"
    assert len(fake.objects("companies")) == 1


def test_a_cut_body_is_a_2xx_the_sdk_reads_as_an_empty_model(fake: FakeHubSpot) -> None:
    """What the adapter must detect: the SDK raises nothing, every field is None."""
    fake.lose_answer_next("POST", "/crm/v3/objects/companies/batch/create", "cut")
    answer = _create_company(_adapter_like_client(fake), "Cut")
    assert (answer.status, answer.results) == (None, None)
    assert len(fake.objects("companies")) == 1
    assert fake.lost_answers[0].mode == "cut"


def test_lost_answers_count_down_and_match_method_and_path(fake: FakeHubSpot) -> None:
    client = _adapter_like_client(fake)
    fake.lose_answer_next("POST", "/crm/v3/objects/companies/batch", "disconnect", times=2)
    _search(client, limit=1)  # another path: answered
    for name in ("A", "B"):
        with pytest.raises(urllib3.exceptions.ProtocolError):
            _create_company(client, name)
    assert _create_company(client, "C").results
    assert len(fake.objects("companies")) == 3 and len(fake.lost_answers) == 2


def test_lose_answer_next_refuses_unknown_modes_and_non_5xx_statuses() -> None:
    with pytest.raises(ValueError):
        FakeHubSpot().lose_answer_next("POST", "/crm", "vanish")
    with pytest.raises(ValueError):
        FakeHubSpot().lose_answer_next("POST", "/crm", "5xx", status=429)
