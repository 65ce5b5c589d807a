"""Defaults of the program schema that are data rather than rules: word lists and templates.

Kept apart from the models so ``program_schema`` reads as the rules. The presets restate the
templates (tailored to their business model); these generic texts apply when a custom
``program.yaml`` leaves a template out.
"""

from __future__ import annotations

PERSONAL_EMAIL_DOMAINS: tuple[str, ...] = (
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "icloud.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "gmx.com",
    "live.com",
    "me.com",
    "mail.com",
    "yandex.com",
)
"""Free mailbox providers: a referral from one cannot be tied to a company domain."""

SENIORITY_KEYWORDS: dict[str, tuple[str, ...]] = {
    "c_level": (
        "ceo",
        "cfo",
        "coo",
        "cto",
        "cmo",
        "cro",
        "cio",
        "chief",
        "founder",
        "co-founder",
        "president",
        "owner",
        "managing partner",
        "managing director",
    ),
    "vp": ("vp", "svp", "evp", "vice president", "head of", "partner"),
    "director": ("director",),
    "manager": ("manager", "lead", "principal", "supervisor"),
    "individual": ("specialist", "analyst", "engineer", "associate", "coordinator", "consultant"),
}
"""Title keywords per seniority level; the longest matching keyword wins (see ``level_of``)."""

ASK_SCRIPT = """\
1. Remind the value delivered
{{ champion_first_name }}, before we plan the next quarter: {{ value_reminder }}
{% if nps_comment %}
You also told us: "{{ nps_comment }}"
{% endif %}

2. Ask specifically
Who do you know who is a {{ target_role }} at a {{ company_type }}, dealing with \
{{ problem }}? An intro from you would mean a lot.

3. Offer a ready-to-paste text
I can send you a three-line note to forward right now. It has your link {{ referral_link }}, \
so we can keep you posted on what happens.
"""

ASK_EMAIL_SUBJECT = "Quick intro?"

ASK_EMAIL_BODY = """\
Hi, {{ company_name }} helped us with {{ problem }}\
{% if results %} ({{ results }}){% endif %}; I think they could help you too.
Worth a 20-minute call? Pick a time here: {{ referral_link }}
{{ champion_first_name }}
"""

SLACK_DIGEST_INTRO = """\
Good morning {{ csm_first_name }}: {{ ask_count }} \
{{ "clients are" if ask_count != 1 else "client is" }} at a good moment to ask for an intro \
this week. Script, draft email and link are below.
"""

REFERRAL_RECEIVED: dict[str, str] = {
    "subject": "Thank you: we have your intro to {{ referred_company }}",
    "body": """\
Hi {{ referrer_first_name }},

Thank you for introducing {{ referred_company }}. We have it, and we will let you know when \
we have been in touch.

{{ csm_name }}
""",
}

INTRO_CONTACTED: dict[str, str] = {
    "subject": "We've reached out to {{ referred_company }}",
    "body": """\
Hi {{ referrer_first_name }},

Thank you for introducing {{ referred_company }}. We have contacted them today and will keep \
you posted.

{{ csm_name }}
""",
}

INTRO_PROGRESSED: dict[str, str] = {
    "subject": "An update on {{ referred_company }}",
    "body": """\
Hi {{ referrer_first_name }},

Good news: the conversation with {{ referred_company }} is moving forward \
(now at {{ stage | replace("_", " ") }}). Thanks again for the intro.

{{ csm_name }}
""",
}

THANKS_CLOSED_LOST: dict[str, str] = {
    "subject": "Thank you for the intro to {{ referred_company }}",
    "body": """\
Hi {{ referrer_first_name }},

{{ referred_company }} decided not to go ahead for now. Your intro still mattered: it opened \
a conversation we would never have had. Thank you.

{{ csm_name }}
""",
}

THANKS_CLOSED_WON: dict[str, str] = {
    "subject": "{{ referred_company }} is on board, thanks to you",
    "body": """\
Hi {{ referrer_first_name }},

{{ referred_company }} has signed with us, and it started with your intro. Thank you!
{% if reward_type %}Your {{ reward_type | replace("_", " ") }}{% if reward_amount %} of \
{{ reward_amount }}{% endif %} is on its way; we'll tell you when it is released.
{% endif %}

{{ csm_name }}
""",
}

REWARD_RELEASED: dict[str, str] = {
    "subject": "Your referral reward has been released",
    "body": """\
Hi {{ referrer_first_name }},

Your {{ reward_type | replace("_", " ") }}{% if reward_amount %} of {{ reward_amount }}{% endif %} \
for introducing {{ referred_company }} has been released. {{ reward_next_step }}

Thank you for being part of {{ program_name }}.

{{ csm_name }}
""",
}

REWARD_RECOGNITION: dict[str, str] = {
    "subject": "Thank you from {{ program_name }}",
    "body": """\
Hi {{ referrer_first_name }},

Your introduction of {{ referred_company }} made a real difference, and we want to say so:
thank you. {{ reward_next_step }}

{{ csm_name }}
""",
}
