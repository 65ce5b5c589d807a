"""What Slack's buttons and forms do, as plain functions: record an ask's outcome, log an
intro, decide a reward. Each goes through the same code as its CLI command, and each is
written to the audit log with the team member and the Slack ids. The web app's Slack
endpoint calls them; so do the demo's simulated CSMs and approvers.

A refusal (an unknown Slack user, someone else's ask, four eyes) is a ``ChatRefusal``: one
sentence for the person, and nothing changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from db.engine import transaction
from db.models import Account, Ask, AuditEntry, Person, Reward, RewardLedgerEntry, TeamMember
from db.repositories import asks as asks_repo
from domain.program import Program
from domain.referrals.intake import validate_intake
from domain.statuses import LedgerEntry, ReferralChannel, RewardStatus, TeamRole
from tasks.referrals.capture import CaptureInput, capture_in_session, stable_id
from tasks.rewards.decide import DecisionError, decide_reward


class ChatRefusal(ValueError):
    """Why the action is refused, in a sentence; nothing was changed."""


class IntroProblems(ValueError):
    """The intro form's fields that need fixing: field -> message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class ChatActor:
    team_member_id: int
    email: str
    name: str
    role: str | None
    slack_user_id: str
    slack_team_id: str | None

    @property
    def actor(self) -> str:
        return f"team_member:{self.team_member_id}"

    def slack_details(self) -> dict[str, Any]:
        return {
            "via": "slack",
            "slack_user_id": self.slack_user_id,
            "slack_team_id": self.slack_team_id,
        }

    def audit(self, action: str, entity_type: str, entity_id: int, **details: Any) -> AuditEntry:
        return AuditEntry(
            occurred_at=details.pop("now"),
            actor=self.actor,
            action=action,
            entity_type=entity_type,
            entity_id=str(entity_id),
            details={**self.slack_details(), **details},
        )


def actor_for(
    factory: sessionmaker[Session], slack_user_id: str, slack_team_id: str | None
) -> ChatActor:
    """The one active team member with a program role behind a Slack user id, or a
    refusal."""
    with factory() as session:
        members = list(
            session.scalars(
                select(TeamMember).where(
                    TeamMember.slack_user_id == slack_user_id, TeamMember.active.is_(True)
                )
            )
        )
    if len(members) > 1:
        raise ChatRefusal(
            "Your Slack account is set on more than one team member, so nothing was recorded. "
            "An admin can fix it with `referrals team list` and `referrals team add`."
        )
    member = members[0] if members else None
    if member is None or member.role is None:  # no role: not placed in the program yet
        raise ChatRefusal(
            "You are not on the referral program's team, so nothing was recorded. "
            "An admin can add you with `referrals team add EMAIL --role csm --slack-id ...`."
        )
    return ChatActor(
        team_member_id=member.id,
        email=member.email,
        name=member.name or member.email.split("@")[0],
        role=str(member.role) if member.role else None,
        slack_user_id=slack_user_id,
        slack_team_id=slack_team_id,
    )


@dataclass(frozen=True)
class AskRecorded:
    ask_id: int
    status: str
    changed: bool
    account_name: str
    champion_name: str


def _own_ask(session: Session, actor: ChatActor, ask_id: int) -> tuple[Ask, Account, Person]:
    row = session.execute(
        select(Ask, Account, Person)
        .join(Account, Account.id == Ask.account_id)
        .join(Person, Person.id == Ask.champion_id)
        .where(Ask.id == ask_id)
        .with_for_update(of=Ask)
    ).first()
    if row is None:
        raise ChatRefusal(f"Ask {ask_id} does not exist.")
    ask, account, person = row
    if ask.csm_id != actor.team_member_id and actor.role != TeamRole.ADMIN:
        raise ChatRefusal(f"Ask {ask_id} is another CSM's; only they (or an admin) can answer it.")
    return ask, account, person


def _name(person: Person) -> str:
    return f"{person.first_name} {person.last_name}".strip() or "the champion"


def record_ask(
    factory: sessionmaker[Session],
    actor: ChatActor,
    ask_id: int,
    outcome: str,
    reason: str | None,
    now: datetime,
) -> AskRecorded:
    """The same as `referrals asks record`: a decline starts the person's cooldown, a snooze
    waits a week. The same click twice records it once."""
    if outcome not in asks_repo.OUTCOMES:
        raise ChatRefusal(f"Unknown outcome {outcome!r}.")
    target = asks_repo.OUTCOMES[outcome]
    with transaction(factory) as session:
        ask, account, person = _own_ask(session, actor, ask_id)
        done = AskRecorded(ask_id, str(ask.status), False, account.name, _name(person))
        if ask.status is target:  # a retried click (a snoozed ask snoozes again only anew)
            return done
        updated = asks_repo.record_outcome(session, ask_id, outcome, reason, now)
        if updated is None:
            raise ChatRefusal(f"Ask {ask_id} is already {ask.status}; nothing was changed.")
        session.add(
            actor.audit("ask_recorded", "ask", ask_id, now=now, outcome=outcome, reason=reason)
        )
        return AskRecorded(ask_id, str(target), True, account.name, _name(person))


@dataclass(frozen=True)
class IntroForm:
    company: str
    domain: str
    contact_name: str
    contact_email: str
    note: str
    ask_id: int | None = None
    referrer_email: str | None = None
    referrer_person_id: int | None = None  # the Slack picker's choice; wins over the email


@dataclass(frozen=True)
class IntroLogged:
    referral_id: int
    created: bool
    ask_id: int | None


_FORM_FIELDS = {"name": "contact_name", "email": "contact_email"}


def log_intro(
    factory: sessionmaker[Session],
    program: Program,
    settings: Settings,
    actor: ChatActor,
    form: IntroForm,
    now: datetime,
) -> IntroLogged:
    """An intro a client made by email, as `referrals refer --channel email_intro`: from an
    ask, the referrer is its champion (and the ask is marked "intro made"); from anywhere
    else, the referrer is the person picked (``referrer_person_id``, resolved to their
    email) or the email given. Decided by the rules at the next track-referrals."""
    intake, problems = validate_intake(
        {
            "company": form.company,
            "domain": form.domain,
            "name": form.contact_name,
            "email": form.contact_email,
            "note": form.note,
        },
        email_required=False,
    )
    errors = {_FORM_FIELDS.get(k, k): v for k, v in problems.items()}
    picked: str | None = None  # the picked person's email; errors keyed by the picker's block
    if form.ask_id is None and form.referrer_person_id is not None:
        with factory() as session:
            person = session.get(Person, form.referrer_person_id)
        picked = (person.email or "").strip().lower() if person is not None else None
        if person is None:
            errors["referrer"] = (
                "The program does not know this person (any more): pick someone from the list."
            )
        elif not picked:
            errors["referrer"] = (
                "This person has no email on file, so no intro can be logged for them: "
                "add it in the CRM, or pick someone else."
            )
    elif form.ask_id is None and not (form.referrer_email or "").strip():
        errors["referrer_email"] = "is required: whose intro is it?"
    if errors or intake is None:
        raise IntroProblems(errors)
    with transaction(factory) as session:
        referrer = picked or (form.referrer_email or "").strip().lower()
        if form.ask_id is not None:
            _, _, champion = _own_ask(session, actor, form.ask_id)
            if not champion.email:
                raise ChatRefusal(f"Ask {form.ask_id}'s champion has no email on file.")
            referrer = champion.email
        item = CaptureInput(
            ReferralChannel.EMAIL_INTRO,
            intake,
            referrer_email=referrer,
            ask_id=form.ask_id,
            external_id=stable_id(
                "slack",
                form.ask_id or referrer,
                intake.company,
                intake.domain,
                intake.contact_email,
            ),
        )
        [captured] = capture_in_session(session, program, settings, [item], now)
        if captured.problem or captured.referral_id is None:
            raise ChatRefusal(captured.problem or "The intro could not be recorded.")
        if captured.created:
            session.add(
                actor.audit(
                    "intro_logged", "referral", captured.referral_id, now=now, ask_id=form.ask_id
                )
            )
        return IntroLogged(captured.referral_id, captured.created, form.ask_id)


@dataclass(frozen=True)
class RewardDecided:
    reward_id: int
    status: str
    changed: bool


def decide_reward_in_chat(
    factory: sessionmaker[Session],
    program: Program,
    actor: ChatActor,
    reward_id: int,
    approve: bool,
    reason: str,
    now: datetime,
) -> RewardDecided:
    """`referrals rewards approve|reject` from Slack: the approver role and four eyes hold.
    A decision already taken the same way (a retried click) changes nothing."""
    try:
        decided = decide_reward(
            factory,
            program,
            reward_id,
            approve,
            actor.email,
            reason,
            now,
            via=actor.slack_details(),
        )
    except DecisionError as error:
        already = _already_decided(factory, actor, reward_id, approve)
        if already is not None:
            return RewardDecided(reward_id, already, False)
        raise ChatRefusal(str(error)) from None
    return RewardDecided(reward_id, str(decided.status), True)


def _already_decided(
    factory: sessionmaker[Session], actor: ChatActor, reward_id: int, approve: bool
) -> str | None:
    """The reward's status if this actor already took this decision in its current round of
    approval (a retried click); None otherwise, so a refusal is told."""
    with factory() as session:
        reward = session.get(Reward, reward_id)
        if reward is None or reward.status is RewardStatus.AWAITING_APPROVAL:
            return None
        asked = session.scalar(
            select(func.max(RewardLedgerEntry.id)).where(
                RewardLedgerEntry.reward_id == reward_id,
                RewardLedgerEntry.entry == LedgerEntry.AWAITING_APPROVAL,
            )
        )
        took = session.scalar(
            select(RewardLedgerEntry.id).where(
                RewardLedgerEntry.reward_id == reward_id,
                RewardLedgerEntry.entry
                == (LedgerEntry.APPROVED if approve else LedgerEntry.REJECTED),
                RewardLedgerEntry.actor == actor.actor,
                RewardLedgerEntry.id > (asked or 0),
            )
        )
    return str(reward.status) if took is not None else None
