"""Benchmark: a full and a quiet CRM sync of a synthetic book, on the sandbox and on HubSpot
(the real SDK against the local fake server). Prints figures; asserts nothing.

    .venv/bin/python -m benchmarks.sync_crm --accounts 1000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from db.engine import session_factory
from db.migrate import upgrade
from domain.program import load_preset
from integrations.hubspot.factory import build_hubspot_crm
from integrations.ports import program_properties
from integrations.sandbox.crm import SandboxCrm
from integrations.sandbox.portal import SANDBOX_PIPELINES
from simulation.book import generate_book
from tasks.load_book import load_book
from tasks.sync_crm import sync_crm
from tests.fakes.hubspot_server import FakeHubSpot


def _fresh_db(folder: Path, name: str):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{folder / name}.db"
    upgrade(url)
    return session_factory(url)


def _run(label: str, factory, crm, program) -> None:  # type: ignore[no-untyped-def]
    for run in ("full", "quiet"):
        started = time.perf_counter()
        report = sync_crm(factory, crm, program)
        elapsed = time.perf_counter() - started
        fetched = sum(r["fetched"] for r in report.rows())
        written = sum(r["created"] + r["updated"] for r in report.rows())
        calls = sum(report.api_calls.values())
        print(
            f"{label:8} {run:5} fetched {fetched:6}  written {written:6}  API calls {calls:4}  "
            f"{elapsed:6.2f} s  {fetched / elapsed if elapsed else 0:8.0f} records/s"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=1000)
    args = parser.parse_args()
    program = load_preset("saas")
    book = generate_book(seed=11, accounts=args.accounts, days=30)
    print(
        f"book: {len(book.companies)} companies, {len(book.contacts)} contacts, "
        f"{len(book.deals)} deals"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sandbox_db = _fresh_db(folder, "sandbox")
        load_book(sandbox_db, book)
        _run("sandbox", sandbox_db, SandboxCrm(sandbox_db), program)

        hubspot_db = _fresh_db(folder, "hubspot")
        with FakeHubSpot(now=lambda: datetime(2026, 1, 1, tzinfo=UTC)) as fake:
            crm = build_hubspot_crm(fake.token, fake.base_url, 10_000, 1_000)
            crm.setup(program_properties(list(program.stage_map.milestones.values())))
            for pipeline in SANDBOX_PIPELINES[1:]:  # the same portal as the sandbox's
                stages = [(s.id, s.label, s.closed, s.won) for s in pipeline.stages]
                fake.add_pipeline(pipeline.id, pipeline.label, stages)
            for m in book.team:
                first, _, last = m.name.partition(" ")
                fake.add_owner(m.email, first, last, teams=[m.team], id=m.crm_owner_id)
            ids = {}
            for c in book.companies:
                ids[c.crm_id] = fake.add_company(
                    {"name": c.name, "domain": c.domain}, updated_at=c.created_at
                )
            for p in book.contacts:
                fake.add_contact(
                    {
                        "email": p.email,
                        "firstname": p.first_name,
                        "lastname": p.last_name,
                        "jobtitle": p.title,
                    },
                    company_id=ids[p.company_crm_id],
                    updated_at=p.created_at,
                )
            for d in book.deals:
                deal = fake.add_deal(
                    {
                        "dealname": d.name,
                        "pipeline": d.pipeline_id,
                        "dealstage": d.stage_id,
                        "amount": str(d.amount),
                        **dict(d.properties),
                    },
                    company_id=ids[d.company_crm_id],
                    updated_at=d.created_at,
                )
                fake.move_deal(deal, d.stage_id, d.stage_entered_at)
            _run("hubspot", hubspot_db, crm, program)
            print("hubspot calls by endpoint:", dict(fake.calls_by_endpoint()))


if __name__ == "__main__":
    main()
