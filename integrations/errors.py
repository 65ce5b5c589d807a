"""How adapters tell callers whether trying again can help."""

from __future__ import annotations


class DeliveryError(Exception):
    """A vendor call failed. ``str(self)`` keeps the vendor's own message."""


class TransientError(DeliveryError):
    """Worth retrying later: 429 (with the vendor's ``Retry-After``), 5xx, timeouts."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(DeliveryError):
    """Retrying cannot help: bad request, bad auth, unknown channel or user."""


class ConfigurationError(Exception):
    """Settings select something this installation cannot provide."""
