"""Jobs that cannot run now say why; what can be validated at submit is (espeak languages)."""

from __future__ import annotations

from voxfarm.core.clock import utcnow
from voxfarm.core.models import WorkerRow


def _add_worker(api, name, engine, queues):
    with api.db.session() as s:
        s.add(WorkerRow(id=name, engine=engine, model="m", device="cpu", queues=queues, max_batch_size=8,
                        max_wait_ms=20, concurrency=4, hostname="h", pid=1, heartbeat_at=utcnow()))


def test_a_job_for_an_engine_without_live_workers_says_so(api):
    client = api.client()
    job = client.post("/v1/jobs", json={"text": "Nobody renders me yet.", "engine": "dia"}).json()
    assert job["status"] == "queued" and job["waiting_for"] == "worker"
    assert "'dia'" in job["waiting_message"]
    assert client.get(f"/v1/jobs/{job['id']}").json()["waiting_for"] == "worker"
    engines = {e["name"]: e for e in client.get("/v1/engines").json()["data"]}
    assert engines["dia"]["live_workers"] == 0 and engines["espeak"]["live_workers"] == 0
    ready = client.get("/readyz").json()
    assert ready["status"] == "degraded" and ready["workers"] == {"espeak": 0, "dia": 0, "control": 0}

    _add_worker(api, "dia@gpu1", "dia", ["tts.dia"])
    assert client.get(f"/v1/jobs/{job['id']}").json()["waiting_for"] is None
    listed = client.get("/v1/jobs").json()["data"]
    assert listed[0]["id"] == job["id"] and listed[0]["waiting_for"] is None
    engines = {e["name"]: e for e in client.get("/v1/engines").json()["data"]}
    assert engines["dia"]["live_workers"] == 1 and engines["espeak"]["live_workers"] == 0
    _add_worker(api, "espeak@cpu1", "espeak", ["tts.espeak"])
    _add_worker(api, "control@cpu1", "-", ["control", "webhooks"])
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert ready.json()["workers"] == {"espeak": 1, "dia": 1, "control": 1}


def test_espeak_languages_are_checked_at_submit(api):
    client = api.client()
    bad = client.post("/v1/jobs", json={"text": "Hola.", "params": {"language": "xx-yy"}})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "unknown_language"
    near = client.post("/v1/jobs", json={"text": "Hello.", "params": {"language": "en-uss"}}).json()
    assert near["error"]["code"] == "unknown_language" and "en-us" in near["error"]["message"]
    ok = client.post("/v1/jobs", json={"text": "Guten Tag.", "params": {"language": "DE"}})
    assert ok.status_code == 202 and ok.json()["params"]["language"] == "de"
    rp = client.post("/v1/jobs", json={"text": "Good day.", "params": {"language": "en-gb-x-rp"}})
    assert rp.status_code == 202, rp.text
    listed = {e["name"]: e for e in client.get("/v1/engines").json()["data"]}
    assert "en-us" in listed["espeak"]["languages"] and listed["dia"]["languages"] is None
