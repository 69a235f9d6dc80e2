"""Acceptance (issue 11): during a 30 s S3 outage, every job accepted by the embedded stack
(``voxfarm up`` with an S3 store) still succeeds, and the stack stays up.

Before the fix, storage errors used render attempts (jobs ended ``failed``) and a burst of task
retries through kombu's filesystem broker could hand the worker an empty message file, which
stopped the whole stack.  Real ``voxfarm up`` process (API, worker, filesystem broker, SQLite, the
espeak engine), moto behind a proxy that answers 500 InternalError while failing.
"""

from __future__ import annotations

import hashlib
import time

import boto3
import pytest

from tests.faults.proxies import S3FaultProxy
from voxfarm.core.migrate import upgrade
from voxfarm.core.settings import Settings

from helpers import ApiClient, Proc, create_key, free_port, settings_env, wait_for

OUTAGE_S = 30


@pytest.mark.faults
def test_a_30s_s3_outage_fails_no_job_and_the_embedded_stack_stays_up(tmp_path, s3_server, s3_bucket):
    proxy = S3FaultProxy(s3_server["endpoint"])
    settings = Settings(data_dir=tmp_path / "var", storage_url=f"s3://{s3_bucket}/farm")
    upgrade(settings)
    port = free_port()
    env = {**settings_env(settings, public_url=f"http://127.0.0.1:{port}"), "AWS_ENDPOINT_URL": proxy.url}
    up = Proc(["up", "--data-dir", str(settings.data_dir), "--port", str(port), "--engine", "espeak"], env,
              tmp_path / "up.log")
    client = ApiClient(f"http://127.0.0.1:{port}", create_key(settings, "outage"))
    try:
        wait_for(lambda: " ready." in up.log() and _healthy(client) or not up.alive(), timeout=180,
                 what="voxfarm up serving")
        assert up.alive(), up.log()[-3000:]
        accepted = []
        proxy.failing = True
        started = time.monotonic()
        for wave in range(3):  # jobs arrive all through the outage; espeak renders them in milliseconds
            for i in range(15):
                resp = client.post("/v1/jobs", json={"text": f"Outage wave {wave}, sentence {i}, still fine."})
                assert resp.status_code == 202, resp.text
                accepted.append(resp.json()["id"])
            until = started + (wave + 1) * OUTAGE_S / 3
            wait_for(lambda until=until: time.monotonic() >= until, timeout=OUTAGE_S + 10,
                     interval=0.5, what="the next wave")
            assert up.alive(), up.log()[-3000:]
        proxy.failing = False
        failed_requests = proxy.failed
        assert failed_requests > 0  # the outage really hit the farm's storage calls

        def statuses():
            return {j: client.get(f"/v1/jobs/{j}").json()["status"] for j in accepted}

        wait_for(lambda: all(s in ("succeeded", "failed", "canceled") for s in statuses().values())
                 or not up.alive(), timeout=300, interval=1, what="every accepted job terminal")
        final = statuses()
        assert up.alive() and _healthy(client), up.log()[-3000:]
        assert sorted(set(final.values())) == ["succeeded"], {j: s for j, s in final.items() if s != "succeeded"}
        s3 = boto3.client("s3", endpoint_url=s3_server["endpoint"])  # around the proxy
        stored = {o["Key"]: o for page in s3.get_paginator("list_objects_v2").paginate(Bucket=s3_bucket)
                  for o in page.get("Contents", [])}
        for job_id in accepted:  # each result really reached storage after the outage, intact
            [key] = [k for k in stored if f"/jobs/{job_id}/audio." in k]
            data = s3.get_object(Bucket=s3_bucket, Key=key)["Body"].read()
            assert hashlib.sha256(data).hexdigest() == client.get(f"/v1/jobs/{job_id}").json()["result"]["sha256"]
        assert "Unrecoverable error" not in up.log()
    finally:
        up.stop(timeout=60)
        proxy.stop()


def _healthy(client: ApiClient) -> bool:
    try:
        return client.get("/healthz").status_code == 200
    except Exception:  # noqa: BLE001
        return False
