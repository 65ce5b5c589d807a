"""The referrer picker's search: people with an email who have not opted out, by first, last
or full name or account name, any case, at most the limit, in a stable order; set-based."""

from __future__ import annotations

from sqlalchemy import event

from db.models import Account, Person
from db.repositories.people import PersonChoice, search_people


def _seed(factory) -> dict[str, int]:
    with factory.begin() as session:
        acme = Account(crm_id="a1", name="Acme Robotics")
        globex = Account(crm_id="a2", name="Globex")
        session.add_all([acme, globex])
        session.flush()
        people = {
            "ana": Person(account_id=acme.id, first_name="Ana", last_name="Lima", email="ana@a.x"),
            "bo": Person(
                account_id=globex.id, first_name="Bo", last_name="ACMEson", email="bo@g.x"
            ),
            "cy": Person(account_id=globex.id, first_name="Cy", last_name="Lima", email="cy@g.x"),
            "dee": Person(account_id=acme.id, first_name="Dee", last_name="Nomail", email=""),
            "eve": Person(
                account_id=acme.id, first_name="Eve", last_name="Out", email="e@a.x", opted_out=True
            ),
            "flo": Person(account_id=None, first_name="Flo", last_name="Lima", email="flo@x.x"),
            "pct": Person(account_id=None, first_name="100%", last_name="Sure", email="p@x.x"),
        }
        session.add_all(people.values())
        session.flush()
        return {key: person.id for key, person in people.items()}


def test_names_and_accounts_match_in_any_case_and_in_a_stable_order(factory):
    ids = _seed(factory)
    with factory() as session:
        by_account = search_people(session, "aCmE")
        by_last = search_people(session, "LIMA")
        by_full = search_people(session, "ana lima")
        by_first = search_people(session, "flo")

    # Acme's people and the Acmeson at Globex: ordered by last name, first name, account, id
    assert [c.person_id for c in by_account] == [ids["bo"], ids["ana"]]
    assert by_account[1] == PersonChoice(ids["ana"], "Ana", "Lima", "Acme Robotics")
    assert [c.person_id for c in by_last] == [ids["ana"], ids["cy"], ids["flo"]]
    assert [c.person_id for c in by_full] == [ids["ana"]]
    assert by_first == [PersonChoice(ids["flo"], "Flo", "Lima", None)]


def test_no_email_opted_out_and_empty_queries_find_nobody(factory):
    _seed(factory)
    with factory() as session:
        assert search_people(session, "nomail") == []
        assert search_people(session, "Out") == []
        assert search_people(session, "   ") == []
        assert search_people(session, "zz") == []


def test_wildcards_are_literal(factory):
    ids = _seed(factory)
    with factory() as session:
        assert [c.person_id for c in search_people(session, "0%")] == [ids["pct"]]
        assert search_people(session, "_") == []
        assert search_people(session, "%") == [PersonChoice(ids["pct"], "100%", "Sure", None)]


def test_at_most_the_limit_in_one_query(factory):
    with factory.begin() as session:
        account = Account(crm_id="big", name="Initech")
        session.add(account)
        session.flush()
        session.add_all(
            Person(
                account_id=account.id, first_name=f"P{n:02}", last_name="Smith", email=f"{n}@i.x"
            )
            for n in range(25)
        )
    statements: list[str] = []
    with factory() as session:
        engine = session.get_bind()

        def listen(connection, cursor, statement, *rest) -> None:
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", listen)
        try:
            found = search_people(session, "initech")
        finally:
            event.remove(engine, "before_cursor_execute", listen)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(found) == 20 and len(selects) == 1
    assert [c.first_name for c in found] == [f"P{n:02}" for n in range(20)]
