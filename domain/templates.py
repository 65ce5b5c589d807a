"""Jinja2 templates of the program: which variables each may use, checking, rendering.

Templates are written by RevOps in ``program.yaml``, so they are checked when the program
loads (a typo such as ``{{ acount_name }}`` is a load error naming the template, not a
failed Slack digest at 09:00) and rendered in a sandbox with ``StrictUndefined``.

The renderer of each template passes *every* variable of its allowed set (``None`` or ``""``
when unknown, e.g. no NPS comment), so a template can test ``{% if nps_comment %}`` safely and
an undefined name can only come from a template that skipped the load-time check.

Variables per template:

- ``ask_script``, ``ask_email_subject``, ``ask_email_body`` (the CSM's call script and the
  draft the champion forwards): ``ASK_VARIABLES`` -- the account and champion, the CSM, the
  value delivered (``value_reminder`` is one ready sentence; ``results``, ``nps_score``,
  ``nps_comment``, ``renewal_date`` (the day the client signed its latest renewal, empty
  when none was signed: an upcoming renewal is not a result) are its parts), the specific ask
  (``target_role``, ``company_type``, ``problem`` from ``ideal_customer``), the champion's
  ``referral_link`` and ``referral_code``, the ``moment`` that triggered the ask,
  ``program_name``, and ``company_name`` (your company, as the client names it in the draft
  email).
- ``slack_digest_intro`` (first line of a CSM's digest): ``csm_name``, ``csm_first_name``,
  ``ask_count``, ``program_name``.
- referrer emails ``referral_received`` (the acknowledgement), ``intro_contacted``,
  ``intro_progressed``, ``thanks_closed_lost``
  (subject and body): ``REFERRER_VARIABLES`` -- the referrer, the referred company, its
  current program ``stage``, the CSM, the referrer's own link and ``program_name``.
- ``thanks_closed_won``, ``reward_released`` and ``reward_recognition`` (the thank-you for a
  non-monetary reward): the referrer variables plus ``reward_type``, ``reward_amount``
  (formatted with currency; empty for recognition) and ``reward_next_step`` (one sentence on
  what happens next: finance pays it, a credit on the next invoice, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

ASK_VARIABLES: frozenset[str] = frozenset(
    {
        "account_name",
        "champion_first_name",
        "champion_name",
        "champion_title",
        "csm_name",
        "csm_first_name",
        "value_reminder",
        "results",
        "nps_score",
        "nps_comment",
        "renewal_date",
        "target_role",
        "company_type",
        "problem",
        "referral_link",
        "referral_code",
        "moment",
        "program_name",
        "company_name",
    }
)
SLACK_DIGEST_VARIABLES: frozenset[str] = frozenset(
    {"csm_name", "csm_first_name", "ask_count", "program_name"}
)
REFERRER_VARIABLES: frozenset[str] = frozenset(
    {
        "referrer_first_name",
        "referrer_name",
        "referred_company",
        "stage",
        "csm_name",
        "referral_link",
        "program_name",
    }
)
REWARD_VARIABLES: frozenset[str] = REFERRER_VARIABLES | {
    "reward_type",
    "reward_amount",
    "reward_next_step",
}

EMAIL_TEMPLATES: tuple[str, ...] = (
    "referral_received",
    "intro_contacted",
    "intro_progressed",
    "thanks_closed_lost",
    "thanks_closed_won",
    "reward_released",
    "reward_recognition",
)
"""Referrer emails: each is a ``{subject, body}`` pair sharing one variable set."""

ALLOWED_VARIABLES: dict[str, frozenset[str]] = {
    "ask_script": ASK_VARIABLES,
    "ask_email_subject": ASK_VARIABLES,
    "ask_email_body": ASK_VARIABLES,
    "slack_digest_intro": SLACK_DIGEST_VARIABLES,
    "referral_received": REFERRER_VARIABLES,
    "intro_contacted": REFERRER_VARIABLES,
    "intro_progressed": REFERRER_VARIABLES,
    "thanks_closed_lost": REFERRER_VARIABLES,
    "thanks_closed_won": REWARD_VARIABLES,
    "reward_released": REWARD_VARIABLES,
    "reward_recognition": REWARD_VARIABLES,
}

_ENV_OPTIONS = {"undefined": StrictUndefined, "trim_blocks": True, "lstrip_blocks": True}
_TEXT_ENV = SandboxedEnvironment(autoescape=False, **_ENV_OPTIONS)
_HTML_ENV = SandboxedEnvironment(autoescape=True, **_ENV_OPTIONS)


def undeclared_variables(source: str) -> set[str]:
    """Names the template reads from its context (loop and ``set`` variables excluded).

    Raises ``jinja2.TemplateSyntaxError`` when the source does not parse.
    """
    return set(meta.find_undeclared_variables(_TEXT_ENV.parse(source)))


def check_template(name: str, source: str) -> list[str]:
    """Problems with one template: syntax, compile errors, variables outside its allowed set.

    Messages carry no key path (the program loader prefixes it), e.g.
    ``uses unknown variable 'acount_name'`` or ``line 2: unexpected '}'``.
    """
    allowed = ALLOWED_VARIABLES.get(name)
    if allowed is None:
        return [f"unknown template '{name}'"]
    try:
        _TEXT_ENV.from_string(source)  # compiles too: catches unknown filters and tests
        used = undeclared_variables(source)
    except TemplateSyntaxError as exc:
        return [f"line {exc.lineno}: {exc.message}"]
    return [f"uses unknown variable '{var}'" for var in sorted(used - allowed)]


@lru_cache(maxsize=256)
def _compiled(source: str, html: bool) -> Template:
    """Digests render the same few templates hundreds of times: compile each once."""
    return (_HTML_ENV if html else _TEXT_ENV).from_string(source)


def render(source: str, variables: Mapping[str, object], *, html: bool = False) -> str:
    """Render a program template in the sandbox.

    Autoescaping is on only for ``html=True`` (email HTML parts); plain-text emails, Slack
    and CRM task bodies must not show ``&amp;``. Undefined variables raise
    ``jinja2.UndefinedError`` instead of rendering blanks; sandbox violations raise
    ``jinja2.exceptions.SecurityError``.
    """
    return _compiled(source, html).render(dict(variables))
