"""Bulk intake over HTTP: one transaction, whole-batch refusal, idempotency, progress, cancel,
manifest, and batch.completed exactly once.  Counts are read from the database, not the API."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from voxfarm.core.models import Batch, Chunk, Job, Outbox, WebhookEvent
from voxfarm.core.state import events
from voxfarm.core.state.lifecycle import JobStatus, set_job_status
from voxfarm.core.state.outbox import unit_of_work


def _count(api, model, *where) -> int:
    with api.db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_batch_writes_every_item_with_defaults_merged(api):
    client = api.client()
    body = {"defaults": {"engine": "espeak", "params": {"speed": 150}, "metadata": {"project": "dub"}, "priority": 1},
            "items": [{"text": f"Line number {i}.", "metadata": {"line": i}} for i in range(25)]
            + [{"text": "Faster line.", "params": {"speed": 220}, "priority": 9}]}
    resp = client.post("/v1/batches", json=body)
    assert resp.status_code == 202, resp.text
    batch = resp.json()
    assert batch["total"] == 26 and batch["counts"]["queued"] == 26 and batch["status"] == "queued"
    assert _count(api, Job, Job.batch_id == batch["id"]) == 26
    with api.db.session() as s:
        jobs = list(s.scalars(select(Job).where(Job.batch_id == batch["id"]).order_by(Job.batch_index)))
        assert [j.batch_index for j in jobs] == list(range(26))
        assert jobs[3].metadata_ == {"project": "dub", "line": 3} and jobs[3].text == "Line number 3."
        assert jobs[3].params["speed"] == 150 and jobs[25].params["speed"] == 220  # the item wins
        assert jobs[3].priority == 1 and jobs[25].priority == 9
        chunk_ids = set(s.scalars(select(Chunk.id).where(Chunk.job_id.in_([j.id for j in jobs]))))
        published = [o.args[0] for o in s.scalars(select(Outbox).where(Outbox.task == "voxfarm.render_chunk"))]
    assert len(chunk_ids) == 26 and set(published) <= chunk_ids and published


def test_one_invalid_item_refuses_the_whole_batch(api):
    client = api.client()
    items = [{"text": f"Good line {i}."} for i in range(10)]
    items[7] = {"text": "Bad params.", "params": {"temperature": 1.0}}
    resp = client.post("/v1/batches", json={"items": items})
    assert resp.status_code == 422, resp.text
    err = resp.json()["error"]
    assert err["code"] == "invalid_batch_item" and err["details"]["index"] == 7
    assert err["details"]["error"]["code"] == "unsupported_param" and "item 7" in err["message"]
    items[7] = {"text": "x", "surprise": True}  # a schema error names the item too
    err = client.post("/v1/batches", json={"items": items}).json()["error"]
    assert err["details"]["index"] == 7 and err["details"]["error"]["code"] == "validation_error"
    assert _count(api, Job) == 0 and _count(api, Batch) == 0 and _count(api, Chunk) == 0
    assert _count(api, Outbox) == 0


def test_batch_limits_and_bad_bodies(make_api):
    api = make_api(batch_max_items=5)
    client = api.client()
    resp = client.post("/v1/batches", json={"items": [{"text": "x"}] * 6})
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "batch_too_large"
    assert client.post("/v1/batches", json={"items": []}).json()["error"]["code"] == "empty_batch"
    assert client.post("/v1/batches", data="items", headers={"Content-Type": "text/plain"}).status_code == 415
    assert client.post("/v1/batches", data="{", headers={"Content-Type": "application/json"}).status_code == 400
    assert client.get("/v1/batches/bat_nope").status_code == 404
    hook = client.post("/v1/batches", json={"items": [{"text": "x"}], "webhook": {"url": "http://169.254.169.254/x"}})
    assert hook.status_code == 422 and hook.json()["error"]["code"] == "url_not_allowed"
    other = api.client("other").get("/v1/batches/bat_01ABCDEFGHJKMNPQRSTVWXYZ01").json()
    assert other["error"]["code"] == "batch_not_found"
    assert _count(api, Job) == 0


def test_jsonl_upload_with_defaults_line(api):
    client = api.client()
    lines = [json.dumps({"defaults": {"metadata": {"src": "file"}}})] + [json.dumps({"text": f"Upload {i}."})
                                                                         for i in range(5)]
    resp = client.post("/v1/batches/upload", files={"items": ("lines.jsonl", "\n".join(lines).encode())})
    assert resp.status_code == 202, resp.text
    bid = resp.json()["id"]
    page = client.get(f"/v1/batches/{bid}/jobs", params={"limit": 2}).json()
    assert [j["metadata"] for j in page["data"]] == [{"src": "file"}] * 2 and page["next_cursor"]
    seen = []
    cursor = None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"/v1/batches/{bid}/jobs", params=query).json()
        seen += [j["id"] for j in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    with api.db.session() as s:
        expected = list(s.scalars(select(Job.id).where(Job.batch_id == bid).order_by(Job.batch_index)))
    assert seen == expected and len(seen) == 5
    bad = client.post("/v1/batches/upload", files={"items": ("l.jsonl", b'{"text": "ok"}\nnot json\n')})
    assert bad.status_code == 422 and bad.json()["error"]["details"] == {"line": 2}


def test_idempotency_key_replays_the_batch(api):
    client = api.client()
    body = {"items": [{"text": "Once."}, {"text": "Twice."}]}
    first = client.post("/v1/batches", json=body, headers={"Idempotency-Key": "bulk-1"})
    again = client.post("/v1/batches", json=body, headers={"Idempotency-Key": "bulk-1"})
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"] and again.headers.get("Idempotent-Replayed") == "true"
    assert _count(api, Job) == 2 and _count(api, Batch) == 1
    other = client.post("/v1/batches", json={"items": [{"text": "Else."}]}, headers={"Idempotency-Key": "bulk-1"})
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"


def _finish(api, job_id: str, to: JobStatus) -> None:
    with unit_of_work(api.db, None) as s:
        assert set_job_status(s, job_id, to)
        events.emit(s, s.get(Job, job_id), f"job.{to}")


def test_progress_manifest_and_batch_completed_once(api):
    client = api.client()
    client.put("/v1/webhooks/endpoint", json={"url": "http://127.0.0.1:9/hook"})
    bid = client.post("/v1/batches", json={"items": [{"text": f"Item {i}."} for i in range(4)]}).json()["id"]
    with api.db.session() as s:
        ids = list(s.scalars(select(Job.id).where(Job.batch_id == bid).order_by(Job.batch_index)))
    _finish(api, ids[0], JobStatus.failed)
    _finish(api, ids[1], JobStatus.succeeded)
    state = client.get(f"/v1/batches/{bid}").json()
    assert state["counts"]["failed"] == 1 and state["counts"]["succeeded"] == 1 and state["counts"]["queued"] == 2
    assert state["progress"]["jobs_done"] == 2 and state["status"] == "running"
    assert _count(api, WebhookEvent, WebhookEvent.type == "batch.completed") == 0
    canceled = client.post(f"/v1/batches/{bid}/cancel").json()
    assert canceled["status"] == "completed" and canceled["counts"]["canceled"] == 2 and canceled["cancel_requested"]
    assert canceled["counts"]["succeeded"] == 1  # finished jobs keep their outcome
    assert _count(api, WebhookEvent, WebhookEvent.type == "batch.completed", WebhookEvent.job_id == bid) == 1
    client.post(f"/v1/batches/{bid}/cancel")  # again: nothing left to end, no second event
    with unit_of_work(api.db, None) as s:
        assert not events.complete_batch_if_done(s, bid)
    assert _count(api, WebhookEvent, WebhookEvent.type == "batch.completed") == 1
    lines = [json.loads(x) for x in client.get(f"/v1/batches/{bid}/manifest").text.splitlines()]
    assert [x["index"] for x in lines] == [0, 1, 2, 3] and [x["job_id"] for x in lines] == ids
    assert [x["status"] for x in lines] == ["failed", "succeeded", "canceled", "canceled"]
    assert set(lines[0]) >= {"result_url", "sha256", "duration_s"}


def test_openapi_documents_batch_routes_and_errors(api):
    doc = api.client().get("/openapi.json").json()
    post = doc["paths"]["/v1/batches"]["post"]["responses"]
    assert {"202", "400", "401", "409", "413", "415", "422"} <= set(post)
    assert "404" in doc["paths"]["/v1/batches/{batch_id}"]["get"]["responses"]
