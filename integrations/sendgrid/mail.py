"""SendGrid adapter of the email port: v3 mail send on the official ``sendgrid`` SDK.

One request per email, its content already rendered for its one recipient. ``categories``
group mails for SendGrid's statistics (the template, never a per-mail id: SendGrid allows ten
and advises against it); ``custom_args`` carry the outbox key and the ids the payload names
(``referral_id``...), so SendGrid's events lead back to the row; the unsubscribe group
(``asm.group_id``) and the message's own headers (``List-Unsubscribe``,
``List-Unsubscribe-Post``) go as given. The body is built here as a plain dict rather than
with the SDK's ``Mail`` helper: what goes on the wire is in one function, and no helper-side
validator raises errors of its own.

What sendgrid 6.12 (python-http-client 3.3 on urllib, no retries of its own) raises, measured
against the fake server (``tests/fakes/sendgrid_server.py``): any non-2xx answer is
``python_http_client.exceptions.HTTPError`` (a subclass per status) with ``status_code``,
``body`` (bytes) and ``headers``; a refused connect is ``URLError`` (nothing was sent); a
read timeout after sending is a bare ``TimeoutError``; a connection closed without an answer
is ``RemoteDisconnected``; a 202 whose answer is cut is ``IncompleteRead``.

How each is treated (the outbox's exactly-once rules, see README "Delivery guarantees"):

* 429: retried after ``X-RateLimit-Reset`` (epoch seconds); a connection that never opened:
  retried with backoff. Nothing was sent.
* a 5xx carrying SendGrid's own error JSON: retried. SendGrid documents that only a 202
  means the message was queued, and the error JSON shows SendGrid itself answered.
* a 5xx without it (a proxy's page), a timeout or a dropped or cut answer after sending:
  the mail may have been queued. Never retried here: the row comes back ``uncertain``;
  SendGrid cannot say what it has (``find_sent`` is None), so the dispatcher parks it
  ``in_doubt`` for a person instead of sending a second mail.
* other 4xx: permanent, with SendGrid's own ``errors[].message`` and ``field``.

After a 429 or an unreachable SendGrid that outlasted the retries, the rest of the batch is
not tried (it would meet the same wall) and comes back transient, to be rescheduled.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
from collections.abc import Callable, Sequence
from email.utils import parseaddr
from typing import Any

from python_http_client.exceptions import HTTPError as SendGridHTTPError
from sendgrid import SendGridAPIClient

from integrations.errors import DeliveryError, PermanentError, TransientError, UncertainError
from integrations.ports import DeliveryResult, EmailMessage
from integrations.retry import MAX_ATTEMPTS, retry_call

log = logging.getLogger(__name__)

MAX_ERROR_TEXT = 2000  # SendGrid lists every problem; keep the row's last_error readable


class RefusedKey(PermanentError):
    """401: SendGrid refuses the API key, so it would refuse every mail of the batch."""


def mail_body(
    message: EmailMessage, default_from: str, unsubscribe_group_id: int | None = None
) -> dict[str, Any]:
    """The v3 mail-send JSON for one message to one recipient."""
    sender_name, sender_email = parseaddr(message.from_address or default_from)
    content = [{"type": "text/plain", "value": message.text}] if message.text else []
    if message.html:
        content.append({"type": "text/html", "value": message.html})  # after text/plain
    body: dict[str, Any] = {
        "personalizations": [{"to": [{"email": message.to}]}],
        "from": {"email": sender_email, **({"name": sender_name} if sender_name else {})},
        "subject": message.subject,
        "content": content,
    }
    if message.categories:
        body["categories"] = list(dict.fromkeys(message.categories))  # SendGrid: unique
    if message.custom_args:
        body["custom_args"] = {str(k): str(v) for k, v in message.custom_args.items()}
    if message.headers:
        body["headers"] = dict(message.headers)
    if unsubscribe_group_id is not None:
        body["asm"] = {"group_id": unsubscribe_group_id}
    return body


def _problems(body: bytes | str | None) -> list[dict[str, Any]] | None:
    """SendGrid's ``errors`` array, or None when the body is not SendGrid's error JSON."""
    try:
        data = json.loads(body or b"")
    except (TypeError, ValueError):
        return None
    errors = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(errors, list):
        return None
    return [e for e in errors if isinstance(e, dict)]


def sendgrid_text(status: int, problems: list[dict[str, Any]] | None, reason: str) -> str:
    """SendGrid's own words: ``SendGrid 400: <message> (field <field>); ...``."""
    if not problems:
        return f"SendGrid {status}: {reason}".rstrip(": ")
    parts = []
    for problem in problems:
        text = str(problem.get("message") or "no message")
        field = problem.get("field")
        parts.append(f"{text} (field {field})" if field not in (None, "", "null") else text)
    return f"SendGrid {status}: {'; '.join(parts)}"[:MAX_ERROR_TEXT]


def _until_reset(headers: Any, now: float) -> float | None:
    """Seconds until ``X-RateLimit-Reset`` (epoch seconds); None when SendGrid sent none."""
    value = headers.get("X-RateLimit-Reset") if headers is not None else None
    try:
        return max(float(value) - now, 0.0) if value is not None else None
    except ValueError:
        return None


def _lost(message: str) -> UncertainError:
    return UncertainError(f"answer lost, may have happened: {message}")


def classify(error: Exception, now: float) -> Exception:
    """Map an SDK or transport error to TransientError / UncertainError / PermanentError."""
    if isinstance(error, SendGridHTTPError):
        status = int(error.status_code)
        problems = _problems(error.body)
        text = sendgrid_text(status, problems, str(getattr(error, "reason", "") or ""))
        if status == 429:
            return TransientError(text, retry_after=_until_reset(error.headers, now))
        if status >= 500:
            # SendGrid's own JSON: it answered, and only a 202 queues a mail. Anything else
            # came from in front of it, perhaps after SendGrid queued the mail.
            return TransientError(text) if problems is not None else _lost(text)
        return RefusedKey(text) if status == 401 else PermanentError(text)
    # urllib wraps failures to connect or to send in URLError: the request never arrived.
    if isinstance(error, urllib.error.URLError):
        return TransientError(f"SendGrid unreachable: {type(error).__name__}: {error.reason}")
    # Unwrapped, they come from reading the answer: the request was sent.
    if isinstance(error, OSError | http.client.HTTPException):
        return _lost(f"SendGrid connection: {type(error).__name__}: {error}")
    return error


class SendGridMail:
    """The email port on SendGrid. SendGrid cannot say which mails it has: ``find_sent``
    returns None, and the dispatcher parks rows whose answer was lost as ``in_doubt``."""

    def __init__(
        self,
        client: SendGridAPIClient,
        default_from: str,
        unsubscribe_group_id: int | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.time,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.client = client
        self.default_from = default_from
        self.unsubscribe_group_id = unsubscribe_group_id
        self.sleep = sleep
        self.clock = clock
        self.max_attempts = max_attempts
        self.requests = 0

    def send(self, messages: Sequence[EmailMessage]) -> list[DeliveryResult]:
        results: list[DeliveryResult] = []
        wall: DeliveryError | None = None  # what stopped the batch: the rest is not tried
        for message in messages:
            if wall is not None:
                results.append(_not_tried(message, wall))
                continue
            try:
                message_id = self._send_one(message)
            except UncertainError as error:
                results.append(_failed(message, error, uncertain=True))
            except TransientError as error:
                results.append(_failed(message, error))
                wall = error  # rate limited or unreachable past our retries
            except PermanentError as error:
                results.append(_failed(message, error))
                if isinstance(error, RefusedKey):
                    wall = error
            except Exception as error:  # unknown: it may have come after SendGrid queued it
                log.exception("sendgrid %s: unexpected failure", message.dedupe_key)
                results.append(_failed(message, _lost(f"{type(error).__name__}: {error}"), True))
                wall = TransientError(f"stopped after an unexpected {type(error).__name__}")
            else:
                results.append(DeliveryResult(message.dedupe_key, provider_id=message_id))
        return results

    def find_sent(self, dedupe_keys: Sequence[str]) -> None:
        """SendGrid's mail send has no idempotency key and no lookup by our key."""
        return None

    def _send_one(self, message: EmailMessage) -> str | None:
        """One mail-send request under the shared policy; returns SendGrid's message id."""
        body = mail_body(message, self.default_from, self.unsubscribe_group_id)

        def once() -> str | None:
            self.requests += 1
            try:
                response = self.client.send(body)
            except Exception as error:
                classified = classify(error, self.clock())
                if classified is error:
                    raise
                _log_failure(message.dedupe_key, error, classified)
                raise classified from error
            return response.headers.get("X-Message-Id")

        return retry_call(once, self.max_attempts, self.sleep)


def _log_failure(key: str, error: Exception, classified: Exception) -> None:
    """By key and status only: SendGrid's texts may quote the recipient's address."""
    what = getattr(error, "status_code", None) or type(error).__name__
    if isinstance(classified, UncertainError):
        log.warning("sendgrid %s: answer lost (%s), may have been queued", key, what)
    elif isinstance(classified, TransientError):
        log.warning("sendgrid %s: not accepted (%s), worth retrying", key, what)
    else:
        log.info("sendgrid %s: refused (%s)", key, what)


def _failed(message: EmailMessage, error: DeliveryError, uncertain: bool = False) -> DeliveryResult:
    transient = isinstance(error, TransientError)
    return DeliveryResult(
        message.dedupe_key,
        error=str(error),
        transient=transient,
        retry_after=error.retry_after if isinstance(error, TransientError) else None,
        uncertain=uncertain,
    )


def _not_tried(message: EmailMessage, wall: DeliveryError) -> DeliveryResult:
    """Not sent at all: transient after a transient wall, the same refusal after a 401."""
    if isinstance(wall, TransientError):
        return DeliveryResult(
            message.dedupe_key,
            error=f"not tried: {wall}",
            transient=True,
            retry_after=wall.retry_after,
        )
    return DeliveryResult(message.dedupe_key, error=str(wall))
