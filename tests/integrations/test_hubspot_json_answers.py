"""HubSpot searches are read as plain JSON (no SDK models): a 2xx answer without its results
list is an answer lost, retried as a read, never taken for an empty page (which would end a
sync's paging early and move its watermark past records it never saw)."""

from __future__ import annotations

import pytest

from integrations.errors import TransientError
from integrations.hubspot.calls import HubSpotCalls
from integrations.rate_limit import RateLimiter


class Answer:
    """What urllib3 hands back with ``preload_content=False``: the body, and the connection
    to give back."""

    def __init__(self, body: bytes) -> None:
        self.data = body
        self.released = False

    def release_conn(self) -> None:
        self.released = True


def calls() -> HubSpotCalls:
    no_wait = {"sleep": lambda _s: None}
    return HubSpotCalls(
        RateLimiter(100, 10.0, **no_wait),
        RateLimiter(100, 1.0, **no_wait),
        sleep=lambda _s: None,
        max_attempts=3,
    )


@pytest.mark.parametrize("body", [b"{}", b'{"results": null}', b"[]", b"not json", b'"x"'])
def test_a_search_answer_without_results_is_lost_and_retried(body: bytes) -> None:
    runner, answers = calls(), []

    def search(**_kwargs: object) -> Answer:
        answers.append(Answer(body))
        return answers[-1]

    with pytest.raises(TransientError, match="unreadable body"):
        runner.json("POST /crm/v3/objects/deals/search", search, required=(("results", list),))
    assert len(answers) == 3 and all(a.released for a in answers)  # retried, all given back


def test_a_search_answer_with_results_is_returned_as_json() -> None:
    answer = Answer(b'{"results": [{"id": "1", "properties": {}}], "paging": null}')

    found = calls().json(
        "POST /crm/v3/objects/deals/search", lambda **_k: answer, required=(("results", list),)
    )

    assert found["results"][0]["id"] == "1" and answer.released
