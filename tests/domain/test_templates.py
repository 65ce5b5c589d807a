"""Program templates: allowed variables, load-time checks, sandboxed strict rendering."""

from __future__ import annotations

import pytest
from jinja2 import TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError

from domain.program import PRESETS, Templates, load_preset
from domain.templates import (
    ALLOWED_VARIABLES,
    EMAIL_TEMPLATES,
    check_template,
    render,
    undeclared_variables,
)


def test_every_template_field_has_an_allowed_set() -> None:
    assert set(Templates.model_fields) == set(ALLOWED_VARIABLES)
    assert set(EMAIL_TEMPLATES) <= set(ALLOWED_VARIABLES)


def test_undeclared_variables_ignores_loop_and_set_names() -> None:
    source = "{% set n = 2 %}{% for x in items %}{{ x }}{{ n }}{% endfor %}{{ account_name }}"
    assert undeclared_variables(source) == {"items", "account_name"}


def test_undeclared_variables_raises_on_bad_syntax() -> None:
    with pytest.raises(TemplateSyntaxError):
        undeclared_variables("{{ oops")


def test_check_template_accepts_allowed_variables() -> None:
    assert (
        check_template("ask_email_body", "Hi {{ champion_first_name }}, {{ referral_link }}") == []
    )


def test_check_template_names_unknown_variables_sorted() -> None:
    assert check_template("ask_script", "{{ zeta }} {{ acount_name }} {{ account_name }}") == [
        "uses unknown variable 'acount_name'",
        "uses unknown variable 'zeta'",
    ]


def test_reward_variables_only_in_reward_emails() -> None:
    assert check_template("thanks_closed_won", "{{ reward_amount }}") == []
    assert check_template("intro_contacted", "{{ reward_amount }}") == [
        "uses unknown variable 'reward_amount'"
    ]


def test_check_template_syntax_error_has_line() -> None:
    (message,) = check_template("ask_script", "one\ntwo {{ account_name }\n")
    assert message.startswith("line 2: ")


def test_check_template_unknown_filter_is_a_compile_error() -> None:
    (message,) = check_template("ask_script", "{{ account_name | shout }}")
    assert message == "line 1: No filter named 'shout'."


def test_check_template_unknown_template_name() -> None:
    assert check_template("welcome", "hi") == ["unknown template 'welcome'"]


def test_render_is_strict_about_undefined_variables() -> None:
    with pytest.raises(UndefinedError):
        render("Hi {{ champion_first_name }}", {})
    with pytest.raises(UndefinedError):
        render("{% if nps_comment %}x{% endif %}", {})
    assert render("{% if nps_comment %}x{% endif %}", {"nps_comment": None}) == ""


def test_render_escapes_only_in_html_mode() -> None:
    variables = {"referred_company": "Smith & <Co>"}
    assert render("{{ referred_company }}", variables) == "Smith & <Co>"
    assert render("{{ referred_company }}", variables, html=True) == "Smith &amp; &lt;Co&gt;"


def test_render_runs_in_a_sandbox() -> None:
    with pytest.raises(SecurityError):
        render("{{ account_name.__class__.__mro__ }}", {"account_name": "x"})


@pytest.mark.parametrize("preset", [None, *PRESETS])
def test_shipped_templates_render_with_their_variables(preset: str | None) -> None:
    """Defaults and presets render given exactly their allowed variables (as the flows do)."""
    templates = Templates() if preset is None else load_preset(preset).templates
    for name, allowed in ALLOWED_VARIABLES.items():
        variables: dict[str, object] = {var: f"<{var}>" for var in allowed}
        if "ask_count" in variables:
            variables["ask_count"] = 2
        value = getattr(templates, name)
        sources = [value.subject, value.body] if name in EMAIL_TEMPLATES else [value]
        for source in sources:
            assert render(source, variables).strip(), name
    ask_vars = {v: f"<{v}>" for v in ALLOWED_VARIABLES["ask_email_body"]}
    ask = render(templates.ask_email_body, ask_vars).strip()
    assert 2 <= len(ask.splitlines()) <= 3  # the seed: "2-3 lines maximum"
    assert "<referral_link>" in ask


def test_digest_intro_agrees_in_number() -> None:
    variables = {"csm_first_name": "Sam", "ask_count": 1, "csm_name": "", "program_name": ""}
    assert "1 client is at a good moment" in render(Templates().slack_digest_intro, variables)
