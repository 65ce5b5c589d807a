"""Posts per client IP and per code, counted in the database so every server process shares
one count."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from db.engine import make_engine
from domain.program import load_preset
from tests.web.conftest import MakeSite, TestClient
from tests.web.site import VALID, context_for, csrf_token
from web.app import create_app
from web.rate_limits import check_post


def _post(client: TestClient, path: str, n: int) -> int:
    token = csrf_token(client.get(path).text)
    fields = {**VALID, "email": f"lead{n}@prospect{n}.example", "csrf_token": token}
    return client.post(path, data=fields).status_code


def test_over_the_ip_limit_is_429_and_stores_nothing(make_site: MakeSite) -> None:
    site = make_site(REFERRALS_WEB_POSTS_PER_IP=3, REFERRALS_WEB_POSTS_PER_CODE=100)
    path = f"/r/{site.code}"
    assert [_post(site.client, path, n) for n in range(3)] == [303, 303, 303]
    token = csrf_token(site.client.get(path).text)
    refused = site.client.post(
        path, data={**VALID, "email": "late@late.example", "csrf_token": token}
    )
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 3600
    assert "Please try again" in refused.text
    assert len(site.stored.referrals()) == 3
    assert "late@late.example" not in {r.referred_email for r in site.stored.referrals()}
    # Invalid posts count too (they probe as well as valid ones do), on both forms.
    assert _post(site.client, "/refer", 9) == 429
    # Another address is not affected.
    assert _post(site.other_client("198.51.100.9"), path, 10) == 303


def test_the_code_limit_holds_across_addresses(make_site: MakeSite) -> None:
    site = make_site(REFERRALS_WEB_POSTS_PER_IP=100, REFERRALS_WEB_POSTS_PER_CODE=2)
    path = f"/r/{site.code}"
    answers = [_post(site.other_client(f"203.0.113.{n}"), path, n) for n in range(1, 4)]
    assert answers == [303, 303, 429]
    assert len(site.stored.referrals()) == 2


def test_posts_refused_by_their_ip_do_not_use_up_the_code(make_site: MakeSite) -> None:
    site = make_site(REFERRALS_WEB_POSTS_PER_IP=1, REFERRALS_WEB_POSTS_PER_CODE=2)
    path = f"/r/{site.code}"
    noisy = site.other_client("203.0.113.66")
    assert [_post(noisy, path, n) for n in range(5)] == [303, 429, 429, 429, 429]
    assert _post(site.other_client("203.0.113.67"), path, 9) == 303


def test_a_new_window_starts_a_new_count(make_site: MakeSite) -> None:
    site = make_site(REFERRALS_WEB_POSTS_PER_IP=1)
    path = f"/r/{site.code}"
    assert [_post(site.client, path, n) for n in range(2)] == [303, 429]
    site.clock.advance(timedelta(hours=1))
    assert _post(site.client, path, 3) == 303
    site.clock.advance(timedelta(hours=2))
    assert _post(site.client, path, 4) == 303
    # Windows that ended are tidied away: only the live ones remain.
    starts = {c.window_start for c in site.stored.counters()}
    assert min(starts) >= site.clock.now() - timedelta(hours=1, minutes=1)


def test_two_app_instances_on_one_database_share_the_limit(
    make_site: MakeSite, committed_url: str
) -> None:
    """Two server processes: separate apps, separate engines, one database."""
    site = make_site(REFERRALS_WEB_POSTS_PER_IP=4, REFERRALS_WEB_POSTS_PER_CODE=100)
    engine = make_engine(committed_url)
    try:
        second_context = context_for(
            site.settings,
            sessionmaker(engine, expire_on_commit=False),
            load_preset("saas"),
            site.clock,
        )
        second = TestClient(
            create_app(second_context), follow_redirects=False, client=("192.0.2.1", 2)
        )
        path = f"/r/{site.code}"
        answers = [_post(client, path, n) for n, client in enumerate([site.client, second] * 3)]
        assert answers == [303, 303, 303, 303, 429, 429]
        assert len(site.stored.referrals()) == 4
        second.close()
    finally:
        engine.dispose()


def test_concurrent_posts_never_exceed_the_limit(committed_url: str, make_site: MakeSite) -> None:
    """Eight threads with engines of their own (as separate processes would have) race for
    one IP's 20 posts: the atomic upsert lets exactly 20 through."""
    site = make_site(REFERRALS_WEB_POSTS_PER_IP=20, REFERRALS_WEB_POSTS_PER_CODE=1000)
    engines = [make_engine(committed_url) for _ in range(8)]
    barrier = threading.Barrier(len(engines))

    def worker(engine: Engine) -> list[bool]:
        factory = sessionmaker(engine, expire_on_commit=False)
        barrier.wait()
        return [
            check_post(factory, site.settings, "203.0.113.50", site.code, site.clock.now()).allowed
            for _ in range(5)
        ]

    try:
        with ThreadPoolExecutor(len(engines)) as pool:
            outcomes = [ok for result in pool.map(worker, engines) for ok in result]
    finally:
        for engine in engines:
            engine.dispose()
    assert outcomes.count(True) == 20 and len(outcomes) == 40
