"""Job intake over HTTP: bad input, listing, cancel, idempotency, auth."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import func, select

from voxfarm.core.jobs import idempotency
from voxfarm.core.models import Chunk, Job

from helpers import ApiClient, create_key

BAD = [
    ('{"text": ""}', "application/json", 422, "empty_text"),
    ('{"text": "   \\n "}', "application/json", 422, "empty_text"),
    ('{"text": "x", "engine": "nope"}', "application/json", 422, "unknown_engine"),
    ('{"text": "x", "output": {"format": "aiff"}}', "application/json", 422, "validation_error"),
    ('{"text": "x", "params": {"temperature": 1.0}}', "application/json", 422, "unsupported_param"),
    ('{"text": "x", "surprise": 1}', "application/json", 422, "validation_error"),
    ('{"text": ', "application/json", 400, "invalid_json"),
    ('["a list"]', "application/json", 422, "validation_error"),
    ('{"text": "x"}', "text/plain", 415, "unsupported_media_type"),
    ('text=x', "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ('{"text": "x", "webhook": {"url": "http://169.254.169.254/latest"}}', "application/json", 422, "url_not_allowed"),
    ('{"text": "x", "voice_id": "voice_01ABCDEFGHJKMNPQRSTVWXYZ01"}', "application/json", 422, "engine_cannot_clone"),
    ('{"text": "x", "engine": "dia", "voice_id": "voice_01ABCDEFGHJKMNPQRSTVWXYZ01"}', "application/json", 404,
     "voice_not_found"),
    ('{"text": "x", "output": {"format": "mp3", "sample_rate": 9000}}', "application/json", 422,
     "unsupported_sample_rate"),
    ('{"text": "x", "output": {"format": "m4b", "sample_rate": 44000}}', "application/json", 422,
     "unsupported_sample_rate"),
]


def _jobs(api) -> int:
    with api.db.session() as s:
        return s.scalar(select(func.count()).select_from(Job))


@pytest.mark.parametrize("body,ctype,status,code", BAD)
def test_bad_input_is_4xx_and_creates_nothing(api, body, ctype, status, code):
    client = api.client()
    before = _jobs(api)
    resp = client.post("/v1/jobs", data=body, headers={"Content-Type": ctype})
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == code and resp.json()["error"]["message"]
    assert _jobs(api) == before


def test_text_over_the_limit_is_413(make_api):
    api = make_api(max_text_chars=100)
    resp = api.client().post("/v1/jobs", json={"text": "word " * 40})
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "text_too_long"
    assert _jobs(api) == 0


def test_body_over_the_request_cap_is_413(make_api):
    api = make_api(max_request_bytes=10_000)
    resp = api.client().post("/v1/jobs", data=json.dumps({"text": "x" * 20_000}),
                             headers={"Content-Type": "application/json"})
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "payload_too_large"


def test_a_rate_the_encoder_lacks_is_refused_with_the_allowed_rates(api):
    client = api.client()
    resp = client.post("/v1/jobs", json={"text": "x", "output": {"format": "mp3", "sample_rate": 9000}})
    error = resp.json()["error"]
    assert resp.status_code == 422 and "9000" in error["message"] and "8000, 11025" in error["message"]
    allowed = error["details"]["allowed_sample_rates"]
    assert allowed["mp3"] == allowed["m4b"] == [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000]
    assert allowed["wav"] == allowed["flac"] == allowed["ogg"] == "8000-48000"
    ok = client.post("/v1/jobs", json={"text": "x", "output": {"format": "ogg", "sample_rate": 9000}})
    assert ok.status_code == 202 and ok.json()["output"]["sample_rate"] == 9000


def test_job_resource_metadata_priority_and_plan(api):
    client = api.client()
    resp = client.post("/v1/jobs", json={"text": "# One\nFirst line.\n\n# Two\nSecond line.", "text_format": "markdown",
                                         "metadata": {"order": 7, "tags": ["a"]}, "priority": 5,
                                         "output": {"format": "mp3", "sample_rate": 24000}})
    assert resp.status_code == 202
    job = resp.json()
    assert job["metadata"] == {"order": 7, "tags": ["a"]} and job["priority"] == 5
    assert job["output"]["format"] == "mp3" and job["progress"]["total"] == 4  # each chapter's title is read first
    plan = client.get(f"/v1/jobs/{job['id']}/chunks").json()
    assert [c["title"] for c in plan["chapters"]] == ["One", "Two"]
    assert [c["text"] for c in plan["chunks"]] == ["One.", "First line.", "Two.", "Second line."]
    assert client.get(f"/v1/jobs/{job['id']}/audio").json()["error"]["code"] == "result_not_ready"


def test_list_is_newest_first_with_cursor_pagination_and_status_filter(api):
    client = api.client()
    ids = [client.post("/v1/jobs", json={"text": f"Job number {i}."}).json()["id"] for i in range(23)]
    seen, cursor = [], None
    while True:
        page = client.get("/v1/jobs", params={"limit": 10, **({"cursor": cursor} if cursor else {})}).json()
        seen += [j["id"] for j in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))
    client.post(f"/v1/jobs/{ids[0]}/cancel")
    canceled = client.get("/v1/jobs", params={"status": "canceled"}).json()["data"]
    assert [j["id"] for j in canceled] == [ids[0]]
    assert client.get("/v1/jobs", params={"cursor": "!!not-base64!!"}).status_code == 422


def test_cancel_a_queued_job(api):
    client = api.client()
    job = client.post("/v1/jobs", json={"text": "Never to be spoken."}).json()
    resp = client.post(f"/v1/jobs/{job['id']}/cancel")
    assert resp.status_code == 200 and resp.json()["status"] == "canceled"
    assert client.post(f"/v1/jobs/{job['id']}/cancel").status_code == 200  # idempotent
    with api.db.session() as s:
        assert {c.status for c in s.scalars(select(Chunk).where(Chunk.job_id == job["id"]))} == {"canceled"}


def test_idempotent_submission(api):
    client = api.client()
    body = {"text": "Say it once.", "metadata": {"n": 1}}
    first = client.post("/v1/jobs", json=body, headers={"Idempotency-Key": "abc"})
    again = client.post("/v1/jobs", data=json.dumps(body, indent=4), headers={"Idempotency-Key": "abc",
                                                                               "Content-Type": "application/json"})
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    other = client.post("/v1/jobs", json={"text": "Something else."}, headers={"Idempotency-Key": "abc"})
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    bad = client.post("/v1/jobs", json={"text": ""}, headers={"Idempotency-Key": "val"})
    assert bad.status_code == 422
    ok = client.post("/v1/jobs", json={"text": "Now valid."}, headers={"Idempotency-Key": "val"})
    assert ok.status_code == 202  # a failed validation was not remembered
    assert _jobs(api) == 2
    # another tenant may use the same key for its own request
    other = api.client("other").post("/v1/jobs", json=body, headers={"Idempotency-Key": "abc"})
    assert other.json()["id"] != first.json()["id"]


def test_concurrent_duplicate_gets_409(api):
    client = api.client()
    body = {"text": "In flight."}
    with api.db.session() as s:
        from voxfarm.core.models import Tenant

        tenant_id = s.scalar(select(Tenant.id).where(Tenant.name == "acme"))
    fp = idempotency.fingerprint("POST", "/v1/jobs", json.dumps(body, sort_keys=True, separators=(",", ":")))
    assert idempotency.begin(api.db, tenant_id, "POST /v1/jobs", "busy", fp, 3600) is None  # first one running
    resp = client.post("/v1/jobs", json=body, headers={"Idempotency-Key": "busy"})
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "idempotency_in_progress"


def test_racing_duplicates_create_one_job(api):
    client = api.client()
    results = []

    def go():
        results.append(client.post("/v1/jobs", json={"text": "Race me."}, headers={"Idempotency-Key": "race"}))

    threads = [threading.Thread(target=go) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = {r.json()["id"] for r in results if r.status_code == 202}
    assert len(ids) == 1 and all(r.status_code in (202, 409) for r in results)
    assert _jobs(api) == 1


def test_auth_is_required_and_revocation_works(api):
    assert ApiClient(api.url).get("/v1/jobs").status_code == 401
    assert ApiClient(api.url, "vf_notreal000_" + "x" * 43).get("/v1/jobs").json()["error"]["code"] == "invalid_api_key"
    key = create_key(api.settings, "acme")
    client = ApiClient(api.url, key)
    assert client.get("/v1/jobs").status_code == 200
    from voxfarm.core.tenants.accounts import revoke_key

    with api.db.session() as s:
        revoke_key(s, key.split("_")[1])
    assert client.get("/v1/jobs").status_code == 401


def test_health_and_readiness(api):
    assert ApiClient(api.url).get("/healthz").json()["status"] == "ok"
    ready = ApiClient(api.url).get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "broker": "ok", "storage": "ok"}


@pytest.mark.parametrize("engine,params,code", [
    ("zipvoice", {"speed": 3.0}, "invalid_param"),  # zipvoice's speed is a rate, 0.5-2
    ("zipvoice", {"num_steps": 65}, "invalid_param"),
    ("zipvoice", {"t_shift": 0}, "invalid_param"),
    ("zipvoice", {"max_new_tokens": 10}, "unsupported_param"),
    ("espeak", {"speed": 1.5}, "invalid_param"),  # espeak's speed is whole words per minute
])
def test_params_are_checked_against_the_engine(make_api, engine, params, code):
    api = make_api(engines=["espeak", "zipvoice"])
    resp = api.client().post("/v1/jobs", json={"text": "Hello.", "engine": engine, "params": params})
    assert resp.status_code == 422 and resp.json()["error"]["code"] == code, resp.text
    if "speed" in params:
        allowed = resp.json()["error"]["details"]["allowed"]
        assert "speed" in resp.json()["error"]["message"] and any(p["name"] == "speed" for p in allowed)
    assert _jobs(api) == 0


def test_zipvoice_params_are_stored_with_defaults(make_api):
    api = make_api(engines=["espeak", "zipvoice"])
    resp = api.client().post("/v1/jobs", json={"text": "Hello.", "engine": "zipvoice",
                                               "params": {"num_steps": 8, "guidance_scale": 3.0, "speed": 1.2}})
    assert resp.status_code == 202, resp.text
    params = resp.json()["params"]
    assert params["num_steps"] == 8 and params["speed"] == 1.2 and params["t_shift"] == 0.5
    assert params["remove_long_silence"] is False
