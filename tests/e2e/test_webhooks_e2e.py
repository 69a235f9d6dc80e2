"""Issue 5 end to end: jobs render on a worker, events are delivered by a separate delivery worker
(the ``webhooks`` queue), and killing that worker mid-retry loses no event."""

from __future__ import annotations

import pytest

from tests.webhooks.receiver import Receiver

from helpers import ApiClient, create_key, start_api, start_worker, wait_for

FAST = dict(webhook_schedule_s="0,1,1,1,2,2,2,2", webhook_jitter=0, reconcile_interval_s=1, resend_grace_s=2)


@pytest.fixture
def hook_settings(prod_settings):
    return prod_settings.model_copy(update={"webhook_schedule_s": [0, 1, 1, 1, 2, 2, 2, 2], "webhook_jitter": 0.0,
                                            "reconcile_interval_s": 1.0, "resend_grace_s": 2.0})


def test_delivery_survives_a_killed_delivery_worker(hook_settings, tmp_path):
    api, url = start_api(hook_settings, tmp_path, **FAST)
    client = ApiClient(url, create_key(hook_settings, "acme"))
    secret = client.get("/v1/webhooks/secret").json()["secret"]
    state = {"up": False}
    receiver = Receiver([secret], lambda n: (200, {}, 0.0) if state["up"] else (503, {}, 0.0))
    render = start_worker(hook_settings, tmp_path, engine="espeak", name="render", **FAST)
    hooks = start_worker(hook_settings, tmp_path, engine=None, name="hooks", queues="webhooks,control", beat=True,
                         **FAST)
    restarted = None
    try:
        ids = [client.post("/v1/jobs", json={"text": f"Tell me when {i} is done.",
                                             "webhook": {"url": receiver.url}}).json()["id"] for i in range(6)]
        for job_id in ids:
            assert client.wait(job_id, timeout=60)["status"] == "succeeded"
        # every event has failed at least once and is waiting for a retry
        wait_for(lambda: len({r.headers["webhook-id"] for r in receiver.requests}) == 6, timeout=30,
                 what="a first attempt per event")
        hooks.kill()
        state["up"] = True
        restarted = start_worker(hook_settings, tmp_path, engine=None, name="hooks", queues="webhooks,control",
                                 beat=True, **FAST)

        def delivered():
            rows = [client.get(f"/v1/jobs/{j}/webhook-deliveries").json()["data"] for j in ids]
            return all(any(d["status"] == "delivered" for d in r) for r in rows) and rows

        rows = wait_for(delivered, timeout=90, interval=0.5, what="every event delivered")
    finally:
        for proc in (render, hooks, restarted, api):
            if proc is not None:
                proc.stop()
        receiver.stop()
    ok = [r for r in receiver.requests if r.verified and r.json["data"]["status"] == "succeeded"]
    assert len(ok) == len(receiver.requests)  # every request was signed correctly
    assert {r.headers["webhook-id"] for r in ok} == {d["id"] for row in rows for d in row}
    for row in rows:
        [event] = row
        assert event["type"] == "job.succeeded" and event["status"] == "delivered"
        first, last = event["attempts"][0], event["attempts"][-1]
        # the first attempt failed -- or was cut short by the kill, and is recorded as such
        assert first["status_code"] == 503 or (first["status_code"] is None and "interrupted" in first["error"])
        assert last["status_code"] == 200 and last["error"] is None
        assert [a["attempt"] for a in event["attempts"]] == list(range(1, len(event["attempts"]) + 1))
    assert all(r.json["data"]["result"]["url"] for r in ok)  # payload = the job resource with its result URL


def test_webhook_routes(make_api):
    api = make_api()
    client = api.client()
    first = client.get("/v1/webhooks/secret").json()
    assert first["secret"].startswith("whsec_") and first["previous_secret_valid_until"] is None
    rotated = client.post("/v1/webhooks/secret/rotate").json()
    assert rotated["secret"] != first["secret"] and rotated["previous_secret_valid_until"]
    assert client.put("/v1/webhooks/endpoint", json={"url": "http://127.0.0.1:9/default"}).status_code == 200
    assert client.get("/v1/webhooks/endpoint").json()["url"] == "http://127.0.0.1:9/default"
    job = client.post("/v1/jobs", json={"text": "x", "webhook": {"url": "http://127.0.0.1:9/job",
                                                                   "events": ["job.canceled"]}}).json()
    client.post(f"/v1/jobs/{job['id']}/cancel")
    deliveries = client.get(f"/v1/jobs/{job['id']}/webhook-deliveries").json()["data"]
    # the job's own webhook replaces the default endpoint for this job: one delivery, not two
    assert [d["type"] for d in deliveries] == ["job.canceled"]
    assert client.post(f"/v1/webhook-deliveries/{deliveries[0]['id']}/redeliver").status_code == 409  # pending
    from sqlalchemy import update

    from voxfarm.core.models import WebhookEvent

    with api.db.session() as s:
        s.execute(update(WebhookEvent).where(WebhookEvent.id == deliveries[0]["id"]).values(status="failed"))
    again = client.post(f"/v1/webhook-deliveries/{deliveries[0]['id']}/redeliver")
    assert again.status_code == 202 and again.json()["status"] == "pending"
    assert client.post("/v1/webhook-deliveries/msg_nope/redeliver").status_code == 404
    assert client.put("/v1/webhooks/endpoint", json={"url": None}).json() == {"url": None}
