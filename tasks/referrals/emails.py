"""Emails to referrers: rendered from the program's templates, one outbox row each, with a
signed one-click unsubscribe link and the RFC 8058 headers; never to a suppressed address."""

from __future__ import annotations

from dataclasses import dataclass

from core.settings import Settings
from core.signing import unsubscribe_url
from db.repositories.outbox import NewMessage
from domain.program import Program
from domain.statuses import OutboxChannel
from domain.templates import ALLOWED_VARIABLES, render


@dataclass(frozen=True)
class ReferrerFacts:
    """What a referrer email may say: no deal amount, nothing confidential."""

    referral_id: int
    referrer_email: str
    referrer_first_name: str
    referrer_name: str
    referred_company: str
    csm_name: str
    referral_link: str
    stage: str = ""


@dataclass(frozen=True)
class RewardFacts:
    """What a reward's thank-you says: the amount is the recipient's own, so it may."""

    reward_id: int
    reward_type: str
    amount: str  # formatted with the currency; empty for recognition
    next_step: str


def referrer_message(
    program: Program,
    settings: Settings,
    template: str,
    facts: ReferrerFacts,
    reward: RewardFacts | None = None,
    promised: RewardFacts | None = None,
) -> NewMessage:
    """One email, keyed by referral and template (or by reward for a reward's thank-you):
    each is sent at most once."""
    source = getattr(program.templates, template)
    variables = {
        "referrer_first_name": facts.referrer_first_name or facts.referrer_name,
        "referrer_name": facts.referrer_name,
        "referred_company": facts.referred_company,
        "stage": facts.stage,
        "csm_name": facts.csm_name,
        "referral_link": facts.referral_link,
        "program_name": program.name,
    }
    shown = reward or promised  # a released reward, or the one a won deal will earn
    if shown is not None:
        variables |= {
            "reward_type": shown.reward_type,
            "reward_amount": shown.amount,
            "reward_next_step": shown.next_step,
        }
    # Every variable the template may use is defined (blank where the email has no reward).
    variables |= {name: "" for name in ALLOWED_VARIABLES[template] if name not in variables}
    unsubscribe = unsubscribe_url(settings, facts.referrer_email)
    body = render(source.body, variables).strip()
    return NewMessage(
        channel=OutboxChannel.EMAIL,
        operation="send_email",
        recipient=facts.referrer_email,
        dedupe_key=(
            f"email:reward:{reward.reward_id}:{template}"
            if reward
            else f"email:referral:{facts.referral_id}:{template}"
        ),
        template=template,
        subject_type="reward" if reward else "referral",
        subject_id=reward.reward_id if reward else facts.referral_id,
        payload={
            "subject": render(source.subject, variables).strip(),
            "text": f"{body}\n\n--\nNo more emails about referrals: {unsubscribe}\n",
            "categories": ["referral", template],
            "custom_args": {
                "referral_id": str(facts.referral_id),
                **({"reward_id": str(reward.reward_id)} if reward else {}),
            },
            "headers": {
                "List-Unsubscribe": f"<{unsubscribe}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        },
    )
