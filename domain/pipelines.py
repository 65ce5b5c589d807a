"""The CRM's deal pipelines and how the program's stage map fits them. Pure.

``referrals crm setup`` checks a stage map against the live pipelines (what is wrong, what is
not mapped and how to map it); ``referrals init --from-crm`` proposes a stage map from a
pipeline: closed won and lost from the CRM's own flags, HubSpot's default stages as the
presets map them, the rest from their labels or their place in the pipeline, each guess marked
for review.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from domain.stages import DEFAULT_STAGE_MAP, ProgramStage


@dataclass(frozen=True)
class CrmStage:
    id: str
    label: str
    display_order: int
    closed: bool = False
    won: bool = False


@dataclass(frozen=True)
class CrmPipeline:
    """A deal pipeline and its stages in display order, with the CRM's won/lost flags."""

    id: str
    label: str
    display_order: int
    stages: tuple[CrmStage, ...]


@dataclass(frozen=True)
class StageGuess:
    stage: CrmStage
    program_stage: ProgramStage
    why: str
    sure: bool  # from the CRM's own flags: nothing to review


# Label words -> program stage, most specific first.
LABEL_WORDS: tuple[tuple[str, ProgramStage], ...] = (
    (r"referr|intro", ProgramStage.INTRODUCTION),
    (r"\blead|new\b|inbound", ProgramStage.LEAD_CAPTURED),
    (r"accept|appointment|meeting booked|\bsal\b|\bsql\b", ProgramStage.SALES_ACCEPTED),
    (r"discover|qualif|demo|meeting", ProgramStage.DISCOVERY),
    (r"present|decision|evaluat|opportun|solution|trial|pilot", ProgramStage.OPPORTUNITY),
    (r"propos|contract|quote|negotiat|legal|signature|commit", ProgramStage.PROPOSAL),
    (r"onboard|kick.?off|implement", ProgramStage.ONBOARDING),
    (r"paid|payment|invoice|funded|live", ProgramStage.FIRST_PAYMENT),
)
# Open stages matched by nothing are spread over these by their place in the pipeline.
BY_ORDER: tuple[ProgramStage, ...] = (
    ProgramStage.SALES_ACCEPTED,
    ProgramStage.DISCOVERY,
    ProgramStage.OPPORTUNITY,
    ProgramStage.PROPOSAL,
)


def guess_stages(
    pipeline: CrmPipeline, known: Mapping[str, ProgramStage] = DEFAULT_STAGE_MAP
) -> list[StageGuess]:
    """A program stage for every stage of ``pipeline``, in its order."""
    open_stages = [s for s in pipeline.stages if not s.closed]
    guesses = []
    for stage in pipeline.stages:
        if stage.closed:
            won = ProgramStage.CLOSED_WON if stage.won else ProgramStage.CLOSED_LOST
            what = "won" if stage.won else "lost"
            guesses.append(StageGuess(stage, won, f"closed {what} in the CRM", True))
        elif stage.id in known:
            guesses.append(StageGuess(stage, known[stage.id], "HubSpot's default stage", False))
        elif (by_label := _from_label(stage.label)) is not None:
            guesses.append(StageGuess(stage, by_label, f"from its label {stage.label!r}", False))
        else:
            position = open_stages.index(stage) / max(len(open_stages) - 1, 1)
            by_order = BY_ORDER[round(position * (len(BY_ORDER) - 1))]
            guesses.append(StageGuess(stage, by_order, "from its place in the pipeline", False))
    return guesses


def _from_label(label: str) -> ProgramStage | None:
    text = label.lower()
    for pattern, stage in LABEL_WORDS:
        if re.search(pattern, text):
            return stage
    return None


def stage_map_yaml(pipeline: CrmPipeline, milestones: Mapping[ProgramStage, str]) -> str:
    """The ``stage_map:`` section of a program file, proposed from ``pipeline``."""
    lines = [
        "stage_map:",
        f"  # Proposed from the CRM's pipeline {pipeline.label!r}: review every line marked",
        "  # 'review', then run `referrals config check` and `referrals crm setup`.",
        f"  pipeline_id: {_yaml_key(pipeline.id)}",
        "  stages:",
    ]
    for guess in guess_stages(pipeline):
        note = guess.why if guess.sure else f"review: {guess.why}"
        lines.append(f"    {_yaml_key(guess.stage.id)}: {guess.program_stage}  # {note}")
    if milestones:
        lines += [
            "  # Steps after the sale: a date property on the deal (created by",
            "  # `referrals crm setup`) says when the deal reached them.",
            "  milestones:",
            *(f"    {stage}: {name}" for stage, name in milestones.items()),
        ]
    return "\n".join(lines) + "\n"


def _yaml_key(value: str) -> str:
    return value if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+", value) else json.dumps(value)


def replace_stage_map(program_text: str, section: str) -> str:
    """``program_text`` with its top-level ``stage_map:`` section replaced by ``section``
    (added at the end when there is none). Comments elsewhere are kept."""
    lines = program_text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith("stage_map:")), None)
    if start is None:
        return program_text.rstrip("\n") + "\n\n" + section
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " #"):
        end += 1
    # Comments just above the next key belong to it.
    while end > start + 1 and lines[end - 1].lstrip().startswith("#"):
        end -= 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    return "".join(lines[:start]) + section + "".join(lines[end:])


@dataclass(frozen=True)
class StageMapCheck:
    problems: list[str]  # the map names what the CRM does not have: fix before syncing
    unmapped: list[str]  # CRM stages the map leaves out (their deals are kept, unmapped)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_stage_map(
    pipeline_id: str, stages: Mapping[str, ProgramStage], pipelines: Sequence[CrmPipeline]
) -> StageMapCheck:
    by_id = {p.id: p for p in pipelines}
    pipeline = by_id.get(pipeline_id)
    if pipeline is None:
        known = ", ".join(f"{p.id} ({p.label})" for p in pipelines) or "none"
        return StageMapCheck(
            [
                f"stage_map.pipeline_id: deal pipeline {pipeline_id!r} is not in the CRM "
                f"(its pipelines: {known}); set one of them, or run `referrals init --from-crm`"
            ],
            [],
        )
    stage_ids = {s.id for s in pipeline.stages}
    problems = [
        f"stage_map.stages.{stage_id}: pipeline {pipeline.id!r} has no such stage (its stages: "
        f"{', '.join(s.id for s in pipeline.stages)}); remove it, or run "
        "`referrals init --from-crm`"
        for stage_id in stages
        if stage_id not in stage_ids
    ]
    unmapped = [
        f"stage {guess.stage.id!r} ({guess.stage.label}) of pipeline {pipeline.id!r} is not in "
        f"stage_map.stages: its deals are kept with no program stage; to map it, add "
        f"`{_yaml_key(guess.stage.id)}: {guess.program_stage}` under stage_map.stages"
        for guess in guess_stages(pipeline)
        if guess.stage.id not in stages
    ]
    return StageMapCheck(problems, unmapped)
