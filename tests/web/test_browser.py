"""Once in a real browser: headless Chromium (Debian's package) driven by Playwright fills
and sends the landing page form served by uvicorn, and the referral exists with channel
``link``.

Locally the test skips when /usr/bin/chromium is missing; with ``CI=true`` it must run
(`.ci/run` installs Chromium first).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from domain.clock import SystemClock
from domain.program import load_preset
from domain.statuses import ReferralChannel
from tests.web.site import Stored, add_referrer, context_for, site_settings
from web.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
# Headless as root in a closed network: without the background-networking flags Chromium
# keeps trying to reach Google's hosts.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {CHROMIUM} is missing: `.ci/run` installs Debian's chromium")
    pytest.skip(f"browser test skipped: no Chromium at {CHROMIUM} (apt-get install -y chromium)")


def _serve(app: object) -> Iterator[str]:
    """uvicorn in a thread on a loopback port the OS picked (bound before the server starts,
    so no other process can take it in between)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def served(
    committed_url: str, committed_factory: sessionmaker[Session], tmp_path: Path
) -> Iterator[tuple[str, str, Stored]]:
    _require_chromium()
    clock = SystemClock()
    code = add_referrer(committed_factory, clock.now())
    settings = site_settings(committed_url, tmp_path / "data")
    app = create_app(context_for(settings, committed_factory, load_preset("saas"), clock))
    for base_url in _serve(app):
        yield base_url, code, Stored(committed_factory)


def test_the_landing_form_sent_from_headless_chromium_creates_a_link_referral(
    served: tuple[str, str, Stored],
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base_url, code, stored = served
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            page.goto(f"{base_url}/r/{code}?utm_source=email")
            expect(page.get_by_role("heading", level=1)).to_contain_text("Ana from Acme Corp")

            page.get_by_label("Your name").fill("Bea Ng")
            # The browser accepts "bea@prospect" as an email; the server does not.
            page.get_by_label("Work email").fill("bea@prospect")
            page.get_by_label("Company").fill("Prospect <Ltd>")
            page.get_by_label("Role").fill("CFO")
            page.get_by_label("Anything we should know?").fill("Evaluating this quarter")
            page.get_by_role("button", name="Send").click()

            expect(page.locator("#e-email")).to_have_text("Work email is not an email address")
            expect(page.get_by_label("Company")).to_have_value("Prospect <Ltd>")  # kept
            assert stored.referrals() == []

            page.get_by_label("Work email").fill("bea.ng@prospect.example")
            page.get_by_role("button", name="Send").click()
            page.wait_for_url(f"{base_url}/thanks")
            expect(page.get_by_role("heading", level=1)).to_have_text("Thank you")
        finally:
            browser.close()

    [referral] = stored.referrals()
    assert referral.channel == ReferralChannel.LINK
    assert referral.code == code
    assert referral.referred_email == "bea.ng@prospect.example"
    assert referral.referred_company_name == "Prospect <Ltd>"
    assert referral.attribution["utm_source"] == "email"
