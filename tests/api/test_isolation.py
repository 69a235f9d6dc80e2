"""Tenant isolation on every route: enumerate the URL map, and give each route another tenant's
ids -- the answer must be 404 (or 401 without a key), never the other tenant's data."""

from __future__ import annotations

import hashlib
import re

from helpers import render_in_process, tone, wav_bytes

# README: public, aggregates only
PUBLIC = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/static/<path:filename>",
          # the console's static pages (api/console.py): they hold no data; every call they make takes a key
          "/", "/docs", "/openapi/swagger", "/docs/swagger-ui.css", "/docs/swagger-ui-bundle.js"}
LEXICON = {"name": "private", "rules": [{"grapheme": "Private", "alias": "Privy"}]}


def test_every_route_is_tenant_scoped(api):
    """Probe with real ids: a finished job with its files, a voice, a webhook delivery -- each
    shown to exist by its owner getting it on the very same URL."""
    owner, intruder = api.client("owner"), api.client("intruder")
    voice = owner.post("/v1/voices", data={"name": "v", "transcript": "t"},
                       files={"audio_file": ("v.wav", wav_bytes(tone(2.0)))}).json()
    job = owner.post("/v1/jobs", json={"text": "# One\nPrivate words.\n\n# Two\nMore private words.",
                                       "webhook": {"url": "http://127.0.0.1:9/h"}}).json()
    render_in_process(api.settings, job["id"])
    finished = owner.get(f"/v1/jobs/{job['id']}").json()
    assert finished["status"] == "succeeded" and "chapters.json" in finished["result"]["files"]
    deliveries = owner.get(f"/v1/jobs/{job['id']}/webhook-deliveries").json()["data"]
    [succeeded] = [d for d in deliveries if d["type"] == "job.succeeded"]
    batch = owner.post("/v1/batches", json={"items": [{"text": "Private words in a batch."}]}).json()
    lexicon = owner.post("/v1/lexicons", json=LEXICON).json()
    ids = {"job_id": job["id"], "voice_id": voice["id"], "delivery_id": succeeded["id"], "name": "chapters.json",
           "batch_id": batch["id"], "lexicon_id": lexicon["id"]}
    probes = []
    for rule in api.app.url_map.iter_rules():
        if rule.rule in PUBLIC or "<" not in rule.rule:
            continue
        path = re.sub(r"<(?:[^<>]+:)?(\w+)>", lambda m: ids[m.group(1)], rule.rule)
        probes += [(method, path) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    assert len(probes) >= 9  # every route with an id in its path, each method
    for method, path in probes:
        kwargs = {"json": LEXICON if method == "PUT" else {}} if method in ("POST", "PUT") else {}
        resp = getattr(intruder, method.lower())(path, **kwargs)
        assert resp.status_code == 404, (method, path, resp.status_code, resp.text)
        assert "Private words" not in resp.text
    # the same URLs answer their owner: the probes hit objects that exist (deletion last)
    for method, path in sorted(probes, key=lambda p: p[0] == "DELETE"):
        kwargs = {"json": LEXICON if method == "PUT" else {}} if method in ("POST", "PUT") else {}
        resp = getattr(owner, method.lower())(path, **kwargs)
        if method in ("GET", "PUT"):  # a lexicon's rules are replaced: 200
            assert resp.status_code == 200, (path, resp.status_code, resp.text[:300])
        elif method == "POST" and "/batches/" in path:  # canceling a batch is idempotent: 200
            assert resp.status_code == 200 and resp.json()["cancel_requested"], (path, resp.status_code)
        elif method == "POST":  # cancel a finished job, resend a scheduled delivery: the object is there
            assert resp.status_code in (202, 409), (path, resp.status_code, resp.text[:300])
            if resp.status_code == 409:
                assert resp.json()["error"]["code"] in ("job_not_cancelable", "delivery_pending")
        else:
            assert resp.status_code == 204, (method, path, resp.status_code)
    audio = owner.get(f"/v1/jobs/{job['id']}/audio").content
    assert hashlib.sha256(audio).hexdigest() == finished["result"]["sha256"]


def test_lists_only_show_the_callers_objects(api):
    a, b = api.client("a"), api.client("b")
    a.post("/v1/jobs", json={"text": "Mine."})
    assert b.get("/v1/jobs").json()["data"] == []
    assert b.get("/v1/voices").json()["data"] == []
    a.post("/v1/lexicons", json=LEXICON)
    assert b.get("/v1/lexicons").json()["data"] == [] and len(a.get("/v1/lexicons").json()["data"]) == 1
    # a job naming another tenant's lexicon, by name or id, is refused as if it did not exist
    mine = a.get("/v1/lexicons").json()["data"][0]
    for ref in ("private", mine["id"]):
        resp = b.post("/v1/jobs", json={"text": "Private words.", "lexicons": [ref]})
        assert resp.status_code == 404 and resp.json()["error"]["code"] == "lexicon_not_found", resp.text


def test_every_non_public_route_requires_a_key(api):
    from helpers import ApiClient

    anonymous = ApiClient(api.url)
    for rule in api.app.url_map.iter_rules():
        if rule.rule in PUBLIC:
            continue
        # a route whose id converter (api/contract.py) routes only well-formed ids gets one of those
        path = re.sub(r'<(?:id\("(\w+)"\):|\w+:)?(\w+)>', lambda m: f"{m.group(1)}_{'0' * 26}" if m.group(1) else "x",
                      rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            assert getattr(anonymous, method.lower())(path).status_code == 401, (method, path)
