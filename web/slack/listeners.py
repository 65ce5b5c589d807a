"""The Bolt listeners: each acknowledges Slack at once, then does the work through
``tasks.slack_actions`` (the same code paths as the CLI).

* A button that records (Asked, Snooze, Approve) acks and runs a lazy listener: the handler,
  then the message's buttons replaced by what was recorded. A repeat (Slack's retry, a double
  click) changes nothing and updates nothing.
* A button that asks for more (Intro made, Decline, Reject) acks and opens its modal with the
  trigger at once (a trigger lasts three seconds); a retried delivery opens nothing (its
  trigger was spent by the first). Who clicked is checked before the modal opens.
* A submitted modal runs its handler before answering, so a form problem comes back inline
  (``response_action: errors``) and a refusal replaces the modal with the reason; the message
  it came from is updated after the answer.
* A refusal on a message is a note only the clicker sees (chat.postEphemeral).
* The intro form's referrer picker gets its options (block_suggestion) from the program's
  known people, answered in the ack itself; someone not on the team gets none.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltRequest
from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from db.repositories.locks import SLACK_MESSAGE, held
from db.repositories.people import search_people
from domain.clock import Clock
from domain.digest import mrkdwn
from domain.program import Program
from tasks import slack_actions as actions
from tasks.slack_actions import ChatActor, ChatRefusal, IntroForm, IntroProblems
from web.slack import blocks
from web.slack.blocks import Origin
from web.slack.replies import SharedLock, open_view, replace_in_message, tell

log = logging.getLogger(__name__)
SORRY = "Sorry, that did not go through and nothing was recorded. Try again, or use the CLI."
ASK_WORDS = {"asked": "Asked", "snoozed": "Snoozed for a week", "declined": "Declined"}
RETRY_HEADER = "x-slack-retry-num"


@dataclass(frozen=True)
class Deps:
    factory: sessionmaker[Session]
    program: Program
    settings: Settings
    clock: Clock


def _shared(deps: Deps) -> SharedLock:
    """One edit of a Slack message at a time across the web app's processes."""
    return lambda channel, ts: held(deps.factory, SLACK_MESSAGE, f"{channel}:{ts}")


def _retried(request: BoltRequest) -> bool:
    return bool(request.headers.get(RETRY_HEADER))


def _team(body: Mapping[str, Any]) -> str | None:
    return (body.get("team") or {}).get("id") or body.get("team_id")


def _user(body: Mapping[str, Any]) -> str:
    return str((body.get("user") or {}).get("id") or body.get("user_id") or "")


def _clicked(body: Mapping[str, Any]) -> tuple[int | None, str | None, str | None]:
    """(record id from the button's value, channel, message ts) of a block action."""
    [action] = body.get("actions") or [{}]
    value = str(action.get("value") or "")
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    return blocks.record_id(value), channel, container.get("message_ts")


def _actor(deps: Deps, body: Mapping[str, Any]) -> ChatActor:
    return actions.actor_for(deps.factory, _user(body), _team(body))


def _guarded(
    client: WebClient, body: Mapping[str, Any], channel: str | None, work: Callable[[], None]
) -> None:
    """Run ``work``; a refusal or a failure is told to the clicker alone."""
    try:
        work()
    except ChatRefusal as refusal:
        tell(client, channel, _user(body), str(refusal))
    except Exception:
        log.exception("slack: %s failed", (body.get("actions") or [{}])[0].get("action_id"))
        tell(client, channel, _user(body), SORRY)


def _ack_now(ack: Ack) -> None:
    ack()


def register(app: App, deps: Deps) -> None:
    """Every listener of the program's Slack app."""

    def record_button(outcome: str) -> Callable[..., None]:
        def record(body: dict[str, Any], client: WebClient) -> None:
            ask_id, channel, ts = _clicked(body)

            def work() -> None:
                if ask_id is None:
                    raise ChatRefusal("That button carries no ask.")
                now = deps.clock.now()
                done = actions.record_ask(
                    deps.factory, _actor(deps, body), ask_id, outcome, None, now
                )
                # Also when nothing changed: an update lost the first time is repaired now
                # (a block already answered is left as it is).
                line = blocks.recorded(f"ask:{ask_id}", _ask_words(done), _user(body), now)
                replace_in_message(
                    client, channel, ts, f"ask:{ask_id}", line, body.get("message"), _shared(deps)
                )

            _guarded(client, body, channel, work)

        record.__name__ = f"record_{outcome}"  # Bolt runs lazy listeners by name
        return record

    app.action("ask_asked")(ack=_ack_now, lazy=[record_button("asked")])
    app.action("ask_snooze")(ack=_ack_now, lazy=[record_button("snoozed")])

    def modal_button(build: Callable[[Origin], dict[str, Any]]) -> Callable[..., None]:
        def open_modal(
            ack: Ack, body: dict[str, Any], client: WebClient, request: BoltRequest
        ) -> None:
            ack()
            if _retried(request):
                return  # the first delivery spent the trigger
            record_id, channel, ts = _clicked(body)

            def work() -> None:
                _actor(deps, body)
                open_view(client, body.get("trigger_id"), build(Origin(record_id, channel, ts)))

            _guarded(client, body, channel, work)

        return open_modal

    app.action("ask_intro")(modal_button(blocks.intro_modal))
    app.action("ask_decline")(modal_button(blocks.decline_modal))
    app.action("reward_reject")(modal_button(blocks.reject_modal))

    def approve(body: dict[str, Any], client: WebClient) -> None:
        reward_id, channel, ts = _clicked(body)

        def work() -> None:
            if reward_id is None:
                raise ChatRefusal("That button carries no reward.")
            now = deps.clock.now()
            actor = _actor(deps, body)
            actions.decide_reward_in_chat(
                deps.factory, deps.program, actor, reward_id, True, "approved in Slack", now
            )
            line = blocks.recorded(f"reward:{reward_id}", "Approved", _user(body), now)
            replace_in_message(
                client, channel, ts, f"reward:{reward_id}", line, body.get("message"), _shared(deps)
            )

        _guarded(client, body, channel, work)

    app.action("reward_approve")(ack=_ack_now, lazy=[approve])

    def open_intro_anywhere(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """The global shortcut and /refer: the intro form without an ask. A refusal is a
        notice in place of the form (there may be no conversation to tell it in)."""
        ack()
        try:
            _actor(deps, body)
        except ChatRefusal as refusal:
            open_view(client, body.get("trigger_id"), blocks.notice(str(refusal)))
            return
        open_view(client, body.get("trigger_id"), blocks.intro_modal(Origin()))

    app.shortcut("log_intro")(open_intro_anywhere)
    app.command("/refer")(open_intro_anywhere)

    def referrer_options(ack: Ack, body: dict[str, Any]) -> None:
        """The picker's options: people (of any account) matching what was typed."""
        ack(options=_referrer_options(deps, body))

    app.options(blocks.REFERRER_ACTION)(referrer_options)

    app.view(blocks.INTRO_VIEW)(lambda ack, body, client: _intro_submitted(deps, ack, body, client))
    app.view(blocks.DECLINE_VIEW)(
        lambda ack, body, client: _decline_submitted(deps, ack, body, client)
    )
    app.view(blocks.REJECT_VIEW)(
        lambda ack, body, client: _reject_submitted(deps, ack, body, client)
    )


def _referrer_options(deps: Deps, body: Mapping[str, Any]) -> list[dict[str, Any]]:
    typed = " ".join(str(body.get("value") or "").split())
    if len(typed) < blocks.MIN_QUERY:
        return []
    try:
        _actor(deps, body)
    except ChatRefusal:
        return []  # the program's people are for its team only
    try:
        with deps.factory() as session:
            found = search_people(session, typed)
    except Exception:
        log.exception("slack: the referrer search failed")
        return []
    return [
        blocks.person_option(p.person_id, f"{p.first_name} {p.last_name}", p.account_name)
        for p in found
    ]


def _ask_words(done: actions.AskRecorded) -> str:
    word = ASK_WORDS.get(done.status, done.status.replace("_", " ").capitalize())
    return f"{word}: {done.champion_name} at {done.account_name}"


def _refused(ack: Ack, refusal: Exception) -> None:
    ack(response_action="update", view=blocks.notice(str(refusal)))


def _person_id(value: str | None) -> int | None:
    return blocks.record_id(value)


def _intro_submitted(deps: Deps, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    view = body["view"]
    origin = Origin.load(view.get("private_metadata"))
    values = blocks.submitted(view)
    form = IntroForm(
        company=values.get("company", ""),
        domain=values.get("domain", ""),
        contact_name=values.get("contact_name", ""),
        contact_email=values.get("contact_email", ""),
        note=values.get("note", ""),
        ask_id=origin.record_id,
        referrer_person_id=_person_id(values.get(blocks.REFERRER_BLOCK)),
    )
    now = deps.clock.now()
    try:
        actor = _actor(deps, body)
        logged = actions.log_intro(deps.factory, deps.program, deps.settings, actor, form, now)
    except IntroProblems as problems:
        errors = {
            blocks.REFERRER_BLOCK if field == "referrer_email" else field: message
            for field, message in problems.errors.items()
        }  # nobody picked: shown at the picker
        inline = blocks.field_errors(errors, view)
        if inline is None:
            _refused(ack, problems)
        else:
            ack(response_action="errors", errors=inline)
        return
    except ChatRefusal as refusal:
        _refused(ack, refusal)
        return
    if origin.record_id is None:
        word = "Intro logged" if logged.created else "That intro was already logged"
        ack(
            response_action="update",
            view=blocks.notice(
                f"{word}: {mrkdwn(form.company)} (referral {logged.referral_id}). "
                "The program's rules decide it at the next run."
            ),
        )
        return
    ack()
    block_id = f"ask:{origin.record_id}"
    line = blocks.recorded(
        block_id,
        f"Intro to {form.company} logged (referral {logged.referral_id})",
        _user(body),
        now,
    )
    replace_in_message(client, origin.channel, origin.ts, block_id, line, shared=_shared(deps))


def _decline_submitted(deps: Deps, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    origin = Origin.load(body["view"].get("private_metadata"))
    reason = blocks.submitted(body["view"]).get("reason") or None
    now = deps.clock.now()
    try:
        if origin.record_id is None:
            raise ChatRefusal("That form carries no ask.")
        done = actions.record_ask(
            deps.factory, _actor(deps, body), origin.record_id, "declined", reason, now
        )
    except ChatRefusal as refusal:
        _refused(ack, refusal)
        return
    ack()
    block_id = f"ask:{origin.record_id}"
    line = blocks.recorded(block_id, _ask_words(done), _user(body), now)
    replace_in_message(client, origin.channel, origin.ts, block_id, line, shared=_shared(deps))


def _reject_submitted(deps: Deps, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    origin = Origin.load(body["view"].get("private_metadata"))
    reason = blocks.submitted(body["view"]).get("reason") or ""
    now = deps.clock.now()
    if not reason:
        ack(response_action="errors", errors={"reason": "Say why, in a sentence."})
        return
    try:
        if origin.record_id is None:
            raise ChatRefusal("That form carries no reward.")
        actor = _actor(deps, body)
        actions.decide_reward_in_chat(
            deps.factory, deps.program, actor, origin.record_id, False, reason, now
        )
    except ChatRefusal as refusal:
        _refused(ack, refusal)
        return
    ack()
    block_id = f"reward:{origin.record_id}"
    line = blocks.recorded(block_id, f"Rejected ({reason[:200]})", _user(body), now)
    replace_in_message(client, origin.channel, origin.ts, block_id, line, shared=_shared(deps))
