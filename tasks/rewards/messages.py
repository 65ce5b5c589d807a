"""What a reward's transitions send, as outbox rows: the approver's notice with the evidence,
the referrer's thank-you (never to a suppressed address: that row is kept, held), the payout
for the fulfilment port, and one Slack note per CSM."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from core.settings import Settings
from db.models import TeamMember
from db.repositories.outbox import NewMessage
from db.repositories.rewards import Context
from domain.digest import mrkdwn, note_payload
from domain.program import Program
from domain.rewards.accrual import money
from domain.statuses import OutboxChannel
from tasks.referrals.emails import ReferrerFacts, RewardFacts, referrer_message

NEXT_STEP = {
    "account_credit": "It will show as a credit on your next invoice.",
    "service_credit": "It will show as service credit on your next engagement.",
    "cash": "Our finance team pays it with their next payment run.",
    "commission": "Our finance team pays it with their next commission run.",
    "gift_card": "Your gift card will reach you by email within a few days.",
    "voucher": "Your voucher will reach you by email within a few days.",
    "donation": "We will make the donation in your name and send you the receipt.",
    "recognition": "Your name is on this quarter's list of the people who helped us grow.",
}


def _who(context: Context) -> tuple[str, str]:
    person = context.referrer
    first = person.first_name if person else ""
    name = (f"{person.first_name} {person.last_name}".strip() if person else "") or first
    return first, name or "there"


def thank_you(
    program: Program, settings: Settings, context: Context, held: str | None
) -> NewMessage:
    reward, referral = context.reward, context.referral
    first, name = _who(context)
    recognition = reward.reward_type == "recognition"
    facts = ReferrerFacts(
        referral_id=referral.id,
        referrer_email=reward.recipient_email or "",
        referrer_first_name=first,
        referrer_name=name,
        referred_company=referral.referred_company_name,
        csm_name=context.csm.name if context.csm else program.company_name,
        referral_link=program.links.referral_link(referral.code) if referral.code else "",
        stage=str(referral.program_stage or ""),
    )
    next_step = NEXT_STEP.get(reward.reward_type, "")
    if reward.net_amount is not None and reward.net_amount < reward.amount:
        kept = money(reward.amount - reward.net_amount, reward.currency)
        next_step += f" {kept} of it settles an earlier reward whose deal was reversed."
    details = RewardFacts(
        reward_id=reward.id,
        reward_type=reward.reward_type,
        amount="" if recognition else money(reward.amount, reward.currency),
        next_step=next_step,
    )
    template = "reward_recognition" if recognition else "reward_released"
    message = referrer_message(program, settings, template, facts, details)
    return replace(message, held=held) if held else message


def payout(context: Context) -> NewMessage:
    reward = context.reward
    net = reward.net_amount if reward.net_amount is not None else reward.amount
    return NewMessage(
        channel=OutboxChannel.FULFILMENT,
        operation="queue_payout",
        recipient=reward.recipient_email or "",
        dedupe_key=f"payout:reward:{reward.id}",
        template="payout",
        subject_type="reward",
        subject_id=reward.id,
        payload={
            "reward_id": reward.id,
            "reward_type": reward.reward_type,
            "amount": str(net),
            "gross": str(reward.amount),
            "currency": reward.currency,
        },
    )


def evidence(context: Context, stages: Sequence[tuple[str, datetime]], ytd: Decimal) -> str:
    """What an approver needs to decide, by ids and facts; no referrer email in chat."""
    reward, referral, deal = context.reward, context.referral, context.deal
    c = reward.currency
    lines = [
        f"Reward {reward.id} waits for approval: {reward.reward_type.replace('_', ' ')} "
        f"{money(reward.amount, c)} (part {reward.part_index + 1} of {reward.parts}, "
        f"rule {reward.rule_key}).",
        f"Why it waits: {reward.wait_reason or 'the approval rule'}.",
        f"How it was computed: {reward.computation}.",
    ]
    if deal is not None:
        amount = money(deal.amount, deal.currency) if deal.amount is not None else "no amount"
        lines.append(f"Deal {deal.crm_id} ({mrkdwn(deal.name)}), {amount}.")
    if stages:
        lines.append(
            "Stages: " + ", ".join(f"{stage} {at.date().isoformat()}" for stage, at in stages)
        )
    if reward.qualified_at and reward.release_after:
        lines.append(
            f"Qualified {reward.qualified_at.date().isoformat()}, hold ended "
            f"{reward.release_after.date().isoformat()}."
        )
    reasons = ", ".join(str(r) for r in referral.reason_codes) or "none"
    lines.append(
        f"Referral {referral.id} to {mrkdwn(referral.referred_company_name)}: "
        f"{mrkdwn(referral.decision_text or str(referral.eligibility))} (reasons: {reasons})."
    )
    lines.append(f"Released to this referrer so far this year: {money(ytd, c)}.")
    lines.append(
        f"Decide: `referrals rewards approve {reward.id} --by EMAIL --reason TEXT` "
        f"or `referrals rewards reject {reward.id} --by EMAIL --reason TEXT`."
    )
    return "\n".join(lines)


def decision_buttons(reward_id: int) -> dict[str, Any]:
    """Approve / Reject, keyed by the reward: the web app's Slack endpoint decides through
    the same function as `referrals rewards approve|reject` (four eyes included)."""
    return {
        "type": "actions",
        "block_id": f"reward:{reward_id}",
        "elements": [
            {
                "type": "button",
                "action_id": "reward_approve",
                "style": "primary",
                "text": {"type": "plain_text", "text": "Approve"},
                "value": str(reward_id),
            },
            {
                "type": "button",
                "action_id": "reward_reject",
                "style": "danger",
                "text": {"type": "plain_text", "text": "Reject"},
                "value": str(reward_id),
            },
        ],
    }


def approval_requests(
    program: Program,
    context: Context,
    approvers: Sequence[TeamMember],
    text: str,
    round_: int = 1,
) -> list[NewMessage]:
    """One Slack DM and/or one email per approver, as the program says; each once per round
    (a reward asked again after its amount rose is a new round)."""
    reward = context.reward
    ways = program.reward_policy.notify_approvers_by
    messages = []
    for approver in approvers:
        if "chat" in ways and approver.slack_user_id:
            messages.append(
                NewMessage(
                    channel=OutboxChannel.CHAT,
                    operation="post_message",
                    recipient=approver.slack_user_id,
                    dedupe_key=f"approval:reward:{reward.id}:{round_}:{approver.id}:chat",
                    template="reward_approval",
                    subject_type="reward",
                    subject_id=reward.id,
                    payload={
                        **note_payload(text, decision_buttons(reward.id)),
                        "reward_id": reward.id,
                    },
                )
            )
        if "email" in ways:
            messages.append(
                NewMessage(
                    channel=OutboxChannel.EMAIL,
                    operation="send_email",
                    recipient=approver.email,
                    dedupe_key=f"approval:reward:{reward.id}:{round_}:{approver.id}:email",
                    template="reward_approval",
                    subject_type="reward",
                    subject_id=reward.id,
                    payload={
                        "subject": f"Reward {reward.id} waits for your approval",
                        "text": text.replace("`", ""),
                        "categories": ["reward_approval"],
                        "custom_args": {"reward_id": str(reward.id)},
                    },
                )
            )
    return messages


def csm_notes(contexts: Sequence[Context]) -> list[NewMessage]:
    """One message per CSM for the rewards released in this transaction."""
    by_csm: dict[int, list[Context]] = defaultdict(list)
    for context in contexts:
        if context.csm is not None and context.csm.slack_user_id:
            by_csm[context.csm.id].append(context)
    messages = []
    for csm_id, items in by_csm.items():
        csm = items[0].csm
        assert csm is not None
        lines = []
        for c in items:
            who = (c.referrer.first_name if c.referrer else "") or "A client"
            account = f" ({mrkdwn(c.account.name)})" if c.account else ""
            what = c.reward.reward_type.replace("_", " ")
            lines.append(
                f"- {mrkdwn(who)}{account}: {what} for the intro to "
                f"{mrkdwn(c.referral.referred_company_name)} released"
            )
        key = hashlib.sha256(",".join(str(c.reward.id) for c in items).encode()).hexdigest()[:16]
        text = "Rewards released for your accounts (they have been thanked):\n" + "\n".join(lines)
        messages.append(
            NewMessage(
                channel=OutboxChannel.CHAT,
                operation="post_message",
                recipient=csm.slack_user_id or "",
                dedupe_key=f"slack-rewards-released:{csm_id}:{key}",
                template="rewards_released_note",
                subject_type="team_member",
                subject_id=csm_id,
                payload=note_payload(text),
            )
        )
    return messages
