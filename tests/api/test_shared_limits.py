"""One limit, many API processes (issue 34): two gunicorn workers sharing Redis refuse together,
and the embedded stack keeps the same counters in its database."""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime

import psutil
import pytest
import requests
from sqlalchemy import select

from voxfarm.core import clock

from helpers import Proc, create_key, free_port, settings_env, wait_for

T0 = datetime(2026, 3, 14, 12, 0, 0, tzinfo=UTC)


def test_two_api_processes_sharing_redis_enforce_one_limit(prod_settings, redis_url, tmp_path):
    """`voxfarm api --workers 2`: one worker process is stopped while the other answers, then the
    other way round, so each process sees only the requests it served itself."""
    if redis_url is None:
        pytest.skip("Redis unreachable outside CI (CI fails instead)")
    key = create_key(prod_settings, "acme")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = settings_env(prod_settings, public_url=url, rate_limit_submit_per_min=3)
    api = Proc(["api", "--port", str(port), "--workers", "2", "--threads", "2"], env, tmp_path / "api.log")
    wait_for(lambda: not api.alive() or (_up(url) and len(psutil.Process(api.pid).children()) == 2), timeout=90,
             what="two API workers")
    assert api.alive(), api.log()[-3000:]
    workers = psutil.Process(api.pid).children()

    def submit(text: str) -> int:  # a new connection each time: whichever process accepts it answers
        return requests.post(f"{url}/v1/jobs", json={"text": text}, timeout=30,
                             headers={"Authorization": f"Bearer {key}", "Connection": "close"}).status_code

    seen = []
    for answering, stopped in ((workers[0], workers[1]), (workers[1], workers[0])):
        os.kill(stopped.pid, signal.SIGSTOP)
        try:
            seen += [submit(f"Line {len(seen)} from {answering.pid}.") for _ in range(2)]
        finally:
            os.kill(stopped.pid, signal.SIGCONT)
    api.stop()
    # a 3/min bucket refills one request per 20 s: the four requests above take a second or two
    assert seen == [202, 202, 202, 429], (seen, api.log()[-2000:])


def _up(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def test_the_embedded_stack_keeps_the_counters_in_the_database(settings):
    from voxfarm.api.app import create_app
    from voxfarm.core.models.tenancy import LimitState

    from helpers import ApiClient, ListPublisher, ServerThread

    settings = settings.model_copy(update={"rate_limit_read_per_min": 2})
    server = ServerThread(create_app(settings, publisher=ListPublisher()))
    try:
        client = ApiClient(server.url, create_key(settings, "acme"))
        with clock.use(clock.ManualClock(T0)):
            assert [client.get("/v1/jobs").status_code for _ in range(3)] == [200, 200, 429]
        from voxfarm.core.db import Database

        db = Database(settings)
        with db.session() as s:
            row = s.scalar(select(LimitState))
            assert row.key == "rate:read_per_min" and row.value == pytest.approx(T0.timestamp() + 60)
        db.dispose()
    finally:
        server.stop()
