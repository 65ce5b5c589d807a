"""Sandbox email: each message becomes one `.eml` file in an outbox folder.

The file name comes from the dedupe key and is created atomically (write a temp file, then
hard-link it into place), so a second send of the same key finds the file and changes nothing:
the folder itself answers "was this sent?" after a crash. Every attempt is also appended to
``_journal.log`` ("written KEY" or "duplicate KEY"), so a second send would be visible.

A message's own headers (``List-Unsubscribe``, ``List-Unsubscribe-Post``...) are written as
they would reach the recipient. One that sets a header the sender builds itself (``From``,
``Subject``...) is refused as SendGrid refuses it, so the demo fails where production would.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage as MimeMessage
from email.policy import default as default_policy
from email.utils import format_datetime
from pathlib import Path

from integrations.ports import DeliveryResult, EmailMessage

log = logging.getLogger(__name__)
# Set by this writer, on top of what the port reserves.
OWN_HEADERS = frozenset({"date", "message-id", "mime-version", "x-dedupe-key", "x-categories"})
# Headers folded only beyond RFC 5322's 998 characters: folding at 78 turns a long
# List-Unsubscribe URL (one token) into encoded words no mail client reads as a link.
WRITE_POLICY = default_policy.clone(max_line_length=998)


def _file_stem(dedupe_key: str) -> str:
    return hashlib.sha256(dedupe_key.encode()).hexdigest()[:32]


def _reserved(message: EmailMessage) -> str | None:
    reserved = EmailMessage.RESERVED_HEADERS | OWN_HEADERS
    names = sorted(name for name in message.headers if name.strip().lower() in reserved)
    return f"reserved headers cannot be set: {', '.join(names)}" if names else None


class EmailFolderSender:
    def __init__(self, folder: Path, default_from: str, delay_ms: int = 0) -> None:
        self.folder = folder
        self.default_from = default_from
        self.delay_ms = delay_ms

    def send(self, messages: Sequence[EmailMessage]) -> list[DeliveryResult]:
        self.folder.mkdir(parents=True, exist_ok=True)
        results = []
        for message in messages:
            if self.delay_ms:
                time.sleep(self.delay_ms / 1000)  # simulated vendor latency (demo, crash tests)
            refused = _reserved(message)
            if refused:
                results.append(DeliveryResult(message.dedupe_key, error=refused))
                continue
            results.append(self._write(message))
        return results

    def find_sent(self, dedupe_keys: Sequence[str]) -> dict[str, str | None]:
        return {
            key: self._message_id(key) if self._path(key).exists() else None for key in dedupe_keys
        }

    @property
    def journal_path(self) -> Path:
        return self.folder / "_journal.log"

    def _journal(self, what: str, dedupe_key: str) -> None:
        with self.journal_path.open("a", encoding="utf-8") as handle:
            handle.write(f"{what} {dedupe_key}\n")

    def _path(self, dedupe_key: str) -> Path:
        return self.folder / f"{_file_stem(dedupe_key)}.eml"

    def _message_id(self, dedupe_key: str) -> str:
        return f"<{_file_stem(dedupe_key)}@sandbox.referrals>"

    def _write(self, message: EmailMessage) -> DeliveryResult:
        mime = MimeMessage()
        mime["From"] = message.from_address or self.default_from
        mime["To"] = message.to
        mime["Subject"] = message.subject
        mime["Date"] = format_datetime(datetime.now(UTC))
        mime["Message-ID"] = self._message_id(message.dedupe_key)
        mime["X-Dedupe-Key"] = message.dedupe_key
        if message.categories:
            mime["X-Categories"] = ", ".join(message.categories)
        for name, value in message.headers.items():
            mime[name] = value
        mime.set_content(message.text)
        if message.html:
            mime.add_alternative(message.html, subtype="html")
        target = self._path(message.dedupe_key)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".eml")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(mime.as_bytes(policy=WRITE_POLICY))
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, target)
                self._journal("written", message.dedupe_key)
            except FileExistsError:
                self._journal("duplicate", message.dedupe_key)
                log.info("email %s already in the outbox folder", target.name)
        finally:
            os.unlink(tmp)
        return DeliveryResult(message.dedupe_key, provider_id=self._message_id(message.dedupe_key))
