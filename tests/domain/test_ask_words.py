"""Ask content, Slack digest blocks and referral codes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from domain.ask_content import AskFacts, render_ask
from domain.digest import MAX_BLOCKS, DigestAsk, digest_blocks
from domain.program import load_preset
from domain.referral_codes import ALPHABET, LENGTH, new_code, normalise_code

PROGRAM = load_preset("saas")


def facts(**kw) -> AskFacts:
    base = dict(
        account_name="Acme",
        segment="smb",
        champion_first_name="Ana",
        champion_name="Ana Lima",
        champion_title="CFO",
        csm_name="Casey Ng",
        trigger="first_roi",
        moment_on=date(2026, 3, 2),
        referral_link="https://refer.example.com/r/ABCD",
        referral_code="ABCD",
        results="cut month-end close from 9 to 4 days",
    )
    return AskFacts(**{**base, **kw})


def test_the_script_reminds_value_first_then_asks_specifically_with_the_link():
    content = render_ask(facts(), PROGRAM)
    reminder = content.script.index("cut month-end close from 9 to 4 days")
    ask = content.script.index(PROGRAM.ideal_customer.target_role)
    assert reminder < ask
    assert PROGRAM.ideal_customer.problem in content.script
    assert "https://refer.example.com/r/ABCD" in content.script


def test_the_draft_email_is_short_titled_quick_intro_and_carries_the_link():
    content = render_ask(
        facts(trigger="nps", nps_score=Decimal(10), nps_comment="Support is superb"), PROGRAM
    )
    assert content.subject == "Quick intro?"
    assert 2 <= len(content.body.splitlines()) <= 3
    assert "https://refer.example.com/r/ABCD" in content.body


def test_the_segment_profile_overrides_the_ask():
    enterprise = render_ask(facts(segment="enterprise"), PROGRAM)
    override = PROGRAM.ideal_customer.for_segment("enterprise").target_role
    assert override in enterprise.script


def test_template_input_is_not_code():
    content = render_ask(facts(account_name="{{ 7*7 }}", results="{% raw %}x"), PROGRAM)
    assert "49" not in content.script


def digest_ask(i: int) -> DigestAsk:
    return DigestAsk(
        ask_id=i,
        account_name=f"Client {i}",
        champion_name="Ana",
        champion_title=None,
        why_now="high NPS",
        score=i / 100,
        script="s" * 5000,
        draft_subject="Quick",
        draft_body="b",
        referral_link="https://x/r/1",
        due_on=date(2026, 3, 9),
    )


def test_digest_orders_by_priority_and_stays_within_slacks_limits():
    blocks = digest_blocks("Good morning", [digest_ask(i) for i in range(1, 21)])
    assert len(blocks) <= MAX_BLOCKS
    sections = [b for b in blocks if b["type"] == "section"]
    assert all(len(b["text"]["text"]) <= 3000 for b in sections)
    assert sections[1]["text"]["text"].startswith("*Client 20*")
    assert "more: `referrals asks list" in blocks[-1]["elements"][0]["text"]


def test_referral_codes_are_long_random_and_readable():
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(c) == LENGTH and set(c) <= set(ALPHABET) for c in codes)
    assert LENGTH * 5 >= 64
    code = next(iter(codes))
    assert normalise_code(code.lower()[:4] + "-" + code[4:]) == code
    assert normalise_code("not a code") is None


def test_each_score_is_shown_on_its_own_scale():
    nps = render_ask(facts(trigger="nps", nps_score=Decimal(9)), PROGRAM)
    csat = render_ask(facts(trigger="csat", nps_score=Decimal(5)), PROGRAM)
    assert "you rated us 9/10" in nps.script
    assert "you rated us 5/5" in csat.script and "/10" not in csat.script


def test_only_a_signed_renewal_is_thanked_for():
    upcoming = render_ask(facts(trigger="nps", nps_score=Decimal(10)), PROGRAM)
    signed = render_ask(facts(renewed_on=date(2026, 2, 14)), PROGRAM)
    assert "renewing" not in upcoming.script
    assert "thank you again for renewing on 14 February 2026" in signed.script


def test_the_draft_names_the_vendors_company_not_the_csm():
    content = render_ask(facts(), PROGRAM)
    assert f"we use {PROGRAM.company_name}" in content.body
    assert "Casey" not in content.body


def test_each_ask_has_its_buttons_keyed_by_the_ask():
    blocks = digest_blocks("Good morning", [digest_ask(7)])
    [actions] = [b for b in blocks if b["type"] == "actions"]
    assert actions["block_id"] == "ask:7"
    assert [(e["action_id"], e["value"]) for e in actions["elements"]] == [
        ("ask_asked", "7"),
        ("ask_intro", "7"),
        ("ask_snooze", "7"),
        ("ask_decline", "7"),
    ]
