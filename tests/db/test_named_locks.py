"""The named lock holds across connections (as across processes): a second holder waits
until the first lets go, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading
import time

import pytest

from db.repositories.locks import SLACK_MESSAGE, held


def test_a_second_holder_waits_for_the_first(committed_factory):
    order: list[str] = []
    first_in = threading.Event()

    def first() -> None:
        with held(committed_factory, SLACK_MESSAGE, "D1:1700000000.000100"):
            first_in.set()
            order.append("first in")
            time.sleep(0.4)
            order.append("first out")

    def second() -> None:
        first_in.wait(5)
        with held(committed_factory, SLACK_MESSAGE, "D1:1700000000.000100"):
            order.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert order == ["first in", "first out", "second in"]


def test_different_names_do_not_wait_for_each_other(committed_factory):
    if committed_factory.kw["bind"].dialect.name == "sqlite":
        pytest.skip("SQLite has one write lock: every holder waits for the one before")
    with held(committed_factory, SLACK_MESSAGE, "D1:1"):
        done = threading.Event()

        def other() -> None:
            with held(committed_factory, SLACK_MESSAGE, "D2:2"):
                done.set()

        thread = threading.Thread(target=other)
        thread.start()
        thread.join(5)
        assert done.is_set()
