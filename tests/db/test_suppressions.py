"""The suppression list's queries: lower-cased addresses, the first reason kept, set-based."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from db.engine import transaction
from db.models import Suppression
from db.repositories.suppressions import NewSuppression, suppress, suppressed, unsuppress
from tests.conftest import T0


def test_addresses_are_matched_whatever_their_case(factory):
    with transaction(factory) as session:
        assert suppress(session, [NewSuppression("Ann@Client.Example", "unsubscribe", "link")], T0)

    with factory() as session:
        found = suppressed(session, ["ANN@client.example", " ann@client.example ", "bob@x.example"])
        stored = session.scalars(select(Suppression)).one()
    assert found == {"ann@client.example": "unsubscribe"}
    assert (stored.email, stored.source, stored.created_at) == ("ann@client.example", "link", T0)


def test_the_first_reason_is_kept_and_repeats_change_nothing(factory):
    with transaction(factory) as session:
        first = suppress(
            session,
            [
                NewSuppression("ann@client.example", "bounce", "sendgrid", {"sg_event_id": "1"}),
                NewSuppression("ANN@client.example", "spamreport", "sendgrid"),  # same batch
            ],
            T0,
        )
    with transaction(factory) as session:
        later = suppress(
            session,
            [
                NewSuppression("ann@client.example", "unsubscribe", "link"),
                NewSuppression("bob@client.example", "unsubscribe", "link"),
            ],
            T0 + timedelta(days=1),
        )

    assert (first, later) == (1, 1)
    with factory() as session:
        rows = {s.email: s for s in session.scalars(select(Suppression))}
    ann = rows["ann@client.example"]
    assert (ann.reason, ann.source, ann.details, ann.created_at) == (
        "bounce",
        "sendgrid",
        {"sg_event_id": "1"},
        T0,
    )
    assert rows["bob@client.example"].reason == "unsubscribe"


def test_unsuppress_takes_addresses_off_the_list(factory):
    with transaction(factory) as session:
        suppress(
            session,
            [NewSuppression(f"p{n}@client.example", "bounce", "cli") for n in range(3)],
            T0,
        )
    with transaction(factory) as session:
        removed = unsuppress(session, ["P0@client.example", "p1@client.example", "nobody@x.io"])
    with factory() as session:
        left = suppressed(session, [f"p{n}@client.example" for n in range(3)])
    assert removed == 2 and left == {"p2@client.example": "bounce"}


def test_nothing_asked_nothing_queried(factory):
    with transaction(factory) as session:
        assert suppressed(session, []) == {} and suppressed(session, ["", "  "]) == {}
        assert suppress(session, [], T0) == 0 and unsuppress(session, []) == 0


def test_thousands_of_addresses_are_checked_in_chunks(factory):
    emails = [f"person{n}@client.example" for n in range(2500)]
    with transaction(factory) as session:
        added = suppress(session, [NewSuppression(e, "bounce", "cli") for e in emails[::2]], T0)
    with factory() as session:
        found = suppressed(session, emails)
    assert added == 1250 and len(found) == 1250 and "person0@client.example" in found
