"""Normalising untrusted text from CRMs, files and forms. Pure."""

from __future__ import annotations

import re
import unicodedata

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


# Tab, CR and LF become spaces (then collapse); every other ASCII control is dropped.
_ASCII_CONTROLS = {c: None for c in (*range(32), 127)} | {9: " ", 10: " ", 13: " "}


def clean_text(value: object, max_length: int = 300) -> str:
    """NFC-normalised text without control or zero-width characters, trimmed and capped.

    PostgreSQL refuses NUL bytes outright, and invisible characters make two names that look
    the same compare different; both come in from CRMs more often than one would think.
    """
    if value is None:
        return ""
    text = str(value)
    if text.isascii():  # most CRM text: NFC is the identity, only C0 controls and DEL to drop
        if not text.isprintable():
            text = text.translate(_ASCII_CONTROLS)
        return " ".join(text.split())[:max_length]
    text = unicodedata.normalize("NFC", text)
    text = "".join(
        " " if ch in "\t\r\n" else ch
        for ch in text
        if unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Co", "Cn"} or ch in "\t\r\n"
    )
    return " ".join(text.split())[:max_length]


def normalise_email(value: object) -> str | None:
    """Lower-cased address, or None when it is not an email address."""
    text = clean_text(value, 320).lower()
    return text if EMAIL_RE.match(text) else None


def normalise_domain(value: object) -> str | None:
    """``https://www.Acme.com/about`` -> ``acme.com``; None when no valid domain remains."""
    text = clean_text(value, 300).lower()
    if not text:
        return None
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text)
    text = text.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].split(":", 1)[0]
    text = text.split("@")[-1].strip(".")
    if text.startswith("www."):
        text = text[4:]
    try:
        text = text.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    return text if _DOMAIN_RE.match(text) else None
