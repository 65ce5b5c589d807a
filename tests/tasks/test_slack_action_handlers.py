"""The functions Slack's buttons and forms call (and the demo's simulated people): the same
code paths as the CLI, refusals that change nothing, repeats that change nothing twice,
and an audit entry with the team member and the Slack ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.settings import Settings
from db.models import Ask, AuditEntry, Referral, TeamMember
from domain.program import load_preset
from domain.signals import SignalKind as K
from domain.statuses import AskStatus, ReferralChannel, RewardStatus, TeamRole
from tasks.detect_moments import detect_moments
from tasks.slack_actions import (
    ChatRefusal,
    IntroForm,
    IntroProblems,
    actor_for,
    decide_reward_in_chat,
    log_intro,
    record_ask,
)
from tests.scenario import World
from tests.tasks.reward_world import DUE, RewardWorld, approving, awaiting_approval

PROGRAM = load_preset("saas")
NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


def an_ask(factory) -> tuple[int, int]:
    """A CSM on Slack (U0CSM) with an ask for a happy champion: (ask id, CSM id)."""
    w = World(factory)
    csm = w.csm(slack="U0CSM")
    account = w.account(csm)
    w.person(account)
    w.signal(account, K.FEEDBACK_POSITIVE, NOW - timedelta(hours=3))
    detect_moments(factory, PROGRAM, NOW - timedelta(hours=2))
    with factory() as session:
        return session.scalars(select(Ask.id)).one(), csm


def audits(factory, action: str) -> list[AuditEntry]:
    with factory() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_a_slack_user_who_is_not_on_the_team_is_refused(factory):
    with pytest.raises(ChatRefusal, match="not on the referral program's team"):
        actor_for(factory, "U0NOBODY", "T0")


def test_a_decline_is_recorded_once_with_the_slack_ids_and_starts_the_cooldown(factory):
    ask_id, _ = an_ask(factory)
    actor = actor_for(factory, "U0CSM", "T0")
    first = record_ask(factory, actor, ask_id, "declined", "not this quarter", NOW)
    again = record_ask(factory, actor, ask_id, "declined", "not this quarter", NOW)
    assert (first.changed, first.status) == (True, "declined")
    assert (again.changed, again.status) == (False, "declined")
    with factory() as session:
        assert session.get(Ask, ask_id).status is AskStatus.DECLINED
    [entry] = audits(factory, "ask_recorded")
    assert entry.actor == f"team_member:{actor.team_member_id}"
    assert entry.details["slack_user_id"] == "U0CSM" and entry.details["slack_team_id"] == "T0"


def test_another_csms_ask_is_refused_and_unchanged(factory):
    ask_id, _ = an_ask(factory)
    World(factory).csm(slack="U0OTHER")
    other = actor_for(factory, "U0OTHER", None)
    with pytest.raises(ChatRefusal, match="another CSM's"):
        record_ask(factory, other, ask_id, "declined", None, NOW)
    with factory() as session:
        assert session.get(Ask, ask_id).status is not AskStatus.DECLINED


def test_an_intro_from_an_ask_is_an_email_intro_by_its_champion(factory, tmp_path):
    settings = Settings(REFERRALS_DATA_DIR=tmp_path, REFERRALS_SECRET_KEY="s")
    ask_id, _ = an_ask(factory)
    actor = actor_for(factory, "U0CSM", "T0")
    form = IntroForm("Acme", "acme.io", "Maria Cruz", "maria@acme.io", "met at a dinner", ask_id)
    logged = log_intro(factory, PROGRAM, settings, actor, form, NOW)
    again = log_intro(factory, PROGRAM, settings, actor, form, NOW)
    assert logged.created and not again.created and again.referral_id == logged.referral_id
    with factory() as session:
        referral = session.get(Referral, logged.referral_id)
        ask = session.get(Ask, ask_id)
    assert (referral.channel, referral.ask_id) == (ReferralChannel.EMAIL_INTRO, ask_id)
    assert ask.status is AskStatus.INTRO_MADE
    assert len(audits(factory, "intro_logged")) == 1


def test_a_bad_intro_form_names_its_fields(factory, tmp_path):
    settings = Settings(REFERRALS_DATA_DIR=tmp_path, REFERRALS_SECRET_KEY="s")
    World(factory).csm(slack="U0CSM")
    actor = actor_for(factory, "U0CSM", None)
    with pytest.raises(IntroProblems) as caught:
        log_intro(factory, PROGRAM, settings, actor, IntroForm("", "", "", "not-an-email", ""), NOW)
    assert {"company", "contact_email", "referrer_email"} <= set(caught.value.errors)


def test_four_eyes_hold_in_chat_and_a_repeated_approval_changes_nothing(factory, tmp_path):
    rw = RewardWorld(factory, tmp_path, approving())
    reward_id = awaiting_approval(rw)
    with factory.begin() as session:  # the account's CSM is an approver too: four eyes
        csm_member = session.get(TeamMember, rw.csm)
        csm_member.slack_user_id, csm_member.role = "U0CSM", TeamRole.APPROVER
        session.get(TeamMember, rw.approver).slack_user_id = "U0APPROVER"
    csm = actor_for(factory, "U0CSM", None)
    with pytest.raises(ChatRefusal, match="four eyes"):
        decide_reward_in_chat(factory, rw.program, csm, reward_id, True, "ok", DUE)
    assert rw.reward(reward_id).status is RewardStatus.AWAITING_APPROVAL

    approver = actor_for(factory, "U0APPROVER", None)
    first = decide_reward_in_chat(factory, rw.program, approver, reward_id, True, "ok", DUE)
    again = decide_reward_in_chat(factory, rw.program, approver, reward_id, True, "ok", DUE)
    assert (first.changed, first.status) == (True, "approved")
    assert (again.changed, again.status) == (False, "approved")
    [entry] = audits(factory, "reward_approved")  # the decision, with its Slack ids
    assert entry.details["slack_user_id"] == "U0APPROVER"


def test_a_member_with_no_role_or_a_shared_slack_id_is_refused(factory):
    w = World(factory)
    w.csm(slack="U0NOROLE", role=None)
    with pytest.raises(ChatRefusal, match="not on the referral program's team"):
        actor_for(factory, "U0NOROLE", None)
    w.csm(slack="U0TWICE")
    w.csm(slack="U0TWICE")
    with pytest.raises(ChatRefusal, match="more than one team member"):
        actor_for(factory, "U0TWICE", None)
    retired = w.csm(slack="U0BACK")
    with factory.begin() as session:
        session.get(TeamMember, retired).active = False
    current = w.csm(slack="U0BACK")
    assert actor_for(factory, "U0BACK", None).team_member_id == current
