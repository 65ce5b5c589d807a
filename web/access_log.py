"""Uvicorn's access log without the addresses hidden in unsubscribe links (their signed token
carries the email in readable base64): logs keep ids, never emails."""

from __future__ import annotations

import logging
import re

_TOKEN_PATH = re.compile(r"^(/unsubscribe/)[^?\s]*")


class HideUnsubscribeTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn.access records: (client, method, path with query, http version, status)
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            path = _TOKEN_PATH.sub(r"\1<token>", args[2])
            record.args = (args[0], args[1], path, args[3], args[4])
        return True


def hide_unsubscribe_tokens() -> None:
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, HideUnsubscribeTokens) for f in logger.filters):
        logger.addFilter(HideUnsubscribeTokens())
