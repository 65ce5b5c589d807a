"""Referral codes: unguessable, and easy to read aloud or type from a QR code's caption.

Crockford's base32 alphabet (no I, L, O, U) and 13 characters: 65 bits from `secrets`.
"""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 13  # 13 * 5 = 65 bits


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise_code(text: str) -> str | None:
    """A code as typed by a person (lower case, dashes, O for 0...), or None if not a code."""
    cleaned = text.strip().upper().replace("-", "").replace(" ", "")
    cleaned = cleaned.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))
    return cleaned if len(cleaned) == LENGTH and all(c in ALPHABET for c in cleaned) else None
