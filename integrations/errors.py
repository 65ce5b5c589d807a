"""How adapters tell callers whether trying again can help."""

from __future__ import annotations


class DeliveryError(Exception):
    """A vendor call failed. ``str(self)`` keeps the vendor's own message."""


class TransientError(DeliveryError):
    """Worth retrying later: 429 (with the vendor's ``Retry-After``), 5xx, timeouts."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UncertainError(TransientError):
    """A write reached the vendor but its answer was lost: a timeout after sending, a connection
    dropped after sending, an unreadable 2xx body, or a 5xx. The effect may have happened, so
    it is never retried blindly: the vendor is asked what it has before anything is sent again.
    Reads never raise it; a lost answer to a read is a plain ``TransientError``."""


class PermanentError(DeliveryError):
    """Retrying cannot help: bad request, bad auth, unknown channel or user."""


class ConfigurationError(Exception):
    """Settings select something this installation cannot provide."""
