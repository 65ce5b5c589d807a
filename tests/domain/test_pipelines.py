"""The stage map against the CRM's pipelines: proposals from a live pipeline, and checks."""

from __future__ import annotations

import yaml

from domain.pipelines import (
    CrmPipeline,
    CrmStage,
    check_stage_map,
    guess_stages,
    replace_stage_map,
    stage_map_yaml,
)
from domain.program import parse_program, preset_text
from domain.stages import (
    DEFAULT_MILESTONES,
    DEFAULT_STAGE_MAP,
    HUBSPOT_DEFAULT_STAGES,
    ProgramStage,
)

DEFAULT = CrmPipeline(
    "default",
    "Sales Pipeline",
    0,
    tuple(
        CrmStage(s, s.title(), i, closed=s in ("closedwon", "closedlost"), won=s == "closedwon")
        for i, s in enumerate(HUBSPOT_DEFAULT_STAGES)
    ),
)
CUSTOM = CrmPipeline(
    "55",
    "Enterprise",
    1,
    (
        CrmStage("1", "New lead", 0),
        CrmStage("2", "Discovery call", 1),
        CrmStage("3", "Technical review", 2),
        CrmStage("4", "Security review", 3),
        CrmStage("5", "Negotiation", 4),
        CrmStage("6", "Signed", 5, closed=True, won=True),
        CrmStage("7", "Gone quiet", 6, closed=True),
    ),
)


def test_hubspots_default_pipeline_is_proposed_as_the_presets_map_it():
    guesses = guess_stages(DEFAULT)
    assert {g.stage.id: g.program_stage for g in guesses} == DEFAULT_STAGE_MAP
    assert [g.sure for g in guesses] == [False] * 5 + [True, True]


def test_a_custom_pipeline_is_proposed_from_flags_labels_and_order():
    by_label = {g.stage.label: (g.program_stage, g.why) for g in guess_stages(CUSTOM)}
    assert by_label["Signed"] == (ProgramStage.CLOSED_WON, "closed won in the CRM")
    assert by_label["Gone quiet"] == (ProgramStage.CLOSED_LOST, "closed lost in the CRM")
    assert by_label["New lead"][0] is ProgramStage.LEAD_CAPTURED
    assert by_label["Negotiation"][0] is ProgramStage.PROPOSAL
    assert by_label["Security review"] == (
        ProgramStage.OPPORTUNITY,
        "from its place in the pipeline",
    )


def test_the_proposed_section_replaces_the_presets_and_still_loads():
    text = replace_stage_map(preset_text("saas"), stage_map_yaml(CUSTOM, DEFAULT_MILESTONES))
    program = parse_program(text)
    assert program.stage_map.pipeline_id == "55"
    assert program.stage_map.stages["6"] is ProgramStage.CLOSED_WON
    assert program.stage_map.milestones == DEFAULT_MILESTONES
    assert text.count("stage_map:") == 1 and "# review: from its label 'Negotiation'" in text
    rest = yaml.safe_load(preset_text("saas"))
    assert yaml.safe_load(text)["rewards"] == rest["rewards"]  # the rest of the file is kept


def test_a_check_names_what_the_crm_lacks_and_how_to_map_what_the_map_lacks():
    partial = {"1": ProgramStage.LEAD_CAPTURED, "99": ProgramStage.PROPOSAL}
    check = check_stage_map("55", partial, [DEFAULT, CUSTOM])
    assert check.problems == [
        "stage_map.stages.99: pipeline '55' has no such stage (its stages: 1, 2, 3, 4, 5, 6, 7); "
        "remove it, or run `referrals init --from-crm`"
    ]
    assert len(check.unmapped) == 6
    assert "add `6: closed_won` under stage_map.stages" in check.unmapped[4]
    assert check_stage_map("default", DEFAULT_STAGE_MAP, [DEFAULT, CUSTOM]).unmapped == []
