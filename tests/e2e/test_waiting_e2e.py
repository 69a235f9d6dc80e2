"""A farm missing a piece says so: a job with no live worker for its engine, then a book whose
chunks are all rendered with no control worker to stitch it.  Real API and worker processes
(Redis, PostgreSQL, S3 via moto; embedded fallbacks off-CI); ``voxfarm status`` shows the reason."""

from __future__ import annotations

import subprocess
import sys

from helpers import ROOT, ApiClient, create_key, start_api, start_worker, wait_for

BOOK = "\n\n".join(f"# Part {i}\n\nThe tide came in at dawn on day {i}. It went out again at dusk." for i in range(3))
ENV = dict(chunk_target_s='{"espeak": 3.0}', heartbeat_s=1)


def _status(url: str, key: str, job_id: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "voxfarm", "status", job_id, "--url", url, "--key", key],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_jobs_say_what_they_wait_for_until_it_arrives(prod_settings, tmp_path):
    settings = prod_settings.model_copy(update={"chunk_target_s": {"espeak": 3.0}, "heartbeat_s": 1})
    api, url = start_api(settings, tmp_path, **ENV)
    procs = [api]
    try:
        key = create_key(settings, "waiter")
        client = ApiClient(url, key)
        job = client.post("/v1/jobs", json={"text": BOOK, "text_format": "markdown"}).json()
        assert job["waiting_for"] == "worker" and job["progress"]["total"] > 2
        shown = _status(url, key, job["id"])
        assert shown.returncode == 0 and "waiting for a worker" in shown.stderr, shown.stderr

        procs.append(start_worker(settings, tmp_path, name="render-only", queues="tts.espeak", **ENV))

        def rendered():
            body = client.get(f"/v1/jobs/{job['id']}").json()
            return body if body["progress"]["done"] == body["progress"]["total"] else None

        body = wait_for(rendered, timeout=120, interval=0.3, what="all chunks rendered")
        assert body["status"] == "running" and body["waiting_for"] == "control_worker", body
        shown = _status(url, key, job["id"])
        assert "waiting for a control worker" in shown.stderr and "--queues control" in shown.stderr

        procs.append(start_worker(settings, tmp_path, engine=None, name="control", queues="control,webhooks",
                                  **ENV))
        done = client.wait(job["id"], timeout=120)
        assert done["status"] == "succeeded" and done["waiting_for"] is None
    finally:
        for proc in reversed(procs):
            proc.stop()
