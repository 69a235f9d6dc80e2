"""Tenant isolation on every route: enumerate the URL map, and give each route another tenant's
ids -- the answer must be 404 (or 401 without a key), never the other tenant's data."""

from __future__ import annotations

import re

from helpers import tone, wav_bytes

PUBLIC = {"/healthz", "/readyz", "/openapi.json", "/static/<path:filename>"}


def test_every_route_is_tenant_scoped(api):
    owner, intruder = api.client("owner"), api.client("intruder")
    voice = owner.post("/v1/voices", data={"name": "v", "transcript": "t"},
                       files={"audio_file": ("v.wav", wav_bytes(tone(2.0)))}).json()
    job = owner.post("/v1/jobs", json={"text": "Private words.", "engine": "dia", "voice_id": voice["id"],
                                       "webhook": {"url": "http://127.0.0.1:9/h"}}).json()
    owner.post(f"/v1/jobs/{job['id']}/cancel")  # creates a webhook event (a delivery id)
    deliveries = owner.get(f"/v1/jobs/{job['id']}/webhook-deliveries").json()["data"]
    batch = owner.post("/v1/batches", json={"items": [{"text": "Private words in a batch."}]}).json()
    ids = {"job_id": job["id"], "voice_id": voice["id"], "delivery_id": deliveries[0]["id"], "name": "chapters.json",
           "batch_id": batch["id"]}
    checked = 0
    for rule in api.app.url_map.iter_rules():
        if rule.rule in PUBLIC or "<" not in rule.rule:
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: ids[m.group(1)], rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            kwargs = {"json": {}} if method in ("POST", "PUT") else {}
            resp = getattr(intruder, method.lower())(path, **kwargs)
            assert resp.status_code == 404, (method, path, resp.status_code, resp.text)
            assert "Private words" not in resp.text
            checked += 1
    assert checked >= 9  # every route with an id in its path, each method
    # and the owner still sees everything
    assert owner.get(f"/v1/jobs/{job['id']}").status_code == 200
    assert owner.get(f"/v1/voices/{voice['id']}").status_code == 200


def test_lists_only_show_the_callers_objects(api):
    a, b = api.client("a"), api.client("b")
    a.post("/v1/jobs", json={"text": "Mine."})
    assert b.get("/v1/jobs").json()["data"] == []
    assert b.get("/v1/voices").json()["data"] == []


def test_every_non_public_route_requires_a_key(api):
    from helpers import ApiClient

    anonymous = ApiClient(api.url)
    for rule in api.app.url_map.iter_rules():
        if rule.rule in PUBLIC:
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", "x", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            assert getattr(anonymous, method.lower())(path).status_code == 401, (method, path)
