"""What a dispatch run did, per channel: counts, the rows that wait for a person, and the
summary the flows show."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import NamedTuple

from tasks.summary import Failure, Summary, SummaryRow, track


@dataclass
class DispatchReport:
    sent: Counter[str] = field(default_factory=Counter)
    retrying: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    in_doubt: Counter[str] = field(default_factory=Counter)
    confirmed_after_crash: Counter[str] = field(default_factory=Counter)
    requeued_after_crash: Counter[str] = field(default_factory=Counter)
    # Sent, answer lost: back in the queue, the vendor is asked before any second send.
    answer_lost: Counter[str] = field(default_factory=Counter)
    confirmed_after_lost_answer: Counter[str] = field(default_factory=Counter)
    # Claims another dispatcher took over after our lease ran out: left to it, not sent.
    lease_lost: Counter[str] = field(default_factory=Counter)
    # The recipient is on the suppression list: not sent, never will be.
    suppressed: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    # Rows that failed or went in doubt in this run: they wait for a person.
    gave_up: list[GaveUp] = field(default_factory=list)

    def __post_init__(self) -> None:
        track(self)

    def rows(self) -> list[dict[str, object]]:
        counters = {
            f.name: value
            for f in fields(self)
            if isinstance(value := getattr(self, f.name), Counter)
        }
        channels = sorted(set().union(*counters.values()))
        return [
            {"channel": channel, **{name: c[channel] for name, c in counters.items()}}
            for channel in channels
        ]

    def summary(self, parts: Mapping[str, str] | None = None) -> Summary:
        """Per channel (``parts`` names them): ``created`` what reached the vendor (sent, or
        found sent after a lost answer or a crash), ``skipped`` what is not to be sent
        (suppressed recipients) or another dispatcher took over, ``failed`` rows that failed
        permanently or are in doubt, by outbox id with the reason. The rest of ``found``
        (transient failures, lost answers, rows back from a crash) waits for a later run."""
        names = {**CHANNEL_PARTS, **(parts or {})}
        counters = [getattr(self, f.name) for f in fields(self)]
        counters = [c for c in counters if isinstance(c, Counter)]
        channels = sorted(set().union(*counters))
        rows = []
        for channel in channels:
            gave_up = [g for g in self.gave_up if g.channel == channel]
            rows.append(
                SummaryRow(
                    names.get(channel, channel),
                    found=sum(c[channel] for c in counters),
                    created=self.sent[channel]
                    + self.confirmed_after_crash[channel]
                    + self.confirmed_after_lost_answer[channel],
                    skipped=self.suppressed[channel] + self.lease_lost[channel],
                    failed=self.failed[channel] + self.in_doubt[channel],
                    failures=[
                        Failure(f"outbox {g.outbox_id} ({g.key})", g.reason) for g in gave_up
                    ],
                )
            )
        return Summary(rows)


class GaveUp(NamedTuple):
    channel: str
    outbox_id: int
    key: str  # the row's dedupe key: ids only (e.g. crm-push:referral:12)
    reason: str


CHANNEL_PARTS = {
    "email": "emails",
    "chat": "chat messages",
    "crm": "CRM writes",
    "fulfilment": "payouts",
}
