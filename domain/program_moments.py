"""Moments and guards: which client signals are a good time to ask, and when never to ask.

The seed's four moments (successful onboarding, first ROI, renewal or upsell, high NPS or
positive feedback) are triggers here; the guards keep an ask away from a client who just gave a
low score, has an open escalation or a churn risk, or was asked recently.
"""

from __future__ import annotations

from pydantic import Field

from domain.program_base import ProgramModel
from domain.signals import SignalKind


class Trigger(ProgramModel):
    """A moment kind that can be switched off without deleting its settings."""

    enabled: bool = True


class NpsTrigger(Trigger):
    """Promoters only: a score of at least ``min_score`` (0..10) is a moment."""

    min_score: int = Field(9, ge=0, le=10)


class CsatTrigger(Trigger):
    """A CSAT of at least ``min_score`` (1..5) is a moment."""

    min_score: int = Field(5, ge=1, le=5)


TRIGGER_SIGNALS: dict[str, SignalKind] = {
    "onboarding_completed": SignalKind.ONBOARDING_COMPLETED,
    "first_roi": SignalKind.ROI_MILESTONE,
    "renewal_signed": SignalKind.RENEWAL_SIGNED,
    "upsell_signed": SignalKind.UPSELL_SIGNED,
    "nps": SignalKind.NPS,
    "csat": SignalKind.CSAT,
    "positive_feedback": SignalKind.FEEDBACK_POSITIVE,
}
"""Trigger name -> the signal kind that fires it."""


class Triggers(ProgramModel):
    """The moments worth an ask; a moment is unique per account, trigger and window."""

    onboarding_completed: Trigger = Trigger()
    first_roi: Trigger = Trigger()
    renewal_signed: Trigger = Trigger()
    upsell_signed: Trigger = Trigger()
    nps: NpsTrigger = NpsTrigger()
    csat: CsatTrigger = CsatTrigger()
    positive_feedback: Trigger = Trigger()
    moment_window_days: int = Field(30, ge=1)

    def enabled_signal_kinds(self) -> frozenset[SignalKind]:
        return frozenset(
            kind for name, kind in TRIGGER_SIGNALS.items() if getattr(self, name).enabled
        )


class Rollout(ProgramModel):
    """Pilot scope (seed: "manage on a segment or pilot team" first); empty = everyone."""

    segments: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()

    def includes(self, segment: str | None, team: str | None) -> bool:
        in_segment = not self.segments or segment in self.segments
        return in_segment and (not self.teams or team in self.teams)


class Guards(ProgramModel):
    """When not to ask even at a good moment. Opt-outs are always respected, not configurable."""

    account_cooldown_days: int = Field(90, ge=0)
    person_cooldown_days: int = Field(180, ge=0)
    detractor_window_days: int = Field(90, ge=0)
    detractor_max_nps: int = Field(6, ge=0, le=10)
    skip_open_escalation: bool = True
    skip_churn_risk: bool = True
    rollout: Rollout = Rollout()
