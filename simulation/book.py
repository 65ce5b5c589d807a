"""A deterministic synthetic "book of business" for the demo and the tests.

The referral journey only shows something when the customer base behaves like a real one: most
accounts are quiet, a minority are delighted, a few are unhappy, renewals land all over the
year and escalations come and go. This module invents such a base — team, companies, contacts,
deals and relationship signals — from a seed alone, so the demo is reproducible and tests can
assert on it. It is pure: no database, no wall clock, no global random state.

Model, in short. Each customer gets a hidden *temperament* (promoter, passive, detractor, at
risk) that drives its health score, survey answers, escalations and renewals consistently. The
CRM objects are a snapshot taken at ``start`` (every created/closed time is before it); the
signals then happen inside ``[start, start + days)``.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from domain.signals import SignalKind, SignalSource
from domain.stages import (
    DEFAULT_MILESTONES,
    DEFAULT_PIPELINE_ID,
    HUBSPOT_DEFAULT_STAGES,
    ProgramStage,
)
from integrations.sandbox.portal import RENEWAL_DUE, RENEWALS_PIPELINE_ID
from simulation import names as n

__all__ = [
    "Book",
    "CompanySpec",
    "ContactSpec",
    "DealSpec",
    "SignalSpec",
    "TeamMemberSpec",
    "generate_book",
]


@dataclass(frozen=True, slots=True)
class TeamMemberSpec:
    """A CSM or sales rep of our own company; owns companies in the CRM."""

    email: str
    name: str
    team: str
    role: str  # "csm" | "rep"
    crm_owner_id: str
    slack_user_id: str | None


@dataclass(frozen=True, slots=True)
class CompanySpec:
    """A client or prospect company as the CRM holds it at ``Book.start``."""

    crm_id: str
    name: str
    domain: str
    segment: str  # smb | mid_market | enterprise
    industry: str
    owner_crm_id: str
    lifecycle: str  # "customer" | "prospect"
    created_at: datetime
    onboarding_completed_at: datetime | None
    renewal_date: date | None
    health_score: int  # 0..100; prospects sit at a neutral 50


@dataclass(frozen=True, slots=True)
class ContactSpec:
    """A person at a company: a potential champion (or survey respondent)."""

    crm_id: str
    company_crm_id: str
    first_name: str
    last_name: str
    email: str
    title: str
    linkedin_followers: int
    speaks_at_events: bool
    opted_out: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DealSpec:
    """A deal: new business and expansions in HubSpot's default sales pipeline (won deals
    carry their milestone dates as properties, as a real portal does), renewals in a
    pipeline of their own."""

    crm_id: str
    company_crm_id: str
    name: str
    pipeline_id: str
    stage_id: str
    amount: Decimal
    source_channel: str  # inbound | outbound | partner | event | client_referral
    created_at: datetime
    stage_entered_at: datetime
    closed_at: datetime | None
    properties: tuple[tuple[str, str], ...] = ()  # milestone date properties, ISO 8601


@dataclass(frozen=True, slots=True)
class SignalSpec:
    """One relationship fact, shaped like what the signal ingest accepts."""

    external_id: str
    kind: SignalKind
    account_crm_id: str
    person_email: str | None
    value: Decimal | None
    text: str | None
    occurred_at: datetime
    source: SignalSource


@dataclass(frozen=True, slots=True)
class Book:
    """Everything generated from one seed; equal arguments give an equal Book."""

    seed: int
    start: date
    days: int
    team: tuple[TeamMemberSpec, ...]
    companies: tuple[CompanySpec, ...]
    contacts: tuple[ContactSpec, ...]
    deals: tuple[DealSpec, ...]
    signals: tuple[SignalSpec, ...]

    @property
    def end(self) -> date:
        """First day *after* the simulated period (the period is half-open)."""
        return self.start + timedelta(days=self.days)


class _Mood(StrEnum):
    """Hidden temperament of a customer; never exported, only its consequences are."""

    PROMOTER = "promoter"
    PASSIVE = "passive"
    DETRACTOR = "detractor"
    AT_RISK = "at_risk"


SEGMENT_WEIGHTS: dict[str, int] = {"smb": 50, "mid_market": 35, "enterprise": 15}
CHANNEL_WEIGHTS: dict[str, int] = {
    "inbound": 35,
    "outbound": 28,
    "partner": 15,
    "event": 13,
    "client_referral": 9,
}
CUSTOMER_SHARE = 0.8
_MOOD_WEIGHTS: dict[_Mood, int] = {
    _Mood.PROMOTER: 24,
    _Mood.PASSIVE: 52,
    _Mood.DETRACTOR: 13,
    _Mood.AT_RISK: 11,
}
# segment -> (ARR low, ARR high, sales cycle days low, high, onboarding days low, high, contacts)
_SEGMENT: dict[str, tuple[int, int, int, int, int, int, tuple[int, int]]] = {
    "smb": (6_000, 30_000, 14, 60, 14, 45, (2, 3)),
    "mid_market": (30_000, 150_000, 40, 120, 30, 80, (3, 5)),
    "enterprise": (150_000, 750_000, 90, 240, 60, 130, (4, 6)),
}
_HEALTH: dict[_Mood, tuple[int, int]] = {
    _Mood.PROMOTER: (75, 98),
    _Mood.PASSIVE: (55, 85),
    _Mood.DETRACTOR: (25, 60),
    _Mood.AT_RISK: (12, 45),
}
_OPEN_STAGES: tuple[str, ...] = HUBSPOT_DEFAULT_STAGES[:5]  # appointment .. contract sent
_OPEN_STAGE_WEIGHTS: tuple[int, ...] = (24, 22, 20, 14, 12)
_ONBOARDING = DEFAULT_MILESTONES[ProgramStage.ONBOARDING]
_FIRST_PAYMENT = DEFAULT_MILESTONES[ProgramStage.FIRST_PAYMENT]
_RENEWAL_DEAL_SHARE = 0.6  # customers whose renewal falls in the period get a renewal deal
_NPS_WAVE_EVERY = 90  # a relationship survey each quarter
_NPS_RESPONSE_RATE = 0.42
_CENT = Decimal("0.01")


def generate_book(
    *,
    seed: int = 7,
    accounts: int = 200,
    csms: int | None = None,
    reps: int | None = None,
    start: date = date(2026, 1, 5),
    days: int = 180,
) -> Book:
    """Generate a reproducible book: ``accounts`` companies (~80% customers) and their history.

    The team grows with the book as a real one does: by default one CSM per 100 accounts
    and one rep per 250 (at least 8 and 4), so asks, digests and referrals scale with it.

    Raises ``ValueError`` for sizes that cannot make a book (no owners, empty period).
    """
    if accounts < 0:
        raise ValueError(f"accounts must be >= 0, got {accounts}")
    csms = max(8, round(accounts / 100)) if csms is None else csms
    reps = max(4, round(accounts / 250)) if reps is None else reps
    if csms < 1 or reps < 1:
        raise ValueError(f"need at least one CSM and one rep, got csms={csms} reps={reps}")
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    return _Generator(seed, accounts, csms, reps, start, days).build()


@dataclass
class _Account:
    """Working state for one company while its signals are generated."""

    company: CompanySpec
    mood: _Mood | None  # None for prospects
    arr: int
    won_at: datetime | None  # None for prospects
    contacts: list[ContactSpec] = field(default_factory=list)


class _Generator:
    """Holds the one ``random.Random`` and the id counters; consumed once by ``build``."""

    def __init__(
        self, seed: int, accounts: int, csms: int, reps: int, start: date, days: int
    ) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.accounts = accounts
        self.csms = csms
        self.reps = reps
        self.start = start
        self.days = days
        self.t0 = datetime(start.year, start.month, start.day, tzinfo=UTC)
        self.t_end = self.t0 + timedelta(days=days)
        self.emails: set[str] = set()
        # HubSpot-like numeric ids: increasing from a per-type base with random gaps.
        self._next_id = {
            "owner": 40_000_000 + self.rng.randrange(9_000_000),
            "company": 9_000_000_000 + self.rng.randrange(900_000_000),
            "contact": 50_000_000 + self.rng.randrange(40_000_000),
            "deal": 12_000_000_000 + self.rng.randrange(900_000_000),
        }

    # ---------------------------------------------------------------- helpers
    def _id(self, kind: str) -> str:
        value = self._next_id[kind]
        self._next_id[kind] = value + self.rng.randint(1, 97)
        return str(value)

    def _pick(self, weights: dict[str, int]) -> str:
        return self.rng.choices(tuple(weights), weights=tuple(weights.values()))[0]

    def _clock(self, day: datetime) -> datetime:
        """A business-hours time on the (midnight-aligned) day given."""
        r = self.rng
        return day + timedelta(
            hours=r.randint(8, 17), minutes=r.randint(0, 59), seconds=r.randint(0, 59)
        )

    def _past(self, days_before: int) -> datetime:
        """A business-hours time ``days_before`` (>= 1) days before the period starts."""
        return self._clock(self.t0 - timedelta(days=max(1, days_before)))

    def _in_period(self, day: int) -> datetime | None:
        """A weekday business-hours time on period day ``day``, or None outside the period."""
        if not 0 <= day < self.days:
            return None
        weekday = (self.start + timedelta(days=day)).weekday()
        if weekday >= 5:  # weekend: move to Monday, or back to Friday at the end of the period
            forward, back = day + (7 - weekday), day - (weekday - 4)
            day = forward if forward < self.days else back if back >= 0 else day
        return self._clock(self.t0 + timedelta(days=day))

    def _between(self, low: datetime, high: datetime) -> datetime:
        """A whole-second time in ``[low, high]`` (``low`` when the range is empty)."""
        span = int((high - low).total_seconds())
        return low + timedelta(seconds=self.rng.randint(0, max(0, span)))

    def _money(self, low: int, high: int, step: int = 500) -> Decimal:
        return Decimal(self.rng.randrange(low, high + 1, step)).quantize(_CENT)

    # ------------------------------------------------------------------ build
    def build(self) -> Book:
        team = self._team()
        csm_ids = [m.crm_owner_id for m in team if m.role == "csm"]
        rep_ids = [m.crm_owner_id for m in team if m.role == "rep"]
        accounts = self._companies(csm_ids, rep_ids)
        deals: list[DealSpec] = []
        for account in accounts:
            account.contacts = self._contacts(account.company)
            deals.extend(self._deals(account))
        signals = self._signals(accounts)
        return Book(
            seed=self.seed,
            start=self.start,
            days=self.days,
            team=tuple(team),
            companies=tuple(a.company for a in accounts),
            contacts=tuple(c for a in accounts for c in a.contacts),
            deals=tuple(deals),
            signals=signals,
        )

    # ------------------------------------------------------------------- team
    def _team(self) -> list[TeamMemberSpec]:
        """CSMs across north/south/pilot (pilot smallest, the rollout scope); reps north/south."""
        r = self.rng
        pilot = max(1, self.csms // 4) if self.csms >= 3 else 0
        roles = [("csm", "pilot")] * pilot + [
            ("csm", n.TEAMS_CSM[i % 2]) for i in range(self.csms - pilot)
        ]
        roles += [("rep", n.TEAMS_REP[i % 2]) for i in range(self.reps)]
        team: list[TeamMemberSpec] = []
        used_names: set[tuple[str, str]] = set()
        for role, team_name in roles:
            first, last = r.choice(n.FIRST_NAMES), r.choice(n.LAST_NAMES)
            while (first, last) in used_names:
                first, last = r.choice(n.FIRST_NAMES), r.choice(n.LAST_NAMES)
            used_names.add((first, last))
            email = self._unique_email(f"{_ascii(first)}.{_ascii(last)}", n.VENDOR_DOMAIN)
            slack = (
                None
                if r.random() < 0.1
                else "U0" + "".join(r.choices("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", k=9))
            )
            team.append(
                TeamMemberSpec(
                    email=email,
                    name=f"{first} {last}",
                    team=team_name,
                    role=role,
                    crm_owner_id=self._id("owner"),
                    slack_user_id=slack,
                )
            )
        return team

    # -------------------------------------------------------------- companies
    def _stems(self) -> list[str]:
        """Enough unique company stems for the book, in random order."""
        stems = [h + t for h in n.STEM_HEADS for t in n.STEM_TAILS if h.lower() != t]
        self.rng.shuffle(stems)
        round_ = 2
        while len(stems) < self.accounts:  # only for very large books
            stems += [f"{s}{round_}" for s in stems[: self.accounts - len(stems)]]
            round_ += 1
        return stems[: self.accounts]

    def _companies(self, csm_ids: Sequence[str], rep_ids: Sequence[str]) -> list[_Account]:
        r = self.rng
        n_customers = round(self.accounts * CUSTOMER_SHARE)
        lifecycles = ["customer"] * n_customers + ["prospect"] * (self.accounts - n_customers)
        r.shuffle(lifecycles)
        out: list[_Account] = []
        seen_domains: set[str] = set()
        n_cust = n_prosp = 0
        for stem, lifecycle in zip(self._stems(), lifecycles, strict=True):
            segment = self._pick(SEGMENT_WEIGHTS)
            industry = self._pick(n.INDUSTRY_WEIGHTS)
            arr_lo, arr_hi, cyc_lo, cyc_hi, onb_lo, onb_hi, _ = _SEGMENT[segment]
            arr = r.randrange(arr_lo, arr_hi + 1, 500)
            name = f"{stem} {r.choice(n.INDUSTRY_SUFFIXES[industry])}"
            domain = stem.lower() + r.choice(n.INDUSTRY_TLDS.get(industry, n.DEFAULT_TLDS))
            while domain in seen_domains:  # stems are unique; only the fallback stems could clash
                domain = "get" + domain
            seen_domains.add(domain)
            onboarded: datetime | None = None
            renewal: date | None = None
            if lifecycle == "customer":
                mood = _Mood(self._pick(_MOOD_WEIGHTS))
                health = r.randint(*_HEALTH[mood])
                # ~22% recently won: their onboarding tends to complete inside the period.
                tenure = r.randint(7, 100) if r.random() < 0.22 else r.randint(120, 2_000)
                won_at = self._past(tenure)
                created = won_at - timedelta(days=r.randint(cyc_lo, cyc_hi) + r.randint(0, 30))
                done = won_at + timedelta(days=r.randint(onb_lo, onb_hi))
                onboarded = done if done < self.t_end else None
                renewal = _next_anniversary(won_at.date(), self.start)
                owner = csm_ids[n_cust % len(csm_ids)]
                n_cust += 1
            else:
                mood, health, won_at = None, 50, None
                created = self._past(r.randint(5, 700))
                owner = rep_ids[n_prosp % len(rep_ids)]
                n_prosp += 1
            company = CompanySpec(
                crm_id=self._id("company"),
                name=name,
                domain=domain,
                segment=segment,
                industry=industry,
                owner_crm_id=owner,
                lifecycle=lifecycle,
                created_at=created,
                onboarding_completed_at=onboarded,
                renewal_date=renewal,
                health_score=health,
            )
            out.append(_Account(company=company, mood=mood, arr=arr, won_at=won_at))
        return out

    # --------------------------------------------------------------- contacts
    def _contacts(self, company: CompanySpec) -> list[ContactSpec]:
        r = self.rng
        lo, hi = _SEGMENT[company.segment][6]
        count = r.randint(lo, hi)
        titles = self._titles(company, count)
        span = max(1, (self.t0 - company.created_at).days)
        contacts: list[ContactSpec] = []
        used_names: set[tuple[str, str]] = set()
        for i, title in enumerate(titles):
            first, last = r.choice(n.FIRST_NAMES), r.choice(n.LAST_NAMES)
            while (first, last) in used_names:
                first, last = r.choice(n.FIRST_NAMES), r.choice(n.LAST_NAMES)
            used_names.add((first, last))
            email = self._contact_email(first, last, company)
            senior = i == 0 or title in n.CEO_TITLES or title in n.EXEC_TITLES
            followers = int(r.lognormvariate(6.3 if senior else 5.6, 1.0))
            if r.random() < 0.06:  # a few well-known voices in their niche
                followers = r.randint(10_000, 60_000)
            speaks = r.random() < (0.35 if followers >= 10_000 else 0.08 if senior else 0.02)
            created = company.created_at + timedelta(days=r.randint(0, span - 1) if i else 0)
            contacts.append(
                ContactSpec(
                    crm_id=self._id("contact"),
                    company_crm_id=company.crm_id,
                    first_name=first,
                    last_name=last,
                    email=email,
                    title=title,
                    linkedin_followers=followers,
                    speaks_at_events=speaks,
                    opted_out=r.random() < 0.04,
                    created_at=min(created, self.t0 - timedelta(hours=1)),
                )
            )
        return contacts

    def _titles(self, company: CompanySpec, count: int) -> list[str]:
        """Distinct titles, the first one senior (the buyer), the rest across all levels."""
        r = self.rng
        extra = n.INDUSTRY_TITLES.get(company.industry, ())
        if company.segment == "smb":
            first = r.choice(n.CEO_TITLES) if r.random() < 0.6 else r.choice(n.VP_TITLES)
        elif company.segment == "mid_market":
            first = r.choice(
                r.choices((n.EXEC_TITLES, n.VP_TITLES, n.DIRECTOR_TITLES), (3, 5, 2))[0]
            )
        else:
            first = r.choice(n.VP_TITLES if r.random() < 0.5 else n.DIRECTOR_TITLES + extra)
        tiers = (n.EXEC_TITLES, n.VP_TITLES, n.DIRECTOR_TITLES + extra, n.MANAGER_TITLES + extra)
        tiers += (n.STAFF_TITLES,)
        titles = [first]
        while len(titles) < count:
            title = r.choice(r.choices(tiers, weights=(10, 18, 25, 27, 20))[0])
            if title not in titles:
                titles.append(title)
        return titles

    def _contact_email(self, first: str, last: str, company: CompanySpec) -> str:
        """Work email on the company domain (pattern varies); ~4% use a personal address."""
        r = self.rng
        f, la = _ascii(first), _ascii(last)
        if r.random() < 0.04:
            return self._unique_email(
                f"{f}.{la}{r.randint(1, 99)}", r.choice(n.PERSONAL_EMAIL_DOMAINS)
            )
        pattern = r.random()
        local = f"{f}.{la}" if pattern < 0.7 else f"{f[0]}{la}" if pattern < 0.9 else f
        return self._unique_email(local, company.domain)

    def _unique_email(self, local: str, domain: str) -> str:
        email, k = f"{local}@{domain}", 2
        while email in self.emails:
            email, k = f"{local}{k}@{domain}", k + 1
        self.emails.add(email)
        return email

    # ------------------------------------------------------------------ deals
    def _deals(self, account: _Account) -> list[DealSpec]:
        r = self.rng
        c = account.company
        arr_lo, arr_hi, cyc_lo, cyc_hi, *_ = _SEGMENT[c.segment]
        deals: list[DealSpec] = []
        won_at = account.won_at
        latest = self.t0 - timedelta(minutes=1)
        if won_at is not None:
            # The original new-business deal, won; onboarding and first payment are date
            # properties (milestones) set once they happened.
            onboarded = c.onboarding_completed_at
            milestones: list[tuple[str, str]] = []
            if won_at <= self.t0 - timedelta(days=14) or (onboarded and onboarded < self.t0):
                started = min(won_at + timedelta(days=r.randint(1, 5)), latest)
                milestones.append((_ONBOARDING, started.isoformat()))
            if onboarded is not None and onboarded < self.t0:
                paid = min(onboarded + timedelta(days=r.randint(0, 30)), latest)
                milestones.append((_FIRST_PAYMENT, paid.isoformat()))
            amount = Decimal(account.arr).quantize(_CENT)
            channel = self._pick(CHANNEL_WEIGHTS)
            deals.append(
                self._deal(
                    c,
                    "New business",
                    "closedwon",
                    amount,
                    channel,
                    c.created_at,
                    won_at,
                    won_at,
                    tuple(milestones),
                )
            )
            if (
                c.renewal_date is not None
                and c.renewal_date < self.start + timedelta(days=self.days)
                and r.random() < _RENEWAL_DEAL_SHARE
            ):
                created = self._past(r.randint(1, 30))
                deals.append(
                    self._deal(
                        c,
                        "Renewal",
                        RENEWAL_DUE,
                        amount,
                        "renewal",
                        created,
                        created,
                        pipeline=RENEWALS_PIPELINE_ID,
                    )
                )
            if r.random() < 0.15:  # expansion in flight
                created = self._past(r.randint(5, 90))
                entered = self._between(created, latest)
                stage = r.choices(_OPEN_STAGES[1:], weights=_OPEN_STAGE_WEIGHTS[1:])[0]
                amount = self._money(max(500, account.arr // 10), max(1000, account.arr // 2))
                channel = r.choice(("inbound", "outbound"))
                deals.append(self._deal(c, "Expansion", stage, amount, channel, created, entered))
            return deals
        if r.random() < 0.1:  # a marketing prospect without a deal yet
            return deals
        channel = self._pick(CHANNEL_WEIGHTS)
        amount = self._money(arr_lo, arr_hi)
        if r.random() < 0.2:
            closed = self._past(r.randint(5, 300))
            created = closed - timedelta(days=r.randint(cyc_lo, cyc_hi))
            deals.append(
                self._deal(
                    c, "New business", "closedlost", amount, channel, created, closed, closed
                )
            )
            return deals
        created = self._past(r.randint(3, cyc_hi))
        entered = self._between(created, latest)
        stage = r.choices(_OPEN_STAGES, weights=_OPEN_STAGE_WEIGHTS)[0]
        deals.append(self._deal(c, "New business", stage, amount, channel, created, entered))
        return deals

    def _deal(
        self,
        company: CompanySpec,
        label: str,
        stage: str,
        amount: Decimal,
        channel: str,
        created: datetime,
        entered: datetime,
        closed: datetime | None = None,
        properties: tuple[tuple[str, str], ...] = (),
        pipeline: str = DEFAULT_PIPELINE_ID,
    ) -> DealSpec:
        return DealSpec(
            crm_id=self._id("deal"),
            company_crm_id=company.crm_id,
            name=f"{company.name} - {label}",
            pipeline_id=pipeline,
            stage_id=stage,
            amount=amount,
            source_channel=channel,
            created_at=created,
            stage_entered_at=max(entered, created),
            closed_at=closed,
            properties=properties,
        )

    # ---------------------------------------------------------------- signals
    def _signals(self, accounts: Sequence[_Account]) -> tuple[SignalSpec, ...]:
        """All signals of the period, sorted by time, with ids numbered in that order."""
        raw: list[tuple[datetime, int, SignalKind, str, str | None, Decimal | None, str | None]]
        raw = []

        def emit(
            at: datetime | None,
            kind: SignalKind,
            account: _Account,
            person: str | None = None,
            value: Decimal | int | None = None,
            text: str | None = None,
        ) -> None:
            if at is None or not self.t0 <= at < self.t_end:
                return
            v = Decimal(value) if isinstance(value, int) else value
            raw.append((at, len(raw), kind, account.company.crm_id, person, v, text))

        for account in accounts:
            self._customer_signals(account, emit)
        raw.sort(key=lambda s: (s[0], s[1]))
        return tuple(
            SignalSpec(
                external_id=f"sim-{self.seed}-{i:06d}",
                kind=kind,
                account_crm_id=account_id,
                person_email=person,
                value=value,
                text=text,
                occurred_at=at,
                source=SignalSource.SIMULATION,
            )
            for i, (at, _, kind, account_id, person, value, text) in enumerate(raw, start=1)
        )

    def _customer_signals(self, a: _Account, emit: _Emit) -> None:
        """One customer's period, told consistently with its temperament."""
        r, mood, c = self.rng, a.mood, a.company
        if mood is None:  # prospects have no relationship to report on
            return
        days = self.days
        people = [p.email for p in a.contacts]

        # NPS: a survey wave each quarter; the answer follows the account's temperament.
        for wave in range(min(14, days // 4), days, _NPS_WAVE_EVERY):
            respondents = 2 if c.segment == "enterprise" and r.random() < 0.3 else 1
            for person in r.sample(people, min(respondents, len(people))):
                if r.random() >= _NPS_RESPONSE_RATE:
                    continue
                score, comment = self._nps(mood)
                emit(
                    self._in_period(wave + r.randint(0, 13)),
                    SignalKind.NPS,
                    a,
                    person,
                    score,
                    comment,
                )

        # CSAT after support tickets.
        per_quarter = {"smb": 1, "mid_market": 2, "enterprise": 3}[c.segment]
        for _ in range(r.randint(0, per_quarter * max(1, days // 90))):
            score = self._csat(mood)
            comment = r.choice(n.CSAT_COMMENTS[score]) if r.random() < 0.4 else None
            day = r.randrange(days)
            emit(self._in_period(day), SignalKind.CSAT, a, r.choice(people), score, comment)

        # Onboarding completed inside the period, then often a first quick win.
        onboarded = c.onboarding_completed_at
        roi_after: int | None = None
        if onboarded is not None and onboarded >= self.t0:
            emit(onboarded, SignalKind.ONBOARDING_COMPLETED, a, text="Go-live completed")
            if mood is not _Mood.AT_RISK and r.random() < 0.55:
                roi_after = (onboarded - self.t0).days + r.randint(20, 60)
        roi_p = {_Mood.PROMOTER: 0.55, _Mood.PASSIVE: 0.2, _Mood.DETRACTOR: 0.04}.get(mood, 0.0)
        if roi_after is None and r.random() < roi_p:
            roi_after = r.randrange(days)
        if roi_after is not None:
            emit(
                self._in_period(roi_after), SignalKind.ROI_MILESTONE, a, text=self._roi(c.industry)
            )

        # Renewal on the renewal date; unhappy accounts sometimes let it lapse.
        renew_p = {_Mood.PROMOTER: 1.0, _Mood.PASSIVE: 0.96, _Mood.DETRACTOR: 0.75}.get(mood, 0.6)
        renewal = c.renewal_date
        if renewal is not None and r.random() < renew_p:
            at = self._clock(datetime(renewal.year, renewal.month, renewal.day, tzinfo=UTC))
            uplift = Decimal(r.choice((100, 100, 103, 105, 108, 110))) / 100
            value = (Decimal(a.arr) * uplift).quantize(_CENT) if r.random() < 0.8 else None
            emit(at, SignalKind.RENEWAL_SIGNED, a, value=value, text="Renewed for 12 months")

        upsell_p = {_Mood.PROMOTER: 0.25, _Mood.PASSIVE: 0.09}.get(mood, 0.0)
        if r.random() < upsell_p:
            value = self._money(max(500, a.arr // 10), max(1000, a.arr // 2))
            text = r.choice(n.UPSELLS).format(n=r.choice((5, 10, 15, 25, 50)))
            value = value if r.random() < 0.85 else None
            at = self._in_period(r.randrange(days))
            emit(at, SignalKind.UPSELL_SIGNED, a, value=value, text=text)

        # Unsolicited feedback from a named person (emails, QBRs, community posts).
        positive_p = {_Mood.PROMOTER: 0.45, _Mood.PASSIVE: 0.1}.get(mood, 0.0)
        if r.random() < positive_p:
            at, text = self._in_period(r.randrange(days)), r.choice(n.POSITIVE_FEEDBACK)
            emit(at, SignalKind.FEEDBACK_POSITIVE, a, r.choice(people), text=text)
        negative_p = {_Mood.DETRACTOR: 0.4, _Mood.AT_RISK: 0.4, _Mood.PASSIVE: 0.03}.get(mood, 0.0)
        if r.random() < negative_p:
            at, text = self._in_period(r.randrange(days)), r.choice(n.NEGATIVE_FEEDBACK)
            emit(at, SignalKind.FEEDBACK_NEGATIVE, a, r.choice(people), text=text)

        # Escalations open, and usually close a few days or weeks later.
        esc_p = {_Mood.PROMOTER: 0.03, _Mood.PASSIVE: 0.07, _Mood.DETRACTOR: 0.5}.get(mood, 0.3)
        if r.random() < esc_p:
            day = r.randrange(days)
            issue = r.choice(n.ESCALATIONS)
            emit(self._in_period(day), SignalKind.ESCALATION_OPENED, a, text=issue)
            if r.random() < 0.85:
                at = self._in_period(day + r.randint(3, 30))
                emit(at, SignalKind.ESCALATION_CLOSED, a, text=f"Resolved: {issue}")

        # Churn risk flagged by the CSM, sometimes cleared again.
        churn_p = {_Mood.AT_RISK: 0.85, _Mood.DETRACTOR: 0.3, _Mood.PASSIVE: 0.04}.get(mood, 0.0)
        if r.random() < churn_p:
            day = r.randrange(max(1, days * 7 // 10))
            reason = r.choice(n.CHURN_RISKS)
            emit(self._in_period(day), SignalKind.CHURN_RISK_FLAGGED, a, text=reason)
            if r.random() < 0.4:
                at = self._in_period(day + r.randint(14, 60))
                emit(at, SignalKind.CHURN_RISK_CLEARED, a, text="Sponsor re-engaged, usage back up")

    def _nps(self, mood: _Mood) -> tuple[int, str | None]:
        r = self.rng
        if mood is _Mood.PROMOTER:
            score = r.choice((9, 9, 10, 10, 10)) if r.random() < 0.85 else 8
        elif mood is _Mood.PASSIVE:
            roll = r.random()
            score = r.choice((7, 8)) if roll < 0.82 else 9 if roll < 0.9 else 6
        elif mood is _Mood.DETRACTOR:
            score = r.randint(0, 6)
        else:
            score = r.randint(4, 8)  # at risk for usage or sponsor reasons, not all unhappy
        if score >= 9:
            return score, r.choice(n.PROMOTER_COMMENTS)
        if score >= 7:
            return score, r.choice(n.PASSIVE_COMMENTS) if r.random() < 0.3 else None
        return score, r.choice(n.DETRACTOR_COMMENTS) if r.random() < 0.7 else None

    def _csat(self, mood: _Mood) -> int:
        weights = {
            _Mood.PROMOTER: (0, 0, 1, 4, 10),
            _Mood.PASSIVE: (0, 1, 3, 8, 6),
        }.get(mood, (3, 4, 4, 3, 1))
        return self.rng.choices((1, 2, 3, 4, 5), weights=weights)[0]

    def _roi(self, industry: str) -> str:
        r = self.rng
        template = r.choice(n.ROI_GENERIC + n.ROI_BY_INDUSTRY.get(industry, ()))
        a = r.randint(6, 14)
        return template.format(
            pct=r.choice((15, 20, 25, 30, 35, 40, 45, 50, 60)),
            a=a,
            b=r.randint(2, a - 3),
            hours=r.choice((5, 8, 10, 12, 15, 20)),
        )


class _Emit(Protocol):
    """Signature of the ``emit`` callback handed to ``_customer_signals``."""

    def __call__(
        self,
        at: datetime | None,
        kind: SignalKind,
        account: _Account,
        person: str | None = None,
        value: Decimal | int | None = None,
        text: str | None = None,
    ) -> None: ...


def _next_anniversary(anchor: date, on_or_after: date) -> date:
    """The first yearly anniversary of ``anchor`` on or after ``on_or_after`` (Feb 29 -> 28)."""
    year = max(on_or_after.year, anchor.year + 1)
    while True:
        day = min(anchor.day, 28) if anchor.month == 2 else anchor.day
        candidate = date(year, anchor.month, day)
        if candidate >= on_or_after and candidate > anchor:
            return candidate
        year += 1


def _ascii(name: str) -> str:
    """Email-safe lowercase form of a name: "Lefèvre" -> "lefevre", "O'Brien" -> "obrien"."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())
