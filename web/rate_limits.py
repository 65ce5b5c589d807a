"""Form posts per client IP and per referral code, in fixed windows counted in the database
(``rate_counters``), so every web process shares one count.

Buckets never hold a raw IP address: it is keyed-hashed with the app's secret, so the table
and the logs carry no personal data.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from core.signing import secret_key
from db.engine import transaction
from db.repositories.rate_counters import count_hit, forget_windows_before

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # seconds until the window ends (for the Retry-After header)
    bucket_kind: str = ""  # which limit refused: "ip" or "code" (logs name the kind only)


def ip_hash(settings: Settings, ip: str) -> str:
    """A stable pseudonym of a client IP: same IP, same value; not reversible without the key."""
    digest = hmac.new(secret_key(settings).encode(), ip.encode(), hashlib.sha256)
    return digest.hexdigest()[:24]


def window_start(now: datetime, seconds: int) -> datetime:
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


def check_post(
    factory: sessionmaker[Session],
    settings: Settings,
    client_ip: str,
    code: str | None,
    now: datetime,
) -> Verdict:
    """Count one form post against the IP's limit, then (if still allowed) the code's.

    A post refused by its IP does not count against the code, so one noisy client cannot use
    up a referrer's link for everybody else.
    """
    window = settings.web_rate_window_seconds
    start = window_start(now, window)
    retry_after = max(1, int((start + timedelta(seconds=window) - now).total_seconds()))
    with transaction(factory) as session:
        ip_count = count_hit(session, f"ip:{ip_hash(settings, client_ip)}", start)
        if ip_count == 1:  # this IP's first post of the window: a good moment to tidy up
            forget_windows_before(session, start - timedelta(seconds=window))
        if ip_count > settings.web_posts_per_ip:
            log.warning("form post refused: per-IP limit reached")
            return Verdict(False, retry_after, "ip")
        if code is not None:
            code_count = count_hit(session, f"code:{code}", start)
            if code_count > settings.web_posts_per_code:
                log.warning("form post refused: per-code limit reached")
                return Verdict(False, retry_after, "code")
    return Verdict(True)
