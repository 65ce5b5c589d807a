"""Company domains as the referral rules compare them. Pure: no network, no clock.

A company is known by its *registrable* domain (the part a company buys: ``acme.co.uk`` for
``eu.app.acme.co.uk``), so two referrals of ``acme.io`` and ``www.Acme.io`` or
``eu.acme.io`` name the same company. Duplicate detection and self-referral compare these.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from publicsuffixlist import PublicSuffixList

from domain.text import clean_text, normalise_domain, normalise_email

# The list bundled with the package (no download); building it costs ~0.1 s, so once.
# Private suffixes count (``github.io``, ``blogspot.com``): ``a.github.io`` and ``b.github.io``
# belong to different owners and must not be taken for one company.
_SUFFIXES = PublicSuffixList()


def company_domain(value: object) -> str | None:
    """The domain in an email address, a URL or a bare domain, or None when there is none.

    Lower case, ``www.`` stripped, internationalised names in their ASCII (IDNA) form:
    ``Jane@Acme.io``, ``https://www.acme.io/about`` and ``ACME.io`` all give ``acme.io``.
    """
    if type(value) is str:
        return _company_domain_of(value)
    return _company_domain(value)


# A referral batch asks for the same few domains again and again (the referrer's, the free
# mailboxes, the company's), a dozen times per referral.
@lru_cache(maxsize=16384)
def _company_domain_of(value: str) -> str | None:
    return _company_domain(value)


def _company_domain(value: object) -> str | None:
    text = clean_text(value, 400)
    if text[:7].lower() == "mailto:":
        text = text[7:]
    email = normalise_email(text)
    return normalise_domain(email.rsplit("@", 1)[1] if email else text)


@lru_cache(maxsize=4096)
def _registrable(domain: str) -> str | None:
    return _SUFFIXES.privatesuffix(domain)


def registrable_domain(value: object) -> str | None:
    """``eu.app.acme.co.uk`` -> ``acme.co.uk``, ``www.Acme.io`` -> ``acme.io``.

    Takes whatever ``company_domain`` takes (an email gives its domain's). None when no
    domain is found, or the domain is itself a public suffix (``co.uk``): nobody owns those.
    """
    domain = company_domain(value)
    return _registrable(domain) if domain else None


def registrable_set(values: Iterable[str]) -> frozenset[str]:
    """The registrable domains of a list from the program file; invalid entries drop out
    (an entry that is no domain cannot match one)."""
    return frozenset(d for d in map(registrable_domain, values) if d)
