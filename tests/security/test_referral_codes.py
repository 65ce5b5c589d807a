"""Referral codes cannot be guessed or enumerated.

A code is 13 characters of Crockford's base32 drawn with ``secrets`` (65 bits); a link that
leads nowhere (never issued, mistyped, malformed, retired) answers one page, byte for byte the
same, with the same status; on the code form an unknown code and a malformed one read the
same. Whether a code exists does not show in the time either: the lookup is one statement on
a unique index, the same statement for a known and an unknown code, and the measured time of
codes sharing all but their last character with a real one is that of any unknown code.
"""

from __future__ import annotations

import inspect
import re
import statistics
import time
from collections import Counter

from sqlalchemy import event
from sqlalchemy import inspect as db_inspect

from db.models import Person, ReferralLink
from domain import referral_codes
from domain.referral_codes import ALPHABET, LENGTH, new_code, normalise_code
from tasks.referrals.landing import landing_for_code
from tests.web.conftest import Site
from tests.web.site import VALID, csrf_token


def test_codes_are_65_random_bits_from_secrets() -> None:
    assert len(ALPHABET) == 32 and LENGTH * 5 >= 65
    assert "secrets.choice" in inspect.getsource(referral_codes.new_code)
    codes = [new_code() for _ in range(4000)]
    assert len(set(codes)) == len(codes)
    assert all(len(c) == LENGTH and set(c) <= set(ALPHABET) for c in codes)
    # Every symbol at every position about equally often: no structure to guess from.
    for position in range(LENGTH):
        counts = Counter(code[position] for code in codes)
        assert set(counts) == set(ALPHABET)
        assert max(counts.values()) < 2.2 * (len(codes) / 32)


def _retired(site: Site) -> str:
    """A real code whose referrer type the program no longer has."""
    with site.factory.begin() as session:
        person = session.query(Person).first()
        code = new_code()
        session.add(
            ReferralLink(
                code=code,
                person_id=person.id,
                referrer_type_key="gone",
                created_at=site.clock.now(),
            )
        )
    return code


def _neighbour(code: str) -> str:
    """Never issued, but equal to a real code in all its characters but the last."""
    last = ALPHABET[(ALPHABET.index(code[-1]) + 1) % len(ALPHABET)]
    return code[:-1] + last


def test_every_link_that_leads_nowhere_is_the_same_page(site: Site) -> None:
    nowhere = [
        new_code(),
        _neighbour(site.code),
        _retired(site),
        "not-a-code",
        "A" * 40,
        "%3Cscript%3E",
        site.code[:-1],
    ]
    answers = [site.client.get(f"/r/{code}") for code in nowhere]
    assert {a.status_code for a in answers} == {404}
    assert len({a.content for a in answers}) == 1
    assert site.client.get(f"/r/{site.code}").status_code == 200


def test_the_code_form_says_the_same_for_an_unknown_and_a_malformed_code(site: Site) -> None:
    bodies = []
    for code in (new_code(), _neighbour(site.code), _retired(site), "12345", "!!"):
        page = site.client.get("/refer")
        answer = site.client.post(
            "/refer", data={**VALID, "code": code, "csrf_token": csrf_token(page.text)}
        )
        assert answer.status_code == 422
        # The form shows the code back as typed (escaped): the rest is the same page.
        bodies.append(answer.text.replace(f'value="{code}"', 'value=""'))
        assert "was not recognised" in answer.text
    without_tokens = {re.sub(r'name="csrf_token" value="[^"]+"', "", b) for b in bodies}
    assert len(without_tokens) == 1


def test_a_known_and_an_unknown_code_run_the_same_one_statement_on_a_unique_index(
    site: Site,
) -> None:
    engine = site.factory.kw["bind"]
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        by_code = {}
        for code in (site.code, new_code(), _neighbour(site.code)):
            statements.clear()
            landing_for_code(site.factory, _program(site), code)
            by_code[code] = [s for s in statements if "referral_links" in s]
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    shapes = {tuple(found) for found in by_code.values()}
    assert len(shapes) == 1 and len(next(iter(shapes))) == 1, by_code
    unique = [
        set(c["column_names"]) for c in db_inspect(engine).get_unique_constraints("referral_links")
    ] + [
        set(i["column_names"])
        for i in db_inspect(engine).get_indexes("referral_links")
        if i["unique"]
    ]
    assert {"code"} in unique


def _program(site: Site):  # type: ignore[no-untyped-def]
    return site.client.app.state.web.program


def test_how_long_a_lookup_takes_does_not_tell_how_close_a_code_is_to_a_real_one(
    site: Site,
) -> None:
    """A B-tree lookup costs the same for any absent key: a code one character away from a
    real one answers as fast as a random one. Medians over interleaved rounds (robust to
    the odd slow request); the bound is the spread of the measurements themselves."""
    near, far = _neighbour(site.code), None
    times: dict[str, list[float]] = {"near": [], "far": []}
    for _ in range(300):
        far = new_code()
        for name, code in (("near", near), ("far", far)):
            started = time.perf_counter()
            answer = site.client.get(f"/r/{code}")
            times[name].append(time.perf_counter() - started)
            assert answer.status_code == 404
    medians = {name: statistics.median(values) for name, values in times.items()}
    spread = max(
        statistics.quantiles(values, n=4)[2] - statistics.quantiles(values, n=4)[0]
        for values in times.values()
    )
    assert abs(medians["near"] - medians["far"]) <= max(spread, 0.1 * min(medians.values())), (
        medians,
        spread,
    )
    assert normalise_code(near) == near
