"""A new user on a portal shaped like a real one (HubSpot and Slack as local servers speaking
their wire formats): nothing set up by hand beyond `init --from-crm`, `crm setup` and `team
set-role`; every deal is stored, and a promoter signal becomes an ask in the right CSM's
Slack digest."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from cli.main import app
from core.settings import get_settings
from db.models import Deal
from tasks.context import app_context
from tests.fakes.hubspot_server import FakeHubSpot
from tests.fakes.slack_server import FakeSlack

pytestmark = pytest.mark.prefect


@pytest.fixture
def portal(flow_env, monkeypatch, committed_url):
    with FakeHubSpot() as hubspot, FakeSlack() as slack:
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", hubspot.token)
        monkeypatch.setenv("HUBSPOT_API_BASE", hubspot.base_url)
        monkeypatch.setenv("HUBSPOT_CALLS_PER_10S", "1000")
        monkeypatch.setenv("HUBSPOT_SEARCHES_PER_SECOND", "100")
        monkeypatch.setenv("SLACK_BOT_TOKEN", slack.token)
        monkeypatch.setenv("SLACK_API_BASE", slack.base_url)
        monkeypatch.setenv("REFERRALS_PROGRAM_FILE", str(flow_env / "new-program.yaml"))
        monkeypatch.chdir(flow_env)
        get_settings.cache_clear()
        app_context.cache_clear()
        yield hubspot, slack
        get_settings.cache_clear()
        app_context.cache_clear()


def seed(hubspot: FakeHubSpot) -> dict[str, str]:
    casey = hubspot.add_owner("casey@vendor.example", "Casey", "Ng", teams=["Customer Success"])
    robin = hubspot.add_owner("robin@vendor.example", "Robin", "Rep", teams=["Sales"])
    hubspot.add_pipeline(
        "33001",
        "Renewals",
        [
            ("33002", "Renewal due", False, False),
            ("33003", "Renewed", True, True),
            ("33004", "Churned", True, False),
        ],
    )
    client = hubspot.add_company(
        {"name": "Acme Analytics", "domain": "acme.example", "hubspot_owner_id": casey}
    )
    champion = hubspot.add_contact(
        {"email": "ana@acme.example", "firstname": "Ana", "lastname": "Lima", "jobtitle": "CFO"},
        company_id=client,
    )
    stages = [
        "appointmentscheduled",
        "qualifiedtobuy",
        "presentationscheduled",
        "decisionmakerboughtin",
        "contractsent",
        "closedwon",
        "closedlost",
    ]
    for i, stage in enumerate(stages * 2):
        prospect = hubspot.add_company({"name": f"Prospect {i}", "hubspot_owner_id": robin})
        deal = hubspot.add_deal(
            {
                "dealname": f"Deal {i}",
                "pipeline": "default",
                "dealstage": stage,
                "hubspot_owner_id": robin,
                "amount": "12000",
            },
            company_id=prospect,
        )
        hubspot.move_deal(deal, stage, datetime.now(UTC) - timedelta(days=3))
    for i in range(4):
        hubspot.add_deal(
            {"dealname": f"Renewal {i}", "pipeline": "33001", "dealstage": "33002"},
            company_id=client,
        )
    return {"client": client, "champion": champion, "casey": casey}


def test_a_new_user_gets_every_deal_and_an_ask_in_the_right_digest(portal, committed_factory):
    hubspot, slack = portal
    ids = seed(hubspot)
    casey_slack = slack.add_user("casey@vendor.example")
    slack.add_user("robin@vendor.example")
    cli = CliRunner()

    def ok(*args: str) -> str:
        result = cli.invoke(app, list(args))
        assert result.exit_code == 0, (args, result.output)
        return result.output

    ok("db", "upgrade")
    ok("init", "--preset", "saas", "--from-crm", "--path", "new-program.yaml")
    ok("crm", "setup")
    synced = json.loads(ok("crm", "sync", "--json"))
    ok("team", "set-role", "casey@vendor.example", "csm")

    with committed_factory() as session:
        stored = session.scalar(select(func.count()).select_from(Deal))
    assert stored == len(hubspot.objects("deals")) == 18  # both pipelines, every stage
    assert synced["quarantined"] == []
    assert any("Renewals" in issue for issue in synced["new_issues"])

    now = datetime.now(UTC)
    signals = "new-signals.csv"
    with open(signals, "w", encoding="utf-8") as handle:
        handle.write("external_id,kind,account_crm_id,person_email,value,text,occurred_at\n")
        handle.write(
            f"nps-1,nps,{ids['client']},ana@acme.example,10,Love it,"
            f"{(now - timedelta(hours=2)).isoformat()}\n"
        )
    ok("ingest", "signals", signals)
    at = now.isoformat()
    detected = json.loads(ok("run", "detect-moments", "--at", at, "--json"))
    prompted = json.loads(ok("run", "prompt-csms", "--at", at, "--json"))

    assert {r["step"]: r["count"] for r in detected}["asks created"] == 1
    assert {r["step"]: r["count"] for r in prompted}["delivered: chat"] == 1
    [digest] = slack.messages(casey_slack)
    assert "Acme Analytics" in json.dumps(digest["blocks"])
    assert slack.messages() == [digest]  # nobody else was prompted
    tasks = hubspot.objects("tasks")
    assert len(tasks) == 1 and next(iter(tasks.values()))["hubspot_owner_id"] == ids["casey"]
