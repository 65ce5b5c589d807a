"""program.yaml: presets parse, and every mistake is reported with its key path."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from pydantic import ValidationError

from domain.program import (
    PRESETS,
    Program,
    ProgramError,
    Rollout,
    SeniorityKeywords,
    check_program,
    load_preset,
    load_program,
    parse_program,
    preset_text,
)
from domain.program_schema import PresetName
from domain.signals import SignalKind
from domain.stages import DEFAULT_PIPELINE_ID, DEFAULT_STAGE_MAP, ProgramStage


def saas() -> dict[str, Any]:
    """The SaaS preset as plain data, to break one key at a time."""
    return yaml.safe_load(preset_text("saas"))


def errors_of(data: dict[str, Any]) -> list[str]:
    return check_program(yaml.safe_dump(data, sort_keys=False))


# --- presets -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PRESETS)
def test_each_preset_is_valid(name: str) -> None:
    assert check_program(preset_text(name)) == []
    program = load_preset(name)
    assert program.preset == name
    assert program.target_pipeline_share == pytest.approx(0.30)
    assert program.stage_map.pipeline_id == DEFAULT_PIPELINE_ID
    assert program.stage_lookup() == DEFAULT_STAGE_MAP
    assert program.templates.ask_email_subject == "Quick intro?"
    assert "referral_link" in program.templates.ask_email_body
    for referrer_type in program.referrer_types:
        assert program.rewards_for(referrer_type.key), referrer_type.key


def test_preset_names_match_the_schema() -> None:
    assert get_args(PresetName) == (*PRESETS, "custom")


def test_unknown_preset_lists_the_valid_names() -> None:
    with pytest.raises(ValueError, match="saas, consulting, financial, recruitment"):
        preset_text("retail")


def test_saas_preset_rewards_follow_the_seed() -> None:
    program = load_preset("saas")
    credit, commission = program.rewards
    assert (credit.type, credit.qualifying_stage, credit.delay_days) == (
        "account_credit",
        ProgramStage.FIRST_PAYMENT,
        30,
    )
    assert commission.type == "commission"
    assert commission.amount_for(Decimal("20000")) == Decimal("2000.00")
    assert commission.amount_for(Decimal("900000")) == Decimal("5000")  # the cap
    assert commission.amount_for(None) == Decimal(0)


def test_recruitment_preset_is_staged_at_placement_then_probation() -> None:
    (payout,) = load_preset("recruitment").rewards
    assert payout.staged
    schedule = [(p.stage, p.share, p.delay_days) for p in payout.schedule()]
    assert schedule == [
        (ProgramStage.CLOSED_WON, Decimal("0.5"), 0),
        (ProgramStage.FIRST_PAYMENT, Decimal("0.5"), 90),
    ]


def test_financial_preset_discloses_and_approves() -> None:
    program = load_preset("financial")
    regulated = program.referrer_type("client").eligibility.regulated
    assert regulated.mode == "allow_with_disclosure"
    assert "non-cash reward" in (regulated.disclosure or "")
    voucher = program.rewards_for("client")[0]
    assert voucher.delay_days == 60
    assert voucher.approval.required_for(voucher.amount_for(None), "client")


def test_unstaged_reward_schedule_is_one_full_part() -> None:
    (part,) = load_preset("consulting").rewards[0].schedule()
    assert (part.stage, part.share, part.delay_days) == (ProgramStage.FIRST_PAYMENT, 1, 14)


# --- error reporting -----------------------------------------------------------------------


def test_negative_delay_is_reported_by_path() -> None:
    data = saas()
    data["rewards"][0]["delay_days"] = -1
    assert errors_of(data) == ["rewards[0].delay_days: must be >= 0"]


def test_unknown_key_is_an_error() -> None:
    data = saas()
    data["triggers"]["nsp"] = {"enabled": True}
    assert errors_of(data) == ["triggers.nsp: unknown key"]


def test_missing_required_key() -> None:
    data = saas()
    del data["links"]["base_url"]
    del data["name"]
    assert errors_of(data) == ["name: is required", "links.base_url: is required"]


def test_bad_enum_and_literal_values_list_the_choices() -> None:
    data = saas()
    data["rewards"][0]["type"] = "bonus"
    data["stage_map"]["stages"]["closedwon"] = "won"
    assert errors_of(data) == [
        "stage_map.stages.closedwon: must be one of introduction, lead_captured, sales_accepted,"
        " discovery, opportunity, proposal, closed_won, onboarding, first_payment, closed_lost",
        "rewards[0].type: must be one of account_credit, cash, gift_card, commission,"
        " service_credit, donation, voucher, recognition",
    ]


def test_reward_naming_an_unknown_referrer_type() -> None:
    data = saas()
    data["rewards"][0]["referrer_types"] = ["client", "clinet"]
    data["rewards"][1]["approval"]["referrer_types"] = ["employee"]
    assert errors_of(data) == [
        "rewards[0].referrer_types[1]: unknown referrer type 'clinet' (defined: client, partner)",
        "rewards[1].approval.referrer_types[0]: unknown referrer type 'employee'"
        " (defined: client, partner)",
    ]


def test_staged_parts_must_sum_to_one_and_be_ordered() -> None:
    data = yaml.safe_load(preset_text("recruitment"))
    data["rewards"][0]["parts"] = [
        {"stage": "first_payment", "share": 0.5, "delay_days": 90},
        {"stage": "closed_won", "share": 0.4, "delay_days": 0},
    ]
    assert errors_of(data) == [
        "rewards[0].parts: shares must sum to 1 (they sum to 0.9)",
        "rewards[0].parts[1]: must come after parts[0] (by stage, then delay_days)",
    ]


def test_parts_shares_within_tolerance_are_accepted() -> None:
    data = yaml.safe_load(preset_text("recruitment"))
    data["rewards"][0]["parts"] = [
        {"stage": "closed_won", "share": 0.3333333333},
        {"stage": "closed_won", "share": 0.3333333333, "delay_days": 30},
        {"stage": "first_payment", "share": 0.3333333334, "delay_days": 90},
    ]
    assert errors_of(data) == []


def test_part_before_the_qualifying_stage_and_reward_level_delay() -> None:
    data = yaml.safe_load(preset_text("recruitment"))
    data["rewards"][0]["delay_days"] = 10
    data["rewards"][0]["parts"][0]["stage"] = "proposal"
    assert errors_of(data) == [
        "rewards[0].delay_days: must be 0 for a staged reward (set each part's)",
        "rewards[0].parts[0].stage: comes before qualifying_stage closed_won",
    ]


def test_template_with_an_unknown_variable() -> None:
    data = saas()
    data["templates"]["ask_email_subject"] = "Quick intro, {{ acount_name }}?"
    data["templates"]["intro_contacted"]["body"] = "{{ reward_amount }}"
    assert errors_of(data) == [
        "templates.ask_email_subject: uses unknown variable 'acount_name'",
        "templates.intro_contacted.body: uses unknown variable 'reward_amount'",
    ]


def test_template_syntax_error_names_the_line() -> None:
    data = saas()
    data["templates"]["ask_script"] = "Hello\n{% if nps_comment %}no end"
    (error,) = errors_of(data)
    assert error.startswith("templates.ask_script: line 2: ")


def test_value_rules_percent_needs_cap_fixed_needs_positive_amount() -> None:
    data = saas()
    data["rewards"][0]["value"] = {"kind": "fixed", "amount": 0}
    data["rewards"][1]["value"] = {"kind": "percent", "percent": 10}
    assert errors_of(data) == [
        "rewards[0].value.amount: must be > 0",
        "rewards[1].value.cap: is required",
    ]


def test_value_kind_must_be_known_and_recognition_has_no_value() -> None:
    data = saas()
    data["rewards"][0]["value"] = {"kind": "points", "amount": 5}
    data["rewards"][1]["type"] = "recognition"
    assert errors_of(data) == [
        "rewards[0].value.kind: must be one of fixed, percent",
        "rewards[1].value: must be left out for a recognition reward",
    ]


def test_duplicate_keys_in_lists_are_refused() -> None:
    data = saas()
    data["referrer_types"][1]["key"] = "client"
    data["rewards"][1]["key"] = data["rewards"][0]["key"]
    data["rewards"][1]["referrer_types"] = ["client"]
    assert errors_of(data) == [
        "referrer_types[1].key: 'client' is already used by referrer_types[0]",
        "rewards[1].key: 'client_account_credit' is already used by rewards[0]",
    ]


def test_stage_map_needs_won_and_lost_and_accepts_numeric_ids() -> None:
    data = saas()
    data["stage_map"] = {
        "pipeline_id": 1234,
        "stages": {11: "introduction", 12: "closed_won"},
        "milestones": {},
    }
    unreachable = "no stage in stage_map.stages or stage_map.milestones reaches first_payment"
    assert errors_of(data) == [
        "stage_map.stages: must map at least one CRM stage id to closed_lost",
        f"rewards[0].qualifying_stage: {unreachable}",
        f"rewards[1].qualifying_stage: {unreachable}",
    ]
    data["stage_map"]["stages"].update({13: "closed_lost", 14: "first_payment"})
    program = parse_program(yaml.safe_dump(data))
    assert program.stage_map.pipeline_id == "1234"
    assert program.stage_lookup()["14"] is ProgramStage.FIRST_PAYMENT


def test_scoring_and_rollout_rules() -> None:
    data = saas()
    data["scoring"]["weights"] = {k: 0 for k in data["scoring"]["weights"]}
    data["scoring"]["decline_penalty"] = 1.5
    data["guards"]["rollout"] = {"segments": "enterprise", "teams": [7]}
    assert errors_of(data) == [
        "guards.rollout.segments: must be a list",
        "guards.rollout.teams[0]: must be a string",
        "scoring.weights: must sum to > 0",
        "scoring.decline_penalty: must be <= 1",
    ]


def test_regulated_allow_with_disclosure_needs_a_disclosure() -> None:
    data = saas()
    data["referrer_types"][0]["eligibility"]["regulated"] = {
        "industries": ["banking"],
        "mode": "allow_with_disclosure",
    }
    assert errors_of(data) == [
        "referrer_types[0].eligibility.regulated.disclosure:"
        " is required when mode is allow_with_disclosure"
    ]


def test_nps_bands_must_not_overlap() -> None:
    data = saas()
    data["guards"]["detractor_max_nps"] = 9
    assert errors_of(data) == ["guards.detractor_max_nps: must be < triggers.nps.min_score (9)"]


def test_every_error_is_reported_in_one_pass() -> None:
    data = saas()
    data["version"] = 2
    data["currency"] = "dollars"
    data["asks"]["per_csm_per_week"] = 0
    data["triggers"]["nps"]["min_score"] = "high"
    data["referrer_types"][0]["eligibility"]["excluded_relationships"] = ["friend"]
    data["rewards"][0]["delay_days"] = -1
    data["rewards"][1]["referrer_types"] = ["reseller"]
    errors = errors_of(data)
    assert errors == [
        "version: must be one of 1",
        "currency: must be a 3-letter ISO 4217 code such as USD",
        "triggers.nps.min_score: must be an integer",
        "asks.per_csm_per_week: must be >= 1",
        "referrer_types[0].eligibility.excluded_relationships[0]:"
        " must be one of employee, vendor, agency",
        "rewards[0].delay_days: must be >= 0",
        "rewards[1].referrer_types[0]: unknown referrer type 'reseller' (defined: client, partner)",
    ]


# --- YAML level ----------------------------------------------------------------------------


def test_yaml_syntax_error_has_line_and_column() -> None:
    errors = check_program("version: 1\nname: [unclosed\nlinks: {}\n")
    assert len(errors) == 1
    assert errors[0].startswith("line 3, column ")


def test_duplicate_yaml_key_is_refused_with_its_path() -> None:
    text = preset_text("saas").replace(
        "  nps: { enabled: true, min_score: 9 }\n",
        "  nps: { enabled: true, min_score: 9 }\n  nps: { enabled: false }\n",
    )
    line = text.splitlines().index("  nps: { enabled: false }") + 1
    assert check_program(text) == [f"triggers.nps: duplicate key (line {line})"]


def test_top_level_must_be_a_mapping() -> None:
    assert check_program("- saas\n") == [
        "the program must be a mapping of keys (version, name, rewards, ...)"
    ]


def test_parse_program_raises_with_all_errors() -> None:
    with pytest.raises(ProgramError) as caught:
        parse_program("version: 1\nname: x\n")
    assert caught.value.errors == [
        "company_name: is required",
        "target_pipeline_share: is required",
        "links: is required",
        "ideal_customer: is required",
        "referrer_types: is required",
    ]
    assert "  - links: is required" in str(caught.value)


# --- files ---------------------------------------------------------------------------------


def test_load_program_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "program.yaml"
    path.write_text(preset_text("consulting"), encoding="utf-8")
    assert load_program(path).preset == "consulting"


def test_load_program_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ProgramError) as caught:
        load_program(path)
    assert caught.value.errors == [f"{path}: file not found"]


def test_load_program_names_the_file_on_errors(tmp_path: Path) -> None:
    path = tmp_path / "program.yaml"
    path.write_text("version: 1\n", encoding="utf-8")
    with pytest.raises(ProgramError, match=f"invalid program {path}") as caught:
        load_program(path)
    assert "name: is required" in caught.value.errors


# --- the model -----------------------------------------------------------------------------


def test_program_is_frozen() -> None:
    program = load_preset("saas")
    with pytest.raises(ValidationError):
        program.name = "changed"  # type: ignore[misc]


def test_defaults_fill_a_minimal_program() -> None:
    program = parse_program(
        """
version: 1
name: Minimal
company_name: Minimal Ltd
target_pipeline_share: 0.25
links: {base_url: "https://r.example.com/r"}
ideal_customer: {target_role: CFO, company_type: SaaS company, problem: slow close}
referrer_types: [{key: client, label: Clients}]
"""
    )
    assert isinstance(program, Program)
    assert program.currency == "USD"
    assert program.triggers.nps.min_score == 9
    assert program.triggers.csat.min_score == 5
    assert program.guards.detractor_max_nps == 6
    assert program.stage_lookup() == DEFAULT_STAGE_MAP
    assert program.stage_map.milestones[ProgramStage.FIRST_PAYMENT] == "first_payment_date"
    assert "gmail.com" in program.referrer_types[0].eligibility.personal_email_domains
    assert program.links.referral_link("abc") == "https://r.example.com/r/abc"
    assert SignalKind.ROI_MILESTONE in program.triggers.enabled_signal_kinds()


@pytest.mark.parametrize(
    ("title", "level"),
    [
        ("CEO", "c_level"),
        ("Co-Founder & CTO", "c_level"),
        ("Vice President, Sales", "vp"),
        ("Head of Finance", "vp"),
        ("Finance Director", "director"),
        ("Team Lead, Payments", "manager"),
        ("Senior Analyst", "individual"),
        ("Gardener", None),
        (None, None),
    ],
)
def test_seniority_level_of_title(title: str | None, level: str | None) -> None:
    assert SeniorityKeywords().level_of(title) == level


def test_rollout_empty_means_everyone() -> None:
    assert Rollout().includes("smb", None)
    pilot = Rollout(segments=("enterprise",), teams=("emea",))
    assert pilot.includes("enterprise", "emea")
    assert not pilot.includes("smb", "emea")
    assert not pilot.includes("enterprise", None)


def test_ideal_customer_segment_override() -> None:
    ideal = load_preset("saas").ideal_customer
    enterprise = ideal.for_segment("enterprise")
    assert enterprise.target_role == "Corporate Controller"
    assert enterprise.problem == ideal.problem
    assert ideal.for_segment("smb") is ideal
