"""Issue 7 section 4: hostile and malformed input, on every route.

Every answer must be a 4xx in the common error shape -- never a 5xx -- the worker process must
survive, and nothing stored may change (database rows and objects are compared before/after).
"""

from __future__ import annotations

import base64
import json
import re
import struct

import pytest
from sqlalchemy import text

from helpers import ApiClient, start_worker, tone, wait_for, wav_bytes

HUGE = "x" * 1_000_000
UNICODE = ["\u0000", "\ud800", "\udfff", "a\u0000b", "\u202eevil", "\u200b", "🎙️" * 1000, "\uffff", "\\",
           "'; DROP TABLE jobs; --"]
PATHY = ["../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "%00", "job_%00", "a/b", "~root", "%2e%2e", "C:\\windows"]


def _bodies() -> list[tuple[str, bytes, str]]:
    out = [("malformed", b'{"text": "unterminated', "application/json"),
           ("not json", b"\x00\x01\x02\xff", "application/json"),
           ("array", b"[1, 2, 3]", "application/json"),
           ("number", b"42", "application/json"),
           ("null", b"null", "application/json"),
           ("wrong types", json.dumps({"text": 5, "params": "hot", "output": [], "metadata": 3,
                                       "priority": "high", "name": 1, "transcript": {}}).encode(), "application/json"),
           ("nested depth", ("[" * 5000 + "]" * 5000).encode(), "application/json"),
           ("huge string", json.dumps({"text": HUGE * 3, "name": HUGE}).encode(), "application/json"),
           ("bad base64", json.dumps({"name": "n", "transcript": "t", "audio_base64": "%%%%",
                                      "document_base64": "%%%%"}).encode(), "application/json"),
           ("xml", b"<job><text>hi</text></job>", "application/xml")]
    for s in UNICODE:
        out.append((f"unicode {s[:3]!r}", json.dumps({"text": s, "name": s, "transcript": s, "title": s,
                                                      "metadata": {s: s}, "url": s}).encode(), "application/json"))
    return out


def _hostile_audio() -> list[tuple[str, bytes]]:
    wav = wav_bytes(tone(2.0))
    lying = bytearray(wav)
    i = lying.find(b"data")
    lying[i + 4:i + 8] = struct.pack("<I", 2**31 - 2)
    return [("text named .wav", b"this is not audio at all"), ("truncated header", wav[:20]),
            ("2^31 frames", bytes(lying)), ("ADPCM", wav_bytes(tone(2.0), subtype="IMA_ADPCM")),
            ("empty", b""), ("riff garbage", b"RIFF\xff\xff\xff\xffWAVEfmt " + b"\xff" * 200),
            ("ogg garbage", b"OggS" + b"\x00" * 500), ("flac garbage", b"fLaC" + b"\xff" * 500),
            ("mp3 sync garbage", b"\xff\xfb" + b"\x00" * 1000)]


def _snapshot(api) -> dict:
    tables = ["tenants", "voices", "jobs", "chunks", "outbox", "idempotency_keys", "webhook_events", "batches",
              "webhook_endpoints", "webhook_attempts"]
    with api.db.engine.connect() as conn:
        rows = {t: sorted(map(str, conn.execute(text(f"SELECT * FROM {t}")).all())) for t in tables}
    from voxfarm.core.storage import open_store

    store = open_store(api.settings)
    if hasattr(store, "root"):
        rows["objects"] = sorted(str(p) for p in store.root.rglob("*") if p.is_file())
    else:
        pages = store.client.get_paginator("list_objects_v2").paginate(Bucket=store.bucket)
        rows["objects"] = sorted(o["Key"] for page in pages for o in page.get("Contents", []))
    return rows


def _check(resp, where):
    assert 400 <= resp.status_code < 500, (where, resp.status_code, resp.text[:300])
    body = resp.json()
    assert set(body) == {"error"} and isinstance(body["error"]["code"], str) and body["error"]["message"], where


@pytest.fixture
def victim(make_api, tmp_path):
    api = make_api(max_request_bytes=2_500_000)
    owner, intruder = api.client("owner"), api.client("intruder")
    voice = owner.post("/v1/voices", data={"name": "v", "transcript": "t"},
                       files={"audio_file": ("v.wav", wav_bytes(tone(2.0)))}).json()
    job = owner.post("/v1/jobs", json={"text": "Owner's private job."}).json()
    worker = start_worker(api.settings, tmp_path, engine="espeak", name="survivor")
    batch = owner.post("/v1/batches", json={"items": [{"text": "Owner's private batch."}]}).json()
    lexicon = owner.post("/v1/lexicons", json={"name": "names", "rules": [{"grapheme": "Aoife", "alias": "Eefa"}]})
    assert lexicon.status_code == 201, lexicon.text
    return api, owner, intruder, {"job_id": job["id"], "voice_id": voice["id"], "delivery_id": "msg_x", "name": "x",
                                  "batch_id": batch["id"], "lexicon_id": lexicon.json()["id"]}, worker


def test_every_route_rejects_hostile_input_and_nothing_changes(victim):
    api, owner, intruder, ids, worker = victim
    owner.wait(ids["job_id"], timeout=60)  # let the legitimate job and batch settle before the snapshot
    # the batch completes in a transaction after its job's (a CI run snapshotted between the two)
    wait_for(lambda: owner.get(f"/v1/batches/{ids['batch_id']}").json()["status"] == "completed",
             timeout=60, what="the owner's batch")
    before = _snapshot(api)
    checked = 0
    for rule in api.app.url_map.iter_rules():
        if rule.endpoint in ("static", "openapi_json", "health.healthz", "health.readyz"):
            continue
        if rule.endpoint == "webhooks.rotate_secret":
            continue  # takes no input at all: rotating one's own secret is the legitimate effect
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            paths = [re.sub(r"<(?:[^<>]+:)?(\w+)>", lambda m: ids[m.group(1)], rule.rule)]
            if "<" in rule.rule:
                paths += [re.sub(r"<(?:[^<>]+:)?(\w+)>", lambda _m, b=bad: b, rule.rule) for bad in PATHY]
            for path in paths:
                call = getattr(intruder, method.lower())
                if method in ("GET", "DELETE"):
                    for q in ({"limit": "-1"}, {"limit": "abc"}, {"cursor": "\u0000"}, {"cursor": "%%"},
                              {"status": "exploded"}, {"limit": "9" * 40}):
                        resp = call(path, params=q)
                        if resp.status_code != 200 or "<" in rule.rule:
                            _check(resp, (method, path, q))
                        checked += 1
                    continue
                for label, body, ctype in _bodies():
                    resp = call(path, data=body, headers={"Content-Type": ctype})
                    if resp.status_code in (200, 202) and method == "PUT":
                        continue  # nothing valid is sent, but PUT endpoint with url=None would be valid
                    _check(resp, (method, path, label))
                    checked += 1
    for label, data in _hostile_audio():
        resp = owner.post("/v1/voices", data={"name": "n", "transcript": "t"}, files={"audio_file": ("a.wav", data)})
        _check(resp, label)
        resp = owner.post("/v1/voices", json={"name": "n", "transcript": "t",
                                              "audio_base64": base64.b64encode(data).decode()})
        _check(resp, label)
        checked += 2
    for doc in (b"PK\x03\x04" + b"\x00" * 100, b"not a zip", b""):
        _check(owner.post("/v1/jobs", json={"document_base64": base64.b64encode(doc).decode()}), "epub")
    oversized = owner.post("/v1/jobs", data=b'{"text": "' + b"a" * 3_000_000 + b'"}',
                           headers={"Content-Type": "application/json"})
    assert oversized.status_code == 413
    after = _snapshot(api)
    assert after == before
    assert checked > 500
    # the worker survived all of it and still renders
    assert worker.alive()
    job = owner.post("/v1/jobs", json={"text": "Still alive."}).json()
    assert owner.wait(job["id"], timeout=60)["status"] == "succeeded"
    worker.stop()


def test_headers_and_keys_cannot_break_anything(victim):
    api, owner, intruder, ids, worker = victim
    for header in ["Bearer", "Bearer \u0000", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 10000,
                   "Bearer vf_aaaaaaaaaa_" + "\u00e9" * 43]:
        resp = ApiClient(api.url).get("/v1/jobs", headers={"Authorization": header.encode("utf-8", "surrogatepass")})
        _check(resp, header[:20])
    for key in ["\u0000", "x" * 300, "é", ""]:
        resp = owner.post("/v1/jobs", json={"text": "hi"}, headers={"Idempotency-Key": key.encode("utf-8")})
        _check(resp, f"idempotency {key[:5]!r}")
    worker.stop()
