"""Metrics and usage through real processes: the API under gunicorn (multiprocess metrics) and an
espeak worker serving its own /metrics, over PostgreSQL + Redis + S3 (embedded fallbacks off-CI).

Every expected figure is computed by the test from what it sent and from the chunk plans the API
returns, never read back from the figure under test.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import requests
from prometheus_client.parser import text_string_to_metric_families

from helpers import ROOT, ApiClient, create_key, free_port, settings_env, start_api, start_worker

# distinct texts: a repeated one could be a cache hit or (espeak is not bit-deterministic) a
# concurrent second render whose audio loses the write-once race, and the counts would blur
TEXTS = ["Short line.", "A second, somewhat longer line of text for the farm.",
         "One sentence here. Another sentence there. And a third one to close the paragraph.",
         "Numbers: one, two, three.", "The fifth job speaks a little.", "And the sixth ends it."]


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    resp = requests.get(f"{url}/metrics", timeout=10)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(resp.text) for s in family.samples}


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples, name: str, **match) -> float:
    return sum(v for (n, labels), v in samples.items()
               if n == name and all(dict(labels).get(k) == x for k, x in match.items()))


def test_queue_signal_rises_and_drains_and_usage_adds_up(prod_settings, tmp_path):
    settings = prod_settings.model_copy(update={"quality_gate": False})
    api, url = start_api(settings, tmp_path, quality_gate="false")
    key, other_key = create_key(settings, "acme"), create_key(settings, "other")
    client = ApiClient(url, key)
    before = datetime.now(UTC)
    try:
        ids = []
        for text in TEXTS:
            resp = client.post("/v1/jobs", json={"text": text, "engine": "espeak", "params": {"seed": 1}})
            assert resp.status_code == 202, resp.text
            ids.append(resp.json()["id"])
        plans = {j: client.get(f"/v1/jobs/{j}/chunks").json()["chunks"] for j in ids}
        chunks = [c for plan in plans.values() for c in plan]
        expected_s = sum(c["expected_s"] for c in chunks)

        backlog = scrape(url)
        assert value(backlog, "voxfarm_queue_chunks", engine="espeak", state="queued") == len(chunks)
        assert abs(value(backlog, "voxfarm_queue_audio_seconds", engine="espeak", state="queued")
                   - expected_s) < 0.01
        assert value(backlog, "voxfarm_jobs", status="queued") == len(TEXTS)
        assert value(backlog, "voxfarm_live_workers", engine="espeak") == 0
        assert value(backlog, "voxfarm_api_requests_total", route="/v1/jobs", method="POST",
                     status="202") == len(TEXTS)

        port = free_port()
        worker = start_worker(settings, tmp_path, engine="espeak", name="m1", metrics_port=port,
                              quality_gate="false")
        try:
            done = [client.wait(j, timeout=180) for j in ids]
            assert [j["status"] for j in done] == ["succeeded"] * len(ids), [j["error"] for j in done]
            rendered = [c for j in ids for c in client.get(f"/v1/jobs/{j}/chunks").json()["chunks"]]
            worker_metrics = scrape(f"http://127.0.0.1:{port}")
            drained = scrape(url)
        finally:
            worker.stop()
        use = client.get("/v1/usage").json()
        window = client.get("/v1/usage", params={"to": before.isoformat()}).json()
        bad = client.get("/v1/usage", params={"from": "yesterday"})
        reversed_ = client.get("/v1/usage", params={"from": datetime.now(UTC).isoformat(),
                                                     "to": before.isoformat()})
        later = client.get("/v1/usage", params={
            "from": (before - timedelta(hours=1)).isoformat(),
            "to": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}).json()
        others = ApiClient(url, other_key).get("/v1/usage").json()
        cli = subprocess.run([sys.executable, "-m", "voxfarm", "usage", "--url", url, "--key", key],
                             capture_output=True, text=True, env=settings_env(settings), cwd=ROOT, timeout=60)
    finally:
        api.stop()

    assert value(drained, "voxfarm_queue_chunks", engine="espeak", state="queued") == 0
    assert value(drained, "voxfarm_queue_audio_seconds", engine="espeak", state="queued") == 0
    assert value(drained, "voxfarm_jobs", status="succeeded") == len(TEXTS)
    fresh = [c for c in rendered if not c["cache_hit"]]
    # every rendered item passed through exactly one engine call, and its audio was counted once
    assert total(worker_metrics, "voxfarm_batch_size_sum", engine="espeak") == len(fresh)
    audio = sum(c["duration_s"] for c in fresh)
    assert abs(total(worker_metrics, "voxfarm_audio_seconds_rendered_total", engine="espeak") - audio) < 0.01

    assert use["total"]["chunks"] == len(rendered)
    assert use["total"]["characters"] == sum(len(c["text"]) for c in rendered)
    assert abs(use["total"]["audio_s"] - sum(c["duration_s"] for c in rendered)) < 0.01
    engine_seconds = total(worker_metrics, "voxfarm_engine_seconds_total", engine="espeak")
    assert 0 < use["total"]["engine_s"] and abs(use["total"]["engine_s"] - engine_seconds) < 0.01
    assert sorted(j["job_id"] for j in use["jobs"]) == sorted(ids)
    per_job_chars = {j["job_id"]: j["characters"] for j in use["jobs"]}
    assert per_job_chars == {j: sum(len(c["text"]) for c in plans[j]) for j in ids}
    assert later["total"] == use["total"]
    assert window["total"]["chunks"] == 0 and window["jobs"] == []
    assert others["total"]["chunks"] == 0 and others["tenant"] == "other"
    assert bad.status_code == 422 and reversed_.status_code == 422
    assert cli.returncode == 0 and "total" in cli.stdout and ids[0] in cli.stdout, cli.stderr
