"""Benchmark: ingest, detect-moments and prompt-csms on a large synthetic book (sandbox
adapters, SQLite or DATABASE_URL). Prints figures; asserts nothing.

    .venv/bin/python -m benchmarks.moments_and_asks --accounts 5000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from db.engine import session_factory
from db.migrate import upgrade
from domain.program import load_preset
from domain.statuses import OutboxChannel
from integrations.deliverers import ChatDeliverer, CrmDeliverer
from integrations.sandbox.chat_log import ChatLogNotifier
from integrations.sandbox.crm import SandboxCrm
from simulation.book import generate_book
from simulation.signals_file import write_signals
from simulation.team_file import write_team_file
from tasks.detect_moments import detect_moments
from tasks.ingest_signals import ingest_rows, read_rows
from tasks.load_book import load_book
from tasks.prompt_csms import prompt_csms
from tasks.sync_crm import sync_crm
from tasks.team import import_team


def timed(label: str, fn):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = fn()
    print(f"{label:34} {time.perf_counter() - started:7.2f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=5000)
    args = parser.parse_args()
    program = load_preset("saas")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = os.environ.get("DATABASE_URL") or f"sqlite:///{folder / 'bench.db'}"
        upgrade(url)
        factory = session_factory(url)
        book = generate_book(seed=3, accounts=args.accounts, days=90)
        print(
            f"book: {len(book.companies)} companies, {len(book.contacts)} contacts, "
            f"{len(book.signals)} signals"
        )
        timed("load book into the sandbox CRM", lambda: load_book(factory, book))
        timed("sync-crm (full)", lambda: sync_crm(factory, SandboxCrm(factory), program))
        write_team_file(book, folder / "team.csv")
        timed("team import (roles)", lambda: import_team(factory, read_rows(folder / "team.csv")))
        write_signals(book.signals, folder / "signals.jsonl")
        start = datetime.combine(book.start, datetime.min.time(), UTC)
        report = timed(
            "ingest signals",
            lambda: ingest_rows(factory, read_rows(folder / "signals.jsonl"), start),
        )
        print(f"  new {report.new}")
        now = start + timedelta(days=30, hours=9)
        moments = timed(
            "detect-moments (30 days of signals)", lambda: detect_moments(factory, program, now)
        )
        print(
            f"  checked {moments.signals_checked}, moments {moments.moments_detected}, "
            f"asks {moments.asks_created}"
        )
        chat = ChatLogNotifier(folder / "chat.log")
        deliverers = {
            OutboxChannel.CHAT: ChatDeliverer(chat),
            OutboxChannel.CRM: CrmDeliverer(SandboxCrm(factory)),
        }
        prompts = timed(
            "prompt-csms + delivery", lambda: prompt_csms(factory, program, chat, deliverers, now)
        )
        print(f"  digests {prompts.digests}, CRM tasks {prompts.crm_tasks}")
        timed("detect-moments rerun (nothing new)", lambda: detect_moments(factory, program, now))
        timed(
            "prompt-csms rerun (nothing new)",
            lambda: prompt_csms(factory, program, chat, deliverers, now),
        )


if __name__ == "__main__":
    main()
