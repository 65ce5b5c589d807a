"""`referrals refer`, `import referrals`, `link --qr`, `referrals list/show` and `review decide`
as a person uses them."""

from __future__ import annotations

import json
import struct

import pytest
from sqlalchemy import select

from cli.main import app
from db.models import AuditEntry, Person, Referral, TeamMember
from domain.statuses import Eligibility
from tests.scenario import World


@pytest.fixture
def referrer(committed_factory) -> tuple[str, str]:
    """A client champion with a personal link: (email, code)."""
    w = World(committed_factory)
    person = w.person(w.account(w.csm()))
    with committed_factory() as session:
        email = session.get(Person, person).email
    return email, w.link(person)


def test_refer_records_once_and_names_bad_options(runner, cli_env, referrer, committed_factory):
    email, _ = referrer
    args = ["refer", "--referrer", email, "--company", "Acme", "--domain", "acme.io", "--json"]
    first = runner.invoke(app, args)
    again = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["created"] is True
    assert json.loads(again.output) == {**json.loads(first.output), "created": False}

    bad = runner.invoke(
        app,
        [
            "refer",
            "--referrer",
            "nobody",
            "--company",
            "Acme",
            "--contact-email",
            "x@",
            "--ask",
            "3",
        ],
    )
    assert bad.exit_code == 1
    assert bad.output.splitlines() == [
        "problem: --referrer: is missing or not an email address; "
        "--contact-email: is not an email address"
    ]
    # A referrer the CRM does not know yet (a partner, say) is recorded as a person.
    stranger = runner.invoke(app, ["refer", "--referrer", "Who@Else.example", "--company", "A"])
    assert stranger.exit_code == 0, stranger.output
    with committed_factory() as session:
        assert session.scalar(select(Person.id).where(Person.email == "who@else.example"))


def test_import_referrals_keeps_good_rows_names_bad_ones_and_a_reimport_changes_nothing(
    runner, cli_env, referrer, committed_factory
):
    email, _ = referrer
    path = cli_env / "intros.csv"
    path.write_text(
        "referrer_email,company,domain,contact_email,channel\n"
        f"{email},Acme,acme.io,cfo@acme.io,sales_assisted\n"
        f"{email},Globex,,ceo@globex.example,email_intro\n"
        f"{email},,nodomain,,fax\n"
        f"stranger@nowhere.example,Initech,initech.example,,\n",
        encoding="utf-8",
    )
    first = runner.invoke(app, ["import", "referrals", str(path)])
    assert first.exit_code == 1
    assert f"{path}: read 4, new 3, unchanged 0, rejected 1" in first.output
    assert f"{path}: line 4, field 'company': is required" in first.output
    assert f"{path}: line 4, field 'channel': must be one of" in first.output
    again = runner.invoke(app, ["import", "referrals", str(path), "--json"])
    assert json.loads(again.output)["new"] == 0 and json.loads(again.output)["unchanged"] == 3
    with committed_factory() as session:
        channels = sorted(session.scalars(select(Referral.channel)))
    assert channels == ["email_intro", "sales_assisted", "sales_assisted"]

    missing = runner.invoke(app, ["import", "referrals", str(cli_env / "nope.csv")])
    assert missing.exit_code == 2 and missing.output.startswith("problem: ")


def test_a_row_repeating_an_external_id_of_the_same_file_is_refused_by_field(
    runner, cli_env, referrer, committed_factory
):
    """Found by the CSV property suite: the second row of a repeated external id was counted
    new although the first one's referral is the one kept. It is refused, as in signal
    files; the same intro twice without ids is simply known."""
    email, _ = referrer
    path = cli_env / "twice.csv"
    path.write_text(
        "referrer_email,company,external_id\n"
        f"{email},Acme,crm-7\n{email},Globex,\n{email},Acme again,crm-7\n{email},Globex,\n",
        encoding="utf-8",
    )
    done = json.loads(runner.invoke(app, ["import", "referrals", str(path), "--json"]).output)
    assert (done["new"], done["unchanged"], done["rejected"]) == (2, 1, 1)
    assert done["errors"] == [
        "line 4, field 'external_id': repeats line 2 (each referral needs its own id)"
    ]
    with committed_factory() as session:
        companies = sorted(session.scalars(select(Referral.referred_company_name)))
    assert companies == ["Acme", "Globex"]


def test_link_prints_the_url_and_writes_a_qr_code_that_says_qr(runner, cli_env, referrer):
    _, code = referrer
    plain = runner.invoke(app, ["link", code.lower()])
    assert plain.exit_code == 0 and plain.output.strip().endswith(f"/r/{code}")

    png = cli_env / "card.png"
    assert runner.invoke(app, ["link", code, "--qr", str(png)]).exit_code == 0
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width == height >= 100  # scale 8 and a quiet zone: printable
    svg = cli_env / "card.svg"
    assert runner.invoke(app, ["link", code, "--qr", str(svg)]).exit_code == 0
    assert svg.read_text().lstrip().startswith("<?xml") and "<svg" in svg.read_text()

    assert runner.invoke(app, ["link", code, "--qr", str(cli_env / "card.gif")]).exit_code == 2
    unknown = runner.invoke(app, ["link", "NOPE-NOPE"])
    assert unknown.exit_code == 1 and unknown.output.startswith("problem: no referrer")


def test_list_show_and_review_decide(runner, cli_env, referrer, committed_factory):
    email, _ = referrer
    created = runner.invoke(
        app,
        ["refer", "--referrer", email, "--company", "Shop", "--contact-email", "owner@gmail.com"],
    )
    assert created.exit_code == 0, created.output
    with committed_factory.begin() as session:
        referral = session.scalars(select(Referral)).one()
        referral.eligibility = Eligibility.REVIEW  # as track-referrals leaves it
        referral.reason_codes = ["personal_email_referred"]
        referral_id = referral.id
        reviewer = session.scalars(select(TeamMember.email)).one()

    listed = json.loads(runner.invoke(app, ["referrals", "list", "--json"]).output)
    assert [(r["id"], r["status"]) for r in listed] == [(referral_id, "review")]
    assert "owner@gmail.com" not in runner.invoke(app, ["referrals", "list"]).output
    assert runner.invoke(app, ["referrals", "show", "999"]).exit_code == 1

    no_reason = runner.invoke(
        app,
        ["review", "decide", str(referral_id), "reject", "--by", reviewer, "--reason", " "],
    )
    assert no_reason.exit_code == 2
    decided = runner.invoke(
        app,
        ["review", "decide", str(referral_id), "reject", "--by", reviewer, "--reason", "spam"],
    )
    assert decided.exit_code == 0, decided.output
    shown = json.loads(runner.invoke(app, ["referrals", "show", str(referral_id), "--json"]).output)
    assert shown["status"] == "ineligible" and shown["review_reason"] == "spam"
    assert json.loads(runner.invoke(app, ["review", "list", "--json"]).output) == []
    twice = runner.invoke(
        app,
        ["review", "decide", str(referral_id), "approve", "--by", reviewer, "--reason", "x"],
    )
    assert twice.exit_code == 1 and twice.output.startswith("problem: ")
    with committed_factory() as session:
        assert session.scalars(select(AuditEntry.action)).all() == ["referral_reviewed"]
