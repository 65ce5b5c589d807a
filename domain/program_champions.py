"""Champion scoring and ask volume: whom to ask first, and how many asks a CSM gets.

Not every client has the same referral potential (seed: satisfaction, the sponsor's seniority
and network, external visibility, referral history); the weights below combine those into one
score, and the weekly cap keeps CSMs from being flooded.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cached_property, lru_cache

from pydantic import Field, model_validator

from domain import program_defaults as defaults
from domain.program_base import LowercaseList, Problem, ProgramModel, raise_problems


class ScoringWeights(ProgramModel):
    satisfaction: float = Field(0.35, ge=0)
    seniority: float = Field(0.20, ge=0)
    network: float = Field(0.15, ge=0)
    history: float = Field(0.15, ge=0)
    health: float = Field(0.15, ge=0)

    @model_validator(mode="after")
    def _some_weight(self) -> ScoringWeights:
        if sum(self.model_dump().values()) <= 0:
            raise_problems([("", "must sum to > 0")])
        return self


SENIORITY_LEVELS: tuple[str, ...] = tuple(defaults.SENIORITY_KEYWORDS)


@lru_cache(maxsize=32)
def _seniority_matcher(pairs: tuple[tuple[str, str], ...]) -> Callable[[str], str | None]:
    """One compiled pattern for every keyword, built once per keyword list (a sync maps
    every contact's title). The longest keyword found anywhere wins; among equally long
    ones, the first listed. The lookahead finds overlapping matches, so a short keyword
    never hides a longer one that starts inside it."""
    if not pairs:
        return lambda _text: None
    order = {keyword: i for i, (keyword, _) in reversed(list(enumerate(pairs)))}
    level_of = {keyword: level for keyword, level in reversed(pairs)}
    alternatives = sorted(order, key=lambda k: (-len(k), order[k]))
    pattern = re.compile(
        r"(?=(?<![\w-])(" + "|".join(map(re.escape, alternatives)) + r")(?![\w-]))"
    )

    @lru_cache(maxsize=8192)  # titles repeat: "Account Manager" thousands of times
    def match(text: str) -> str | None:
        found = [m.group(1) for m in pattern.finditer(text)]
        if not found:
            return None
        return level_of[min(found, key=lambda k: (-len(k), order[k]))]

    return match


class SeniorityKeywords(ProgramModel):
    """Title keywords per level, matched as whole words; the longest match wins."""

    c_level: LowercaseList = defaults.SENIORITY_KEYWORDS["c_level"]
    vp: LowercaseList = defaults.SENIORITY_KEYWORDS["vp"]
    director: LowercaseList = defaults.SENIORITY_KEYWORDS["director"]
    manager: LowercaseList = defaults.SENIORITY_KEYWORDS["manager"]
    individual: LowercaseList = defaults.SENIORITY_KEYWORDS["individual"]

    def level_of(self, title: str | None) -> str | None:
        """The seniority level of a job title ("Vice President, Sales" -> vp), or None."""
        return self._matcher((title or "").lower())

    @cached_property
    def _matcher(self) -> Callable[[str], str | None]:
        # Built once per loaded program: a sync asks for every contact's title.
        pairs = tuple((kw, level) for level in SENIORITY_LEVELS for kw in getattr(self, level))
        return _seniority_matcher(pairs)

    @model_validator(mode="after")
    def _one_level_per_keyword(self) -> SeniorityKeywords:
        seen: dict[str, str] = {}
        problems: list[Problem] = []
        for level in SENIORITY_LEVELS:
            for i, keyword in enumerate(getattr(self, level)):
                if keyword in seen and seen[keyword] != level:
                    problems.append((f"{level}[{i}]", f"'{keyword}' is also under {seen[keyword]}"))
                seen.setdefault(keyword, level)
        raise_problems(problems)
        return self


class Scoring(ProgramModel):
    """How champions are prioritised; candidates below ``min_score`` are not asked."""

    weights: ScoringWeights = ScoringWeights()
    decline_penalty: float = Field(0.5, ge=0, le=1)
    min_score: float = Field(0.3, ge=0, le=1)
    seniority_keywords: SeniorityKeywords = SeniorityKeywords()


class Asks(ProgramModel):
    """Ask volume and lifetime, so no CSM is flooded and stale asks disappear."""

    per_csm_per_week: int = Field(5, ge=1)
    due_days: int = Field(7, ge=1)
    resurface_once: bool = True
    expire_after_days: int = Field(21, ge=1)

    @model_validator(mode="after")
    def _expires_after_due(self) -> Asks:
        if self.expire_after_days < self.due_days:
            raise_problems([("expire_after_days", "must be >= due_days")])
        return self


class RoleTarget(ProgramModel):
    """What one team member of a role aims for; None: no target."""

    asks_per_month: int | None = Field(None, ge=1)
    intros_per_quarter: int | None = Field(None, ge=1)


class Targets(ProgramModel):
    """Referral targets per CSM and per rep; the report shows each person's progress."""

    csm: RoleTarget = RoleTarget()
    rep: RoleTarget = RoleTarget()
