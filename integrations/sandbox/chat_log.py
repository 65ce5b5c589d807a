"""Sandbox chat: messages are appended to a JSON-lines log file (and logged by id)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from integrations.ports import ChatMessage, DeliveryResult, UserLookup

log = logging.getLogger(__name__)


class ChatLogNotifier:
    def __init__(self, path: Path) -> None:
        self.path = path

    def post(self, messages: Sequence[ChatMessage]) -> list[DeliveryResult]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        already = self._sent_keys()
        results = []
        with self.path.open("a", encoding="utf-8") as handle:
            for message in messages:
                provider_id = already.get(message.dedupe_key)
                if provider_id is None:
                    provider_id = f"sandbox-{len(already) + 1}"
                    entry = {
                        "ts": datetime.now(UTC).isoformat(),
                        "id": provider_id,
                        "dedupe_key": message.dedupe_key,
                        "recipient": message.recipient,
                        "text": message.text,
                        "blocks": message.blocks,
                    }
                    handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
                    handle.flush()
                    os.fsync(handle.fileno())
                    already[message.dedupe_key] = provider_id
                    log.info("chat message %s to %s", provider_id, message.recipient)
                results.append(DeliveryResult(message.dedupe_key, provider_id=provider_id))
        return results

    def find_sent(self, messages: Sequence[ChatMessage]) -> dict[str, str | None]:
        sent = self._sent_keys()
        return {m.dedupe_key: sent.get(m.dedupe_key) for m in messages}

    def lookup_user_ids(self, emails: Sequence[str]) -> dict[str, UserLookup]:
        """The sandbox knows everyone: a stable made-up user id per email."""
        return {
            email: UserLookup("U" + hashlib.sha1(email.lower().encode()).hexdigest()[:10].upper())
            for email in emails
        }

    def _sent_keys(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        keys: dict[str, str] = {}
        with self.path.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line torn by a crash was never a delivered message
                keys[entry["dedupe_key"]] = entry["id"]
        return keys
