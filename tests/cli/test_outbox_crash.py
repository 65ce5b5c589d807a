"""Kill a dispatcher in the middle of a batch, run it again: every row delivered exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from db.models import OutboxMessage
from domain.program import preset_text
from tests.conftest import T0
from tests.factories import email, enqueue_messages

ROOT = Path(__file__).resolve().parents[2]


def _env(url: str, data_dir: Path, delay_ms: int) -> dict[str, str]:
    program = data_dir / "program.yaml"
    program.write_text(preset_text("saas"), encoding="utf-8")
    return {
        "REFERRALS_PROGRAM_FILE": str(program),
        **os.environ,
        "DATABASE_URL": url,
        "REFERRALS_DATA_DIR": str(data_dir),
        "REFERRALS_SANDBOX_SEND_DELAY_MS": str(delay_ms),
        "REFERRALS_OUTBOX_BATCH_SIZE": "10",
    }


def _dispatch_command(at: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", "outbox", "dispatch", "--at", at, "--json"]


def _journal(data_dir: Path) -> list[str]:
    path = data_dir / "outbox" / "_journal.log"
    return path.read_text().splitlines() if path.exists() else []


def test_killed_dispatcher_rerun_sends_nothing_twice_and_loses_nothing(
    committed_url, committed_factory, tmp_path
):
    enqueue_messages(committed_factory, [email(n) for n in range(30)], T0)

    victim = subprocess.Popen(
        _dispatch_command(T0.isoformat()),
        cwd=ROOT,
        env=_env(committed_url, tmp_path, 150),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while len(_journal(tmp_path)) < 3 and time.monotonic() < deadline:
        assert victim.poll() is None, victim.stderr.read() if victim.stderr else ""
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    written_before = len(_journal(tmp_path))
    assert 3 <= written_before < 30, victim.stderr.read() if victim.stderr else ""
    with committed_factory() as session:
        stranded = Counter(str(s) for s in session.scalars(select(OutboxMessage.status)))
    assert stranded["sending"] > 0  # killed mid-batch, as intended

    time.sleep(1.1)  # the lease (1 s here) runs on real time
    rerun = subprocess.run(
        _dispatch_command(T0.isoformat()),
        cwd=ROOT,
        env={**_env(committed_url, tmp_path, 0), "REFERRALS_OUTBOX_LEASE_SECONDS": "1"},
        capture_output=True,
        text=True,
        check=True,
    )

    report = json.loads(rerun.stdout)[0]
    # Files written but not yet recorded are confirmed with the vendor, not sent again.
    assert report["confirmed_after_crash"] == written_before - stranded["sent"]
    assert stranded["sent"] + report["confirmed_after_crash"] + report["sent"] == 30
    journal = Counter(line.split(" ", 1)[0] for line in _journal(tmp_path))
    assert journal == {"written": 30}, journal
    with committed_factory() as session:
        rows = session.scalars(select(OutboxMessage)).all()
    assert Counter(str(r.status) for r in rows) == {"sent": 30}
    assert all(r.provider_id for r in rows)
