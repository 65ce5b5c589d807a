"""Write simulated signals to a file, in the shapes the file ingest reads (JSON lines or CSV).

The demo and the docs use this to show the "signals from a file" path of the journey with
realistic data, and tests use it to feed the ingest end to end. Values are written as decimal
strings (``"9"``, ``"24500.00"``), never floats, so money and scores round-trip exactly.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import UTC
from pathlib import Path

from simulation.book import SignalSpec

COLUMNS: tuple[str, ...] = (
    "external_id",
    "kind",
    "account_crm_id",
    "person_email",
    "value",
    "text",
    "occurred_at",
    "source",
)


def signal_row(signal: SignalSpec) -> dict[str, str | None]:
    """One signal as a flat row; None stays None (null in JSON, empty cell in CSV)."""
    if signal.occurred_at.utcoffset() is None:
        raise ValueError(f"signal {signal.external_id} has a naive occurred_at")
    return {
        "external_id": signal.external_id,
        "kind": signal.kind.value,
        "account_crm_id": signal.account_crm_id,
        "person_email": signal.person_email,
        "value": None if signal.value is None else str(signal.value),
        "text": signal.text,
        "occurred_at": signal.occurred_at.astimezone(UTC).isoformat(),
        "source": signal.source.value,
    }


def write_signals(signals: Iterable[SignalSpec], path: Path) -> int:
    """Write ``signals`` to ``path`` (format from the suffix: .jsonl or .csv); return the count.

    The format is chosen by suffix so a CLI can take one ``--out`` argument; anything else is
    rejected before the file is created rather than guessed.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".csv"):
        raise ValueError(f"unsupported signals file type {path.suffix!r}: use .jsonl or .csv")
    count = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        if suffix == ".jsonl":
            for signal in signals:
                fh.write(json.dumps(signal_row(signal), ensure_ascii=False) + "\n")
                count += 1
        else:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS)
            writer.writeheader()
            for signal in signals:
                writer.writerow(signal_row(signal))
                count += 1
    return count
