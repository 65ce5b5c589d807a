"""The ``program.yaml`` schema: the program's rules as typed, frozen pydantic models.

Each section maps to a step of the journey: ``triggers`` and ``guards`` (moments),
``scoring`` and ``asks`` (champions and asks), ``referrer_types`` (eligibility),
``stage_map`` (CRM qualification), ``rewards`` and ``templates``. Rules that tie sections
together (a reward naming a referrer type, a stage the CRM map can reach) are checked by
``cross_reference_problems``, which also runs on raw data so a file with several kinds of
mistakes gets all of them reported in one go.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, model_validator

from domain import program_defaults as defaults
from domain.program_base import LowercaseList, Problem, ProgramModel, Text, raise_problems
from domain.program_champions import Asks, Scoring, Targets
from domain.program_moments import Guards, NpsTrigger, Triggers
from domain.program_referrers import ReferrerType
from domain.program_rewards import Reward, RewardPolicy
from domain.stages import (
    DEFAULT_MILESTONES,
    DEFAULT_PIPELINE_ID,
    DEFAULT_STAGE_MAP,
    ProgramStage,
    rank,
    reached,
)
from domain.templates import EMAIL_TEMPLATES, check_template

PresetName = Literal["saas", "consulting", "financial", "recruitment", "custom"]


def _currency(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{3}", value):
        raise ValueError("must be a 3-letter ISO 4217 code such as USD")
    return value.upper()


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http(s) URL such as https://refer.example.com/r/")
    return value


def _absolute_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("must start with /")
    return value


class Links(ProgramModel):
    """Where referral links point: ``base_url`` + the referrer's code is the shared link."""

    base_url: Annotated[str, AfterValidator(_http_url)]
    landing_path: Annotated[str, AfterValidator(_absolute_path)] = "/refer"

    def referral_link(self, code: str) -> str:
        return f"{self.base_url.rstrip('/')}/{code}"


class SegmentProfile(ProgramModel):
    """Per-segment override of the ideal customer; unset keys fall back to the program's."""

    target_role: str | None = None
    company_type: str | None = None
    problem: str | None = None


class IdealCustomer(ProgramModel):
    """Who the ask names, so the champion knows whom to think of ("being too vague" fails)."""

    target_role: Text
    company_type: Text
    problem: Text
    by_segment: dict[str, SegmentProfile] = {}

    def for_segment(self, segment: str | None) -> IdealCustomer:
        """The profile to use for an account in ``segment`` (overrides applied)."""
        override = self.by_segment.get(segment or "")
        if override is None:
            return self
        changes = override.model_dump(exclude_none=True)
        return self.model_copy(update={**changes, "by_segment": {}})


def _property_name(value: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,99}", value):
        raise ValueError("must be a CRM property name: lowercase letters, digits and _")
    return value


PropertyName = Annotated[str, AfterValidator(_property_name)]


class StageMap(ProgramModel):
    """How CRM deals map to program stages.

    ``stages``: stage ids of the deal pipeline ``pipeline_id`` -> program stages (several ids
    may map to one stage). ``milestones``: steps after the sale that a sales pipeline has no
    stage for (onboarding, first payment), each read from a date property on the deal; a won
    deal whose property holds a date has reached that step on that date. Deals in other
    pipelines or unmapped stages are kept with no program stage.
    """

    # HubSpot stage and pipeline ids are often numeric: YAML reads them as numbers.
    model_config = ProgramModel.model_config | {"coerce_numbers_to_str": True}

    pipeline_id: Text = DEFAULT_PIPELINE_ID
    stages: dict[str, ProgramStage] = Field(default_factory=lambda: dict(DEFAULT_STAGE_MAP))
    milestones: dict[ProgramStage, PropertyName] = Field(
        default_factory=lambda: dict(DEFAULT_MILESTONES)
    )

    @model_validator(mode="after")
    def _terminal_stages_mapped(self) -> StageMap:
        mapped = set(self.stages.values())
        problems: list[Problem] = [
            ("stages", f"must map at least one CRM stage id to {stage}")
            for stage in (ProgramStage.CLOSED_WON, ProgramStage.CLOSED_LOST)
            if stage not in mapped
        ]
        problems += [
            (f"milestones.{stage}", "must be a step after the sale (closed lost is a stage)")
            for stage in self.milestones
            if stage is ProgramStage.CLOSED_LOST
        ]
        raise_problems(problems)
        return self

    def intro_stage_id(self) -> str:
        """Where a referral's new deal starts: the open stage the map puts earliest in the
        program's order (ties: the first one in the file)."""
        open_stages = [
            (rank(stage), position, stage_id)
            for position, (stage_id, stage) in enumerate(self.stages.items())
            if stage not in (ProgramStage.CLOSED_WON, ProgramStage.CLOSED_LOST)
        ]
        return min(open_stages)[2] if open_stages else next(iter(self.stages))


class EmailTemplate(ProgramModel):
    subject: Text
    body: Text


class Templates(ProgramModel):
    """Jinja2 sources; see ``domain.templates`` for the variables each one may use."""

    ask_script: Text = defaults.ASK_SCRIPT
    ask_email_subject: Text = defaults.ASK_EMAIL_SUBJECT
    ask_email_body: Text = defaults.ASK_EMAIL_BODY
    slack_digest_intro: Text = defaults.SLACK_DIGEST_INTRO
    referral_received: EmailTemplate = EmailTemplate(**defaults.REFERRAL_RECEIVED)
    intro_contacted: EmailTemplate = EmailTemplate(**defaults.INTRO_CONTACTED)
    intro_progressed: EmailTemplate = EmailTemplate(**defaults.INTRO_PROGRESSED)
    thanks_closed_lost: EmailTemplate = EmailTemplate(**defaults.THANKS_CLOSED_LOST)
    thanks_closed_won: EmailTemplate = EmailTemplate(**defaults.THANKS_CLOSED_WON)
    reward_released: EmailTemplate = EmailTemplate(**defaults.REWARD_RELEASED)
    reward_recognition: EmailTemplate = EmailTemplate(**defaults.REWARD_RECOGNITION)

    @model_validator(mode="after")
    def _templates_compile(self) -> Templates:
        problems: list[Problem] = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name in EMAIL_TEMPLATES:
                sources = [(f"{name}.subject", value.subject), (f"{name}.body", value.body)]
            else:
                sources = [(name, value)]
            for path, source in sources:
                problems.extend((path, msg) for msg in _template_problems(name, source))
        raise_problems(problems)
        return self


@lru_cache(maxsize=256)
def _template_problems(name: str, source: str) -> tuple[str, ...]:
    """Compiling is most of a program's load time, and reloads bring the same sources back."""
    try:
        return tuple(check_template(name, source))
    except RecursionError:  # thousands of nested brackets overflow Jinja's parser
        return ("is nested too deeply to compile",)


class Program(ProgramModel):
    """A referral program: every rule the flows apply, loaded once from ``program.yaml``."""

    version: Literal[1]
    name: Text
    company_name: Text  # your company as clients name it: the draft email says "we use ..."
    company_domains: LowercaseList = ()  # your own domains: their people are employees
    preset: PresetName = "custom"
    target_pipeline_share: float = Field(gt=0, le=1)
    currency: Annotated[str, AfterValidator(_currency)] = "USD"
    links: Links
    ideal_customer: IdealCustomer
    triggers: Triggers = Triggers()
    guards: Guards = Guards()
    scoring: Scoring = Scoring()
    asks: Asks = Asks()
    targets: Targets = Targets()
    referrer_types: tuple[ReferrerType, ...] = Field(min_length=1)
    stage_map: StageMap = StageMap()
    rewards: tuple[Reward, ...] = ()
    reward_policy: RewardPolicy = RewardPolicy()
    templates: Templates = Templates()

    @model_validator(mode="after")
    def _cross_references(self) -> Program:
        raise_problems(cross_reference_problems(self.model_dump(mode="json")))
        return self

    def stage_lookup(self) -> dict[str, ProgramStage]:
        """CRM stage id -> program stage, for ``domain.stages.map_stage``."""
        return dict(self.stage_map.stages)

    def referrer_type(self, key: str) -> ReferrerType:
        """The referrer type named ``key``; KeyError when the program has none."""
        for referrer_type in self.referrer_types:
            if referrer_type.key == key:
                return referrer_type
        raise KeyError(key)

    def rewards_for(self, referrer_type: str) -> tuple[Reward, ...]:
        """Reward rules that apply to referrals from ``referrer_type``, in file order."""
        return tuple(r for r in self.rewards if referrer_type in r.referrer_types)


def cross_reference_problems(data: Mapping[str, Any]) -> list[Problem]:
    """Rules that span sections, as ``(path, message)`` from the program root.

    Works on raw YAML data as well as on a dumped ``Program``: values of the wrong shape are
    skipped here because structural validation already reports them.
    """
    problems: list[Problem] = []
    type_keys = _unique_keys(data.get("referrer_types"), "referrer_types", problems)
    _unique_keys(data.get("rewards"), "rewards", problems)
    reachable = _mapped_stages(data.get("stage_map", {}))
    for i, reward in _mappings(data.get("rewards")):
        base = f"rewards[{i}]"
        if type_keys is not None:
            approval = reward.get("approval")
            refs = [("referrer_types", reward.get("referrer_types"))]
            if isinstance(approval, Mapping):
                refs.append(("approval.referrer_types", approval.get("referrer_types")))
            for path, names in refs:
                problems.extend(_unknown_types(f"{base}.{path}", names, type_keys))
        stages = [(f"{base}.qualifying_stage", reward.get("qualifying_stage"))]
        stages += [
            (f"{base}.parts[{k}].stage", p.get("stage")) for k, p in _mappings(reward.get("parts"))
        ]
        for path, stage in stages:
            if not isinstance(stage, str):  # a wrong type: structural validation names it
                continue
            if reachable is not None and stage in _OPEN_STAGES and not _reaches(reachable, stage):
                problems.append(
                    (path, f"no stage in stage_map.stages or stage_map.milestones reaches {stage}")
                )
    problems.extend(_detractor_problems(data))
    return problems


_OPEN_STAGES = frozenset(s.value for s in ProgramStage if s is not ProgramStage.CLOSED_LOST)


def _reaches(mapped: set[ProgramStage], stage: str) -> bool:
    return any(reached(s, ProgramStage(stage)) for s in mapped)


def _mappings(value: object) -> list[tuple[int, Mapping[str, Any]]]:
    if not isinstance(value, list | tuple):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, Mapping)]


def _unique_keys(items: object, section: str, problems: list[Problem]) -> set[str] | None:
    """The ``key`` values of a list section, reporting repeats; None when not a list."""
    if not isinstance(items, list | tuple):
        return None
    seen: dict[str, int] = {}
    for i, item in _mappings(items):
        key = item.get("key")
        if not isinstance(key, str):
            continue
        if key in seen:
            problems.append(
                (f"{section}[{i}].key", f"'{key}' is already used by {section}[{seen[key]}]")
            )
        seen.setdefault(key, i)
    return set(seen)


def _unknown_types(path: str, names: object, defined: set[str]) -> list[Problem]:
    if not isinstance(names, list | tuple):
        return []
    known = ", ".join(sorted(defined)) or "none"
    return [
        (f"{path}[{j}]", f"unknown referrer type '{name}' (defined: {known})")
        for j, name in enumerate(names)
        if isinstance(name, str) and name not in defined
    ]


def _mapped_stages(stage_map: object) -> set[ProgramStage] | None:
    """Program stages the CRM map can produce; None when the map is too broken to tell."""
    if not isinstance(stage_map, Mapping):
        return None
    stages = stage_map.get("stages", DEFAULT_STAGE_MAP)
    milestones = stage_map.get("milestones", DEFAULT_MILESTONES)
    if not isinstance(stages, Mapping):
        return None
    valid = {s.value for s in ProgramStage}
    mapped = {ProgramStage(v) for v in stages.values() if isinstance(v, str) and v in valid}
    if isinstance(milestones, Mapping):
        mapped |= {ProgramStage(k) for k in milestones if isinstance(k, str) and k in valid}
    return mapped


def _detractor_problems(data: Mapping[str, Any]) -> list[Problem]:
    """A score cannot be both a detractor's and a promoter's: the NPS bands must not overlap."""
    guards, triggers = data.get("guards", {}), data.get("triggers", {})
    nps = triggers.get("nps", {}) if isinstance(triggers, Mapping) else None
    if not isinstance(guards, Mapping) or not isinstance(nps, Mapping):
        return []
    detractor = guards.get("detractor_max_nps", Guards.model_fields["detractor_max_nps"].default)
    promoter = nps.get("min_score", NpsTrigger.model_fields["min_score"].default)
    if type(detractor) is int and type(promoter) is int and detractor >= promoter:
        return [("guards.detractor_max_nps", f"must be < triggers.nps.min_score ({promoter})")]
    return []
