"""One contract, two CRMs: the sandbox and HubSpot (real SDK against a local fake server).

Also the sync's acceptance: call counts, nothing written on a quiet rerun, stage history in
order, reopened deals, malformed records reported while the rest is stored.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from db.engine import transaction
from db.models import Account, Ask, Deal, Person, QuarantinedRecord, StageEvent, TeamMember
from db.models.people import Account as AccountModel
from domain.pipelines import check_stage_map
from domain.program import load_preset
from domain.stages import HUBSPOT_DEFAULT_STAGES, ProgramStage
from domain.statuses import AskStatus
from integrations.ports import ReferralPush
from integrations.sandbox.portal import RENEWALS_PIPELINE_ID, RENEWED
from tasks.sync_crm import sync_crm
from tests.factories import referral_push
from tests.integrations.conftest import T0

PROGRAM = load_preset("saas")


def snapshot(factory) -> dict[str, object]:
    with factory() as session:
        return {
            "accounts": session.execute(select(Account.crm_id, Account.updated_at)).all(),
            "people": session.execute(select(Person.crm_id, Person.updated_at)).all(),
            "deals": session.execute(select(Deal.crm_id, Deal.updated_at)).all(),
            "events": session.scalar(select(func.count()).select_from(StageEvent)),
        }


def test_sync_pages_through_changes_with_one_search_per_200_records(backend, factory):
    companies = [backend.add_company(T0, f"Client {i}", f"client{i}.example") for i in range(3)]
    for i in range(450):
        backend.add_contact(
            T0 + timedelta(seconds=i),
            f"person{i}@client{i % 3}.example",
            companies[i % 3],
            jobtitle="VP Sales" if i % 2 else "Analyst",
        )
    for i in range(30):
        backend.add_deal(T0, f"Deal {i}", "appointmentscheduled", companies[i % 3], "1000")

    report = sync_crm(factory, backend.crm, PROGRAM)

    assert backend.search_calls() == {"companies": 1, "contacts": 3, "deals": 1, "tasks": 1}
    if backend.name == "hubspot":  # plus the team, the pipelines and the deals' companies
        assert report.api_calls == {
            "GET /crm/v3/owners": 1,
            "GET /crm/v3/pipelines/deals": 1,
            "POST /crm/v3/objects/companies/search": 1,
            "POST /crm/v3/objects/contacts/search": 3,
            "POST /crm/v3/objects/deals/search": 1,
            "POST /crm/v3/objects/tasks/search": 1,
            "POST /crm/v4/associations/deals/companies/batch/read": 1,
        }
    rows = {r["object"]: r for r in report.rows()}
    assert (rows["contacts"]["fetched"], rows["contacts"]["created"]) == (450, 450)
    assert rows["deals"]["created"] == 30 and rows["deals"]["stage_events"] == 30
    with factory() as session:
        vp = session.scalars(select(Person).where(Person.email == "person1@client1.example")).one()
        account = session.get(AccountModel, vp.account_id)
        deal = session.scalars(select(Deal).where(Deal.name == "Deal 4")).one()
    assert vp.seniority == "vp" and account.domain == "client1.example"
    assert deal.account_id is not None and deal.program_stage is ProgramStage.SALES_ACCEPTED


def test_deals_companies_are_read_once_per_thousand_deals_not_once_per_page(backend, factory):
    """Five pages of 200 deals share one association batch read (HubSpot takes 1,000 ids);
    every deal still gets its company, and deals read again at a page boundary once."""
    companies = [backend.add_company(T0, f"Client {i}", f"client{i}.example") for i in range(3)]
    for i in range(1100):
        backend.add_deal(
            T0 + timedelta(seconds=i // 2), f"Deal {i}", "appointmentscheduled", companies[i % 3]
        )

    report = sync_crm(factory, backend.crm, PROGRAM)

    rows = {r["object"]: r for r in report.rows()}
    assert (rows["deals"]["fetched"], rows["deals"]["created"]) == (1100, 1100)
    if backend.name == "hubspot":
        calls = report.api_calls
        assert calls["POST /crm/v4/associations/deals/companies/batch/read"] == 2
        assert calls["POST /crm/v3/objects/deals/search"] == 6
    with factory() as session:
        unlinked = session.scalar(
            select(func.count()).select_from(Deal).where(Deal.account_id.is_(None))
        )
        by_name = dict(session.execute(select(Deal.name, Deal.account_id)).all())
        account_of = dict(session.execute(select(AccountModel.id, AccountModel.crm_id)).all())
    assert unlinked == 0
    assert account_of[by_name["Deal 1000"]] == companies[1000 % 3]


def test_a_second_sync_without_changes_searches_once_per_type_and_writes_nothing(backend, factory):
    company = backend.add_company(T0, "Client", "client.example")
    backend.add_contact(T0, "a@client.example", company)
    backend.add_deal(T0, "Deal", "qualifiedtobuy", company)
    sync_crm(factory, backend.crm, PROGRAM)
    before = snapshot(factory)
    calls_before = backend.search_calls()

    report = sync_crm(factory, backend.crm, PROGRAM)

    after_calls = backend.search_calls()
    assert {t: after_calls[t] - calls_before[t] for t in after_calls} == {
        "companies": 1,
        "contacts": 1,
        "deals": 1,
        "tasks": 1,
    }
    assert sum(r["created"] + r["updated"] for r in report.rows()) == 0
    # nothing but the four searches, the team and the pipelines
    assert sum(report.api_calls.values()) == 6
    assert snapshot(factory) == before


def test_two_stage_moves_between_syncs_are_recorded_in_order(backend, factory):
    company = backend.add_company(T0, "Client", "client.example")
    deal = backend.add_deal(T0, "Deal", "appointmentscheduled", company)
    sync_crm(factory, backend.crm, PROGRAM)
    backend.move_deal(deal, "qualifiedtobuy", T0 + timedelta(days=1))
    backend.move_deal(deal, "presentationscheduled", T0 + timedelta(days=3))

    sync_crm(factory, backend.crm, PROGRAM)

    with factory() as session:
        events = session.execute(
            select(
                StageEvent.program_stage, StageEvent.previous_program_stage, StageEvent.entered_at
            ).order_by(StageEvent.entered_at)
        ).all()
    assert events == [
        (ProgramStage.SALES_ACCEPTED, None, T0),
        (ProgramStage.DISCOVERY, ProgramStage.SALES_ACCEPTED, T0 + timedelta(days=1)),
        (ProgramStage.OPPORTUNITY, ProgramStage.DISCOVERY, T0 + timedelta(days=3)),
    ]


def test_a_deal_reopened_after_closed_lost_is_tracked(backend, factory):
    company = backend.add_company(T0, "Client", "client.example")
    deal = backend.add_deal(T0, "Deal", "presentationscheduled", company)
    backend.move_deal(deal, "closedlost", T0 + timedelta(days=1))
    first = sync_crm(factory, backend.crm, PROGRAM)
    with factory() as session:
        lost = session.scalars(select(Deal)).one()
        assert (lost.program_stage, lost.closed_at) == (
            ProgramStage.CLOSED_LOST,
            T0 + timedelta(days=1),
        )
    backend.move_deal(deal, "appointmentscheduled", T0 + timedelta(days=9))

    second = sync_crm(factory, backend.crm, PROGRAM)

    assert first.by_type["deals"].extra["closed_lost"] == 1
    assert second.by_type["deals"].extra["reopened"] == 1
    with factory() as session:
        reopened = session.scalars(select(Deal)).one()
    assert reopened.program_stage is ProgramStage.SALES_ACCEPTED
    assert (reopened.reopened_at, reopened.closed_at) == (T0 + timedelta(days=9), None)


def test_a_deal_lost_reopened_and_won_between_syncs_keeps_its_close_date(backend, factory):
    company = backend.add_company(T0, "Client", "client.example")
    deal = backend.add_deal(T0, "Deal", "presentationscheduled", company)
    backend.move_deal(deal, "closedlost", T0 + timedelta(days=1))
    sync_crm(factory, backend.crm, PROGRAM)
    backend.move_deal(deal, "appointmentscheduled", T0 + timedelta(days=9))
    backend.move_deal(deal, "closedwon", T0 + timedelta(days=20))

    second = sync_crm(factory, backend.crm, PROGRAM)
    third = sync_crm(factory, backend.crm, PROGRAM)

    assert second.by_type["deals"].extra["reopened"] == 1
    with factory() as session:
        won = session.scalars(select(Deal)).one()
    assert won.program_stage is ProgramStage.CLOSED_WON
    assert (won.reopened_at, won.closed_at) == (T0 + timedelta(days=9), T0 + timedelta(days=20))
    assert third.by_type["deals"].updated == 0


def test_malformed_records_are_quarantined_by_id_and_reason_and_the_rest_is_stored(
    backend, factory
):
    good = backend.add_company(T0, "Zoë & Søn\u200b ApS", "zoe-son.example")
    nameless = backend.add_company(T0, "", "nameless.example")
    backend.add_contact(T0, "ok@zoe-son.example", good, jobtitle="CEO \x07\u200b")
    bad_email = backend.add_contact(T0, "not-an-email", good)
    backend.add_deal(T0, "Fine deal", "contractsent", good)
    odd = backend.add_deal(T0, "Odd deal", "contractsent", good)
    backend.set_properties("deals", odd, {"amount": "12 apples"}, T0)

    report = sync_crm(factory, backend.crm, PROGRAM)

    assert sorted(report.quarantined) == sorted(
        [
            f"company {nameless}: name is missing",
            f"contact {bad_email}: email is not a valid address",
            f"deal {odd}: amount is not a number",
        ]
    )
    assert "not-an-email" not in " ".join(report.quarantined)  # ids, never the values
    with factory() as session:
        assert session.scalars(select(Account.name)).all() == ["Zoë & Søn ApS"]
        assert session.scalars(select(Person.title)).all() == ["CEO"]
        assert session.scalars(select(Deal.name)).all() == ["Fine deal"]
        held = session.execute(select(QuarantinedRecord.object_type, QuarantinedRecord.field)).all()
    assert sorted(held) == [("company", "name"), ("contact", "email"), ("deal", "amount")]


def test_completing_the_crm_task_of_an_ask_marks_it_asked(backend, factory):
    task = backend.add_task(T0, "Ask Ana for an intro")
    company = backend.add_company(T0, "Client", "client.example")
    contact = backend.add_contact(T0, "ana@client.example", company)
    sync_crm(factory, backend.crm, PROGRAM)
    with transaction(factory) as session:
        csm = TeamMember(email="casey@vendor.example", name="Casey")
        session.add(csm)
        session.flush()
        account = session.scalars(select(Account)).one()
        person = session.scalars(select(Person).where(Person.crm_id == contact)).one()
        from db.models import Moment, Signal

        signal = Signal(
            external_id="s1",
            kind="nps",
            source="cli",
            account_crm_id=company,
            value=10,
            occurred_at=T0,
            ingested_at=T0,
        )
        session.add(signal)
        session.flush()
        moment = Moment(
            account_id=account.id,
            signal_id=signal.id,
            trigger="nps",
            window_key="2026-Q1",
            detected_at=T0,
        )
        session.add(moment)
        session.flush()
        session.add(
            Ask(
                moment_id=moment.id,
                account_id=account.id,
                champion_id=person.id,
                csm_id=csm.id,
                status=AskStatus.PROMPTED,
                week_key="2026-W10",
                created_for=T0,
                due_at=T0 + timedelta(days=7),
                crm_task_id=task,
            )
        )
    backend.complete_task(task, T0 + timedelta(days=2))

    report = sync_crm(factory, backend.crm, PROGRAM)

    assert report.by_type["tasks"].extra["asks_marked_asked"] == 1
    with factory() as session:
        ask = session.scalars(select(Ask)).one()
    assert ask.status is AskStatus.ASKED


def _push(n: int, domain: str = "prospect.example") -> ReferralPush:
    return referral_push(
        n,
        company_name="Prospect Inc",
        company_domain=domain,
        contact_email=f"buyer{n}@{domain}",
        deal_name=f"Prospect Inc (referral {n})",
    )


def test_pushing_referrals_creates_once_and_matches_existing_records(backend, factory):
    existing = backend.add_company(T0, "Known Co", "known.example")

    first = backend.crm.push_referrals([_push(1), _push(2), _push(3, "known.example")])
    again = backend.crm.push_referrals([_push(1), _push(2), _push(3, "known.example")])

    assert [r.error for r in first] == [None, None, None]
    assert first[0].created == ("company", "contact", "deal")
    assert first[1].created == ("contact", "deal")  # same new company as the first
    assert first[1].company_id == first[0].company_id
    assert (first[2].company_id, first[2].created) == (existing, ("contact", "deal"))
    assert [r.created for r in again] == [(), (), ()]
    assert [r.deal_id for r in again] == [r.deal_id for r in first]
    # How the outbox asks about a push whose answer was lost: by the unique referral key.
    assert backend.crm.find_referral_deals(["ref-2", "ref-9", "ref-1"]) == {
        "ref-2": first[1].deal_id,
        "ref-9": None,
        "ref-1": first[0].deal_id,
    }

    sync_crm(factory, backend.crm, PROGRAM)
    with factory() as session:
        deals = session.scalars(select(Deal).order_by(Deal.referral_key)).all()
    assert [(d.referral_key, d.source_channel, d.program_stage) for d in deals] == [
        (f"ref-{n}", "client_referral", ProgramStage.SALES_ACCEPTED) for n in (1, 2, 3)
    ]
    assert all(d.account_id is not None for d in deals)


def test_setup_names_what_the_map_lacks_and_what_the_crm_lacks(backend):
    pipelines = backend.crm.pipelines()
    assert [p.id for p in pipelines] == ["default", RENEWALS_PIPELINE_ID]
    assert [s.id for s in pipelines[0].stages] == list(HUBSPOT_DEFAULT_STAGES)
    won = {s.id for p in pipelines for s in p.stages if s.won}
    assert won == {"closedwon", RENEWED}

    preset = check_stage_map("default", PROGRAM.stage_map.stages, pipelines)
    assert preset.ok and preset.unmapped == []  # the presets map HubSpot's default pipeline
    partial = {"closedwon": ProgramStage.CLOSED_WON, "no_such_stage": ProgramStage.PROPOSAL}
    check = check_stage_map("default", partial, pipelines)
    assert len(check.problems) == 1 and "stage_map.stages.no_such_stage" in check.problems[0]
    assert any("'decisionmakerboughtin'" in note for note in check.unmapped)
    missing = check_stage_map("nope", {}, pipelines)
    assert "deal pipeline 'nope' is not in the CRM" in missing.problems[0]


def test_a_referral_attaches_to_the_deal_a_rep_already_created(backend, factory):
    company = backend.add_company(T0, "Prospect Incorporated")  # no domain: the rep's own
    rep_deal = backend.add_deal(T0, "Prospect Inc - new business", "qualifiedtobuy", company)
    push = _push(7)
    attach = ReferralPush(**{**push.__dict__, "existing_deal_id": rep_deal})

    [result] = backend.crm.push_referrals([attach])

    assert result.error is None and result.deal_id == rep_deal and "deal" not in result.created
    assert result.company_id == company and "company" not in result.created
    if backend.name == "hubspot":
        assert backend.fake.associations("deals", rep_deal, "contacts") == [result.contact_id]
    sync_crm(factory, backend.crm, PROGRAM)
    with factory() as session:
        deal = session.scalars(select(Deal).where(Deal.crm_id == rep_deal)).one()
        assert session.scalar(select(func.count()).select_from(Deal)) == 1
    assert (deal.referral_key, deal.source_channel, deal.program_stage) == (
        "ref-7",
        "client_referral",
        ProgramStage.DISCOVERY,
    )


class EditsWhilePaging:
    """A CRM where someone edits an already-read company right after the first page."""

    def __init__(self, backend, company_id: str, at: datetime) -> None:
        self.backend, self.company_id, self.at = backend, company_id, at
        self.pages = 0

    def __getattr__(self, name):
        return getattr(self.backend.crm, name)

    def changed_since(self, *args, **kwargs):
        page = self.backend.crm.changed_since(*args, **kwargs)
        self.pages += 1
        if self.pages == 1:
            self.backend.touch_company(self.company_id, self.at)
        return page


def test_an_edit_during_paging_does_not_hide_any_record(backend, factory):
    ids = [
        backend.add_company(T0 + timedelta(seconds=i), f"C{i}", f"c{i}.example") for i in range(450)
    ]
    crm = EditsWhilePaging(backend, ids[0], T0 + timedelta(hours=1))

    report = sync_crm(factory, crm, PROGRAM, ("companies",))

    assert report.by_type["companies"].created == 450
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Account)) == 450
        edited = session.scalars(select(Account).where(Account.crm_id == ids[0])).one()
    assert edited.industry == "edited"


def test_a_burst_of_records_sharing_one_modification_time_is_drained(backend, factory):
    for i in range(450):
        backend.add_company(T0, f"Bulk {i}", f"bulk{i}.example")

    first = sync_crm(factory, backend.crm, PROGRAM, ("companies",))
    calls_before = backend.search_calls()["companies"]
    second = sync_crm(factory, backend.crm, PROGRAM, ("companies",))

    assert first.by_type["companies"].created == 450
    assert backend.search_calls()["companies"] - calls_before == 1
    assert second.by_type["companies"].fetched == 0
