"""The fault scenarios of issue 7, shared by tests/faults and scripts/reliability_report.py.

Each takes a fresh Farm, injects its fault while work is accepted and in flight, and returns
the total-queue checker's Outcome.  Every accepted job is expected to end ``succeeded``, except the
poison job (``failed``, code ``poison_chunk``): no fault of the infrastructure may fail a job.
"""

from __future__ import annotations

import time

import requests

from tests.faults.harness import Farm

from helpers import ApiClient, start_api, wait_for


def _running(farm: Farm) -> int:
    return sum(s == "running" for s in farm.statuses().values())


def _kill_worker(farm: Farm, *, concurrency: int, jobs: int, running: int):
    sup = farm.worker("w1", concurrency=concurrency)
    farm.submit(jobs)
    wait_for(lambda: _running(farm) >= running, timeout=120, interval=0.1, what=f"{running} jobs claimed")
    sup.proc.kill()  # the supervisor restarts it, as an orchestrator would
    t0 = time.monotonic()
    farm.wait_terminal()
    return farm.check(time.monotonic() - t0)


def kill_mid_batch(farm: Farm):
    """(a) SIGKILL a worker while a batch is on the engine (no buffer: concurrency = batch)."""
    return _kill_worker(farm, concurrency=4, jobs=12, running=2)


def kill_with_buffered(farm: Farm):
    """(b) SIGKILL with requests buffered in the batcher beyond the batch on the engine."""
    return _kill_worker(farm, concurrency=12, jobs=16, running=8)


def poison_job(farm: Farm):
    """(c) one input kills its worker every time: it must end failed, the rest must succeed."""
    sup = farm.worker("w1", fault="poison:POISONPILL")
    farm.submit(8)
    [poison] = farm.submit(1, text="This sentence is a POISONPILL for the worker.", expect="failed")
    t0 = time.monotonic()
    farm.wait_terminal()
    outcome = farm.check(time.monotonic() - t0)
    job = farm.client.get(f"/v1/jobs/{poison}").json()
    outcome.notes.append(f"poison job {job['status']} ({(job['error'] or {}).get('code')}), "
                         f"worker restarts {sup.restarts}")
    assert job["status"] != "failed" or job["error"]["code"] == "poison_chunk", job
    return outcome


def redis_restart(farm: Farm):
    """(d) restart Redis (AOF on) with jobs queued and in flight."""
    farm.worker("w1", concurrency=8)
    farm.submit(16)
    wait_for(lambda: _running(farm) >= 2, timeout=120, interval=0.1, what="jobs in flight")
    farm.redis.restart()
    t0 = time.monotonic()
    farm.wait_terminal()
    return farm.check(time.monotonic() - t0)


def redis_flushall(farm: Farm):
    """(e) FLUSHALL while every job waits in Redis: the reconciler re-sends from the database."""
    farm.submit(12)
    farm.redis.flushall()
    t0 = time.monotonic()
    farm.worker("w1")
    farm.wait_terminal()
    return farm.check(time.monotonic() - t0)


def api_crash_after_commit(farm: Farm):
    """(f) the API dies between the commit and the publish; the client retries with its key."""
    farm.worker("w1")
    farm.api.stop()
    crashing, url = start_api(farm.settings, farm.tmp, **{**farm.env, "fault": "crash_after_commit"})
    client = ApiClient(url, farm.client.session.headers["Authorization"].split(" ", 1)[1])
    body = farm.body("Accepted, then the API died.")
    try:
        client.post("/v1/jobs", json=body, headers={"Idempotency-Key": "crash-1"})
        raise AssertionError("the API should have died")
    except requests.ConnectionError:
        pass
    crashing.stop()
    farm.api, farm.url = start_api(farm.settings, farm.tmp, **farm.env)
    farm.client = ApiClient(farm.url, client.session.headers["Authorization"].split(" ", 1)[1])
    replay = farm.client.post("/v1/jobs", json=body, headers={"Idempotency-Key": "crash-1"})
    assert replay.status_code == 202 and replay.headers.get("Idempotent-Replayed") == "true", replay.text
    farm.record(replay.json()["id"], body)
    farm.submit(5)
    t0 = time.monotonic()
    farm.wait_terminal()
    return farm.check(time.monotonic() - t0)


def postgres_restart(farm: Farm):
    """(g) PostgreSQL goes away mid-run: the API answers 503 fast (never hangs), work resumes."""
    farm.worker("w1")
    ids = farm.submit(12)
    farm.pg_proxy.down()
    started = time.monotonic()
    slowest = 0.0
    codes = set()
    while time.monotonic() - started < 6:
        t = time.monotonic()
        resp = requests.get(f"{farm.url}/v1/jobs/{ids[0]}", headers=farm.client.session.headers, timeout=30)
        slowest = max(slowest, time.monotonic() - t)
        codes.add(resp.status_code)
        time.sleep(0.3)
    farm.pg_proxy.up()
    t0 = time.monotonic()
    farm.wait_terminal()
    outcome = farm.check(time.monotonic() - t0)
    outcome.notes.append(f"API during the outage: {sorted(codes)}, slowest answer {slowest:.2f}s")
    assert codes == {503} and slowest < 5, (codes, slowest)
    return outcome


def s3_errors(farm: Farm):
    """(h) S3 answers 500 for 12 s (several times what max_attempts retries would last), then
    recovers: every job must still succeed -- an outage uses no attempts."""
    farm.s3.failing = True
    farm.worker("w1")
    farm.submit(10)
    time.sleep(12)
    farm.s3.failing = False
    t0 = time.monotonic()
    farm.wait_terminal()
    outcome = farm.check(time.monotonic() - t0)
    outcome.notes.append(f"S3 requests answered 500: {farm.s3.failed}")
    assert farm.s3.failed > 0
    return outcome


SCENARIOS = {
    "kill_mid_batch": kill_mid_batch,
    "kill_with_buffered": kill_with_buffered,
    "poison_job": poison_job,
    "redis_restart": redis_restart,
    "redis_flushall": redis_flushall,
    "api_crash_after_commit": api_crash_after_commit,
    "postgres_restart": postgres_restart,
    "s3_errors": s3_errors,
}
