"""Real portals are messy: the sync keeps every deal, reads the team from the CRM, sets aside
what it cannot store (and moves on), and flags what it does not understand once. Both CRMs."""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml
from sqlalchemy import select, text

from db.models import Account, CrmIssue, Deal, Person, QuarantinedRecord, StageEvent, TeamMember
from domain.program import load_preset, parse_program, preset_text
from domain.stages import ProgramStage
from domain.statuses import TeamRole
from integrations.sandbox.portal import RENEWAL_DUE, RENEWALS_PIPELINE_ID
from tasks import team
from tasks.sync_crm import sync_crm
from tests.integrations.conftest import T0
from tests.integrations.crm_backends import hubspot_backend

PROGRAM = load_preset("saas")


def program_without(*stage_ids: str):
    data = yaml.safe_load(preset_text("saas"))
    for stage_id in stage_ids:
        del data["stage_map"]["stages"][stage_id]
    return parse_program(yaml.safe_dump(data))


def test_owners_become_members_without_a_role_and_keep_what_a_person_set(backend, factory):
    casey = backend.add_owner("Casey.Ng@Vendor.example", "Casey", "Ng", "Customer Success")
    backend.add_owner("rep@vendor.example", "Robin", "Rep")
    company = backend.add_company(T0, "Client", "client.example", hubspot_owner_id=casey)

    first = sync_crm(factory, backend.crm, PROGRAM)
    assert first.by_type["owners"].created == 2
    with factory() as session:
        member = session.scalars(select(TeamMember).where(TeamMember.crm_owner_id == casey)).one()
        account = session.scalars(select(Account).where(Account.crm_id == company)).one()
    assert (member.email, member.name, member.team, member.role) == (
        "casey.ng@vendor.example",
        "Casey Ng",
        "Customer Success",
        None,
    )
    assert account.owner_id == member.id and account.owner_crm_id == casey

    team.set_role(factory, "casey.ng@vendor.example", TeamRole.CSM)
    second = sync_crm(factory, backend.crm, PROGRAM)
    assert (second.by_type["owners"].created, second.by_type["owners"].updated) == (0, 0)
    with factory() as session:
        assert session.get(TeamMember, member.id).role is TeamRole.CSM


def test_an_owner_whose_email_is_another_members_is_quarantined(backend, factory):
    from domain.team import TeamRow

    team.save_member(factory, TeamRow("kim@vendor.example", TeamRole.CSM, "Kim", "555"))
    clash = backend.add_owner("kim@vendor.example", "Kim", "Other")

    report = sync_crm(factory, backend.crm, PROGRAM)

    assert len(report.quarantined) == 1
    assert report.quarantined[0].startswith(f"owner {clash}: email is already team member")
    with factory() as session:
        held = session.scalars(select(QuarantinedRecord.crm_id)).all()
        kim = session.scalars(select(TeamMember)).one()
    assert held == [clash]
    assert (kim.crm_owner_id, kim.role) == ("555", TeamRole.CSM)


def test_a_member_added_after_the_sync_owns_their_companies_at_once(backend, factory):
    company = backend.add_company(T0, "Client", "client.example", hubspot_owner_id="999001")
    report = sync_crm(factory, backend.crm, PROGRAM)
    assert any("CRM owner 999001" in issue for issue in report.new_issues)
    with factory() as session:
        assert session.scalars(select(Account.owner_id)).one() is None

    from domain.team import TeamRow

    team.save_member(factory, TeamRow("kim@vendor.example", TeamRole.CSM, "Kim", "999001"))

    with factory() as session:
        account = session.scalars(select(Account).where(Account.crm_id == company)).one()
        kim = session.scalars(select(TeamMember)).one()
    assert account.owner_id == kim.id


def test_every_deal_is_kept_and_each_cause_is_reported_once(backend, factory):
    company = backend.add_company(T0, "Client", "client.example")
    for i in range(3):
        backend.add_deal(T0, f"Bought in {i}", "decisionmakerboughtin", company)
    for i in range(2):
        backend.add_deal(T0, f"Renewal {i}", RENEWAL_DUE, company, pipeline=RENEWALS_PIPELINE_ID)
    backend.add_deal(T0, "Contract", "contractsent", company)
    program = program_without("decisionmakerboughtin")

    first = sync_crm(factory, backend.crm, program)
    again = sync_crm(factory, backend.crm, program)

    with factory() as session:
        deals = session.execute(select(Deal.name, Deal.pipeline_id, Deal.program_stage)).all()
        issues = session.execute(select(CrmIssue.kind, CrmIssue.key, CrmIssue.records)).all()
    assert len(deals) == 6
    assert {(name[:6], stage) for name, _, stage in deals} == {
        ("Bought", None),
        ("Renewa", None),
        ("Contra", ProgramStage.PROPOSAL),
    }
    assert sorted(issues) == [
        ("other_pipeline", RENEWALS_PIPELINE_ID, 2),
        ("unmapped_stage", "default/decisionmakerboughtin", 3),
    ]
    assert len(first.new_issues) == 2 and again.new_issues == []
    assert "3 deals kept" in " ".join(first.new_issues)

    # Mapping the stage later applies to the deals already stored, and resolves the cause.
    sync_crm(factory, backend.crm, PROGRAM)
    with factory() as session:
        stages = session.scalars(select(Deal.program_stage).where(Deal.name.like("Bought%")))
        assert set(stages) == {ProgramStage.OPPORTUNITY}
        events = session.scalars(
            select(StageEvent.program_stage).where(
                StageEvent.crm_stage_id == "decisionmakerboughtin"
            )
        )
        assert set(events) == {ProgramStage.OPPORTUNITY}
        open_kinds = session.scalars(select(CrmIssue.kind).where(CrmIssue.resolved_at.is_(None)))
        assert list(open_kinds) == ["other_pipeline"]


def test_a_won_deal_reaches_first_payment_through_its_milestone_date(backend, factory):
    company = backend.add_company(T0, "Client", "client.example")
    paid = (T0 + timedelta(days=20)).isoformat()
    deal = backend.add_deal(
        T0,
        "Won",
        "closedwon",
        company,
        onboarding_started_date=(T0 + timedelta(days=2)).isoformat(),
    )
    sync_crm(factory, backend.crm, PROGRAM)
    backend.set_properties("deals", deal, {"first_payment_date": paid}, T0 + timedelta(days=21))

    sync_crm(factory, backend.crm, PROGRAM)

    with factory() as session:
        stored = session.scalars(select(Deal)).one()
        events = session.execute(
            select(StageEvent.crm_stage_id, StageEvent.program_stage).order_by(
                StageEvent.entered_at
            )
        ).all()
    assert stored.program_stage is ProgramStage.FIRST_PAYMENT
    assert events == [
        ("closedwon", ProgramStage.CLOSED_WON),
        ("property:onboarding_started_date", ProgramStage.ONBOARDING),
        ("property:first_payment_date", ProgramStage.FIRST_PAYMENT),
    ]


@pytest.mark.parametrize(
    ("object_type", "values", "field"),
    [
        ("companies", {"health_score": "Infinity"}, "health_score"),
        ("contacts", {"linkedin_followers": "1e30"}, "linkedin_followers"),
        ("deals", {"first_payment_date": "0001-01-01T00:00:00+01:00"}, None),
    ],
)
def test_a_bad_record_is_quarantined_and_later_changes_still_arrive(
    backend, factory, object_type, values, field
):
    bad_company = backend.add_company(T0, "Bad Co", "bad.example")
    other = backend.add_company(T0, "Other Co", "other.example")
    bad = {
        "companies": bad_company,
        "contacts": backend.add_contact(T0, "ana@bad.example", bad_company),
        "deals": backend.add_deal(T0, "Bad deal", "contractsent", bad_company),
    }[object_type]
    backend.set_properties(object_type, bad, values, T0 + timedelta(minutes=1))

    first = sync_crm(factory, backend.crm, PROGRAM)
    backend.touch_company(other, T0 + timedelta(hours=1))  # a change made after the bad one
    second = sync_crm(factory, backend.crm, PROGRAM)

    singular = object_type[:-1].replace("companie", "company")
    assert [q.split(":")[0] for q in first.quarantined] == [f"{singular} {bad}"]
    assert second.quarantined == []  # not read again until the CRM changes it
    assert second.by_type["companies"].updated == 1
    with factory() as session:
        held = session.scalars(select(QuarantinedRecord)).one()
        edited = session.scalars(select(Account).where(Account.crm_id == other)).one()
    assert (held.object_type, held.crm_id) == (singular, bad)
    assert held.field == (field or next(iter(values)))
    assert edited.industry == "edited"

    # Fixed in the CRM: stored, and out of the quarantine.
    fixed = {"health_score": "70", "linkedin_followers": "120"}.get(field or "")
    repair = {field: fixed} if fixed else {next(iter(values)): "2026-03-01T00:00:00Z"}
    backend.set_properties(object_type, bad, repair, T0 + timedelta(hours=2))
    third = sync_crm(factory, backend.crm, PROGRAM)
    assert third.by_type[object_type].released == 1
    with factory() as session:
        assert session.scalars(select(QuarantinedRecord)).all() == []


def test_an_unreadable_stage_entry_time_keeps_the_deal_and_is_flagged_once(backend, factory):
    company = backend.add_company(T0, "Client", "client.example")
    deal = backend.add_deal(T0, "Deal", "contractsent", company)
    bad = {"hs_date_entered_closedlost": "0001-01-01T00:00:00+01:00"}  # a stage it never saw
    backend.set_properties("deals", deal, bad, T0 + timedelta(minutes=1))

    first = sync_crm(factory, backend.crm, PROGRAM)
    backend.touch_company(company, T0 + timedelta(hours=1))
    second = sync_crm(factory, backend.crm, PROGRAM)

    assert first.quarantined == [] and first.by_type["deals"].created == 1
    assert [i for i in first.new_issues if "hs_date_entered_closedlost" in i] == [
        "deal property hs_date_entered_closedlost holds something that is not a date "
        f"(deal {deal}): left out of the stage history, the deal is kept"
    ]
    assert second.new_issues == []
    with factory() as session:
        stored = session.scalars(select(Deal)).one()
    assert stored.program_stage is ProgramStage.PROPOSAL


def test_a_record_the_database_refuses_is_quarantined_and_the_page_is_stored(backend, factory):
    # A database rule we own refuses one company: the sync finds it and stores the rest.
    with factory.begin() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(
                text(
                    "CREATE FUNCTION refuse_co() RETURNS trigger AS $$ BEGIN "
                    "IF NEW.name = 'Refused Co' THEN RAISE EXCEPTION 'refused by rule'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            session.execute(
                text(
                    "CREATE TRIGGER refuse_co BEFORE INSERT ON accounts "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_co()"
                )
            )
        else:
            session.execute(
                text(
                    "CREATE TRIGGER refuse_co BEFORE INSERT ON accounts "
                    "WHEN NEW.name = 'Refused Co' BEGIN SELECT RAISE(ABORT, 'refused by rule'); END"
                )
            )
    for i in range(3):
        backend.add_company(T0, f"Fine {i}", f"fine{i}.example")
    refused = backend.add_company(T0, "Refused Co", "refused.example")

    report = sync_crm(factory, backend.crm, PROGRAM, ("companies",))

    assert report.quarantined == [
        f"company {refused}: the database refused it ({report.quarantined[0].split('(', 1)[1]}"
    ]
    assert "Refused Co" not in report.quarantined[0]
    with factory() as session:
        assert sorted(session.scalars(select(Account.name))) == ["Fine 0", "Fine 1", "Fine 2"]

    # Alone on its page at the watermark, the refused record neither stops the next syncs
    # nor comes back quarantined again; what changes after it still arrives.
    later = backend.add_company(T0 + timedelta(hours=1), "Later Co", "later.example")
    backend.add_deal(T0 + timedelta(hours=1), "Later deal", "contractsent", later)
    for _ in range(2):
        again = sync_crm(factory, backend.crm, PROGRAM)
        assert again.quarantined == []
    with factory() as session:
        assert session.scalars(select(Deal.name)).all() == ["Later deal"]
        assert "Later Co" in session.scalars(select(Account.name)).all()


def test_people_are_linked_to_their_account_whatever_the_order(backend, factory):
    company = backend.add_company(T0, "Client", "client.example")
    backend.add_contact(T0, "ana@client.example", company)
    sync_crm(factory, backend.crm, PROGRAM)
    with factory() as session:
        person = session.scalars(select(Person)).one()
    assert person.account_id is not None


def test_a_malformed_answer_is_retried_and_one_that_stays_malformed_names_the_page(factory):
    from tasks.sync_pages import SyncError

    for backend, slept in hubspot_backend([T0]):
        backend.add_company(T0, "Client", "client.example")
        backend.fake.lose_answer_next("POST", "/crm/v3/objects/companies/search", "cut", times=2)
        first = sync_crm(factory, backend.crm, PROGRAM, ("companies",))
        assert first.by_type["companies"].created == 1 and len(slept) >= 2  # retried, no crash

        backend.add_company(T0 + timedelta(hours=1), "Later", "later.example")
        attempts = backend.crm.calls.max_attempts  # every retry of the page is cut too
        backend.fake.lose_answer_next(
            "POST", "/crm/v3/objects/companies/search", "cut", times=attempts
        )
        with pytest.raises(SyncError, match="could not read companies changed since 2026-03-02"):
            sync_crm(factory, backend.crm, PROGRAM, ("companies",))
        with factory() as session:
            assert session.scalars(select(Account.name)).all() == ["Client"]

        after = sync_crm(factory, backend.crm, PROGRAM, ("companies",))  # same place again
        assert after.by_type["companies"].created == 1


def test_a_contact_may_take_the_email_another_one_leaves_in_the_same_sync(backend, factory):
    company = backend.add_company(T0, "Client", "client.example")
    leaver = backend.add_contact(T0, "ana@client.example", company)
    sync_crm(factory, backend.crm, PROGRAM)
    backend.set_properties("contacts", leaver, {"email": "ana.old@client.example"}, T0)
    taker = backend.add_contact(T0 + timedelta(minutes=1), "ana@client.example", company)

    report = sync_crm(factory, backend.crm, PROGRAM)

    assert report.quarantined == []
    with factory() as session:
        people = dict(session.execute(select(Person.crm_id, Person.email)).all())
    assert people == {leaver: "ana.old@client.example", taker: "ana@client.example"}
