"""The benchmark's book: the generator's book plus what the issue's sizes ask for and the
generator does not give (simulation/book.py is not the benchmark's to edit).

* Team: ``generate_book`` takes ``csms`` and ``reps``; about one CSM per 100 accounts and one
  rep per 250 are passed here, so asks and digests grow with the book as a real program's.
* Signals: the generator gives about 2 per account over 60 days; the issue's book has about 10.
  The rest are copies of the generator's own signals (same kind, value and text mix) at other
  customer accounts and times, so detect-moments sees the same kind of traffic, only more.
* Referrals: about 20% of the accounts' number, captured the way a rep's CSV would bring them
  (``benchmarks.referrals.intros``: new companies, repeats, free mailboxes).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from simulation.book import Book, SignalSpec, generate_book
from simulation.signals_file import write_signals
from simulation.team_file import write_team_file

SEED = 13
DAYS = 60  # the period the generator's history covers; the first program day follows it
SIGNALS_PER_ACCOUNT = 10
REFERRAL_SHARE = 0.20  # referrals captured before the first day, per account


@dataclass(frozen=True)
class BenchBook:
    book: Book
    first_signals: tuple[SignalSpec, ...]  # everything before the first program day
    steady_signals: tuple[SignalSpec, ...]  # what arrives during the night before the second
    first_day: datetime  # midnight UTC of the first program day
    steady_day: datetime

    @property
    def accounts(self) -> int:
        return len(self.book.companies)


def team_for(accounts: int) -> dict[str, int]:
    """About one CSM per 100 accounts and one rep per 250 (never fewer than the generator's
    defaults)."""
    return {"csms": max(8, round(accounts / 100)), "reps": max(4, round(accounts / 250))}


def bench_book(accounts: int, seed: int = SEED) -> BenchBook:
    book = generate_book(seed=seed, accounts=accounts, days=DAYS, **team_for(accounts))
    rng = random.Random(seed)
    first_day = datetime.combine(book.end, datetime.min.time(), UTC)
    while first_day.weekday() >= 4:  # two weekdays in a row: prompt-csms runs on both
        first_day += timedelta(days=1)
    steady_day = first_day + timedelta(days=1)
    period = (datetime.combine(book.start, datetime.min.time(), UTC), first_day)
    padding = SIGNALS_PER_ACCOUNT * accounts - len(book.signals)
    first = book.signals + _copies(book, rng, max(0, padding), period, "bench-pad")
    # A steady day's share of the period's traffic, in the early hours before the flows run.
    night = (steady_day - timedelta(hours=6), steady_day + timedelta(hours=6))
    steady = _copies(book, rng, SIGNALS_PER_ACCOUNT * accounts // DAYS, night, "bench-day")
    return BenchBook(book, first, steady, first_day, steady_day)


@dataclass(frozen=True)
class BookFiles:
    """What a benchmark day needs of its book, once the book is in files: a deployment's
    flow process never holds the generated book (1M signals, about 600 MB at 100k), and a
    process that does is measurably slower at everything it does afterwards."""

    folder: Path
    accounts: int
    first_day: datetime
    steady_day: datetime
    stats: dict[str, int]

    @property
    def team(self) -> Path:
        return self.folder / "team.csv"

    def signals(self, day: str) -> Path:
        return self.folder / f"signals-{day}.jsonl"


def write_book_files(accounts: int, folder: Path, seed: int = SEED) -> BookFiles:
    """The book's team file and both days' signal files in ``folder``."""
    bench = bench_book(accounts, seed)
    book = bench.book
    files = BookFiles(
        folder,
        accounts,
        bench.first_day,
        bench.steady_day,
        {
            "companies": len(book.companies),
            "contacts": len(book.contacts),
            "deals": len(book.deals),
            "accounts_with_deals": len({d.company_crm_id for d in book.deals}),
            "signals": len(bench.first_signals) + len(bench.steady_signals),
            "team": len(book.team),
            "csms": sum(1 for m in book.team if m.role == "csm"),
        },
    )
    write_team_file(book, files.team)
    write_signals(bench.first_signals, files.signals("first"))
    write_signals(bench.steady_signals, files.signals("steady"))
    return files


def book_files_apart(accounts: int, folder: Path) -> BookFiles:
    """``write_book_files`` in a process of its own, which takes the book's memory with it."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.book", str(accounts), str(folder)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return BookFiles(
        folder,
        found["accounts"],
        datetime.fromisoformat(found["first_day"]),
        datetime.fromisoformat(found["steady_day"]),
        found["stats"],
    )


def _copies(
    book: Book,
    rng: random.Random,
    count: int,
    between: tuple[datetime, datetime],
    prefix: str,
) -> tuple[SignalSpec, ...]:
    """``count`` signals like the book's, at random customer accounts and instants."""
    if not book.signals or count <= 0:
        return ()
    customers = [c for c in book.companies if c.lifecycle == "customer"] or list(book.companies)
    people: dict[str, list[str]] = {}
    for contact in book.contacts:
        people.setdefault(contact.company_crm_id, []).append(contact.email)
    span = (between[1] - between[0]).total_seconds()
    made = []
    for n in range(count):
        template = rng.choice(book.signals)
        company = rng.choice(customers)
        emails = people.get(company.crm_id, [])
        email = rng.choice(emails) if emails and template.person_email else None
        made.append(
            replace(
                template,
                external_id=f"{prefix}-{n}",
                account_crm_id=company.crm_id,
                person_email=email,
                occurred_at=between[0] + timedelta(seconds=rng.random() * span),
            )
        )
    return tuple(made)


if __name__ == "__main__":
    made = write_book_files(int(sys.argv[1]), Path(sys.argv[2]))
    print(
        json.dumps(
            {
                "accounts": made.accounts,
                "first_day": made.first_day.isoformat(),
                "steady_day": made.steady_day.isoformat(),
                "stats": made.stats,
            }
        )
    )
