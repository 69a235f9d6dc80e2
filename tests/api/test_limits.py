"""Size limits are the documented settings and answer 413 naming the size sent; EPUBs come as
base64 JSON or as a multipart file (POST /v1/jobs/upload)."""

from __future__ import annotations

import base64
import json

from tests.core.text.test_epub import make_epub, noise_png

from helpers import tone, wav_bytes

CHAPTERS = [("One", "The first chapter is short."), ("Two", "So is the second one.")]


def _jobs(api) -> int:
    from sqlalchemy import func, select

    from voxfarm.core.models import Job

    with api.db.session() as s:
        return s.scalar(select(func.count()).select_from(Job))


def test_epub_upload_as_a_multipart_file_is_planned_like_base64(api):
    client = api.client()
    epub = make_epub(CHAPTERS)
    uploaded = client.post("/v1/jobs/upload", files={"document": ("book.epub", epub, "application/epub+zip")},
                           data={"job": json.dumps({"output": {"format": "m4b"}, "priority": 3})})
    assert uploaded.status_code == 202, uploaded.text
    inline = client.post("/v1/jobs", json={"document_base64": base64.b64encode(epub).decode(),
                                            "output": {"format": "m4b"}})
    assert inline.status_code == 202, inline.text
    a, b = uploaded.json(), inline.json()
    assert a["output"]["format"] == "m4b" and a["priority"] == 3 and a["title"] == "The Test Book"
    plan_a = client.get(f"/v1/jobs/{a['id']}/chunks").json()
    plan_b = client.get(f"/v1/jobs/{b['id']}/chunks").json()
    assert [c["text"] for c in plan_a["chunks"]] == [c["text"] for c in plan_b["chunks"]]
    assert [c["title"] for c in plan_a["chapters"]] == ["One", "Two"]


def test_a_3_mb_epub_as_base64_is_accepted(api):
    # 4 MB of base64: over the old blanket 2,100,000-character string cap, well under the documented 50 MB
    epub = make_epub(CHAPTERS, cover=noise_png(1800))
    assert len(epub) > 3_000_000
    resp = api.client().post("/v1/jobs", json={"document_base64": base64.b64encode(epub).decode()})
    assert resp.status_code == 202, resp.text[:300]


def test_documents_over_the_limit_are_413_naming_both_sizes(make_api):
    api = make_api(max_document_bytes=200_000)
    client = api.client()
    epub = make_epub(CHAPTERS, cover=noise_png(600))  # ~360 kB
    size = len(epub)
    up = client.post("/v1/jobs/upload", files={"document": ("big.epub", epub)})
    assert up.status_code == 413, up.text
    assert up.json()["error"]["code"] == "payload_too_large"
    assert str(size) in up.json()["error"]["message"] and "200000" in up.json()["error"]["message"]
    inline = client.post("/v1/jobs", json={"document_base64": base64.b64encode(epub).decode()})
    assert inline.status_code == 413 and inline.json()["error"]["code"] == "document_too_large"
    assert "200000" in inline.json()["error"]["message"]
    assert _jobs(api) == 0


def test_request_over_the_cap_names_its_size(make_api):
    api = make_api(max_request_bytes=50_000)
    body = json.dumps({"text": "x" * 60_000})
    resp = api.client().post("/v1/jobs", data=body, headers={"Content-Type": "application/json"})
    assert resp.status_code == 413
    assert str(len(body)) in resp.json()["error"]["message"] and "50000" in resp.json()["error"]["message"]


def test_voice_over_the_limit_names_the_size_sent(make_api):
    api = make_api(voice_max_bytes=100_000)
    audio = wav_bytes(tone(3.0))  # ~530 kB of float WAV
    resp = api.client().post("/v1/voices", data={"name": "v", "transcript": "t"},
                             files={"audio_file": ("v.wav", audio)})
    assert resp.status_code == 413, resp.text
    assert str(len(audio)) in resp.json()["error"]["message"] and "100000" in resp.json()["error"]["message"]


def test_upload_refuses_json_and_unknown_parts(api):
    client = api.client()
    as_json = client.post("/v1/jobs/upload", json={"text": "hi"})
    assert as_json.status_code == 415
    extra = client.post("/v1/jobs/upload", files={"document": ("b.epub", make_epub(CHAPTERS))},
                        data={"surprise": "1"})
    assert extra.status_code == 422, extra.text
    both = client.post("/v1/jobs/upload", files={"document": ("b.epub", make_epub(CHAPTERS))},
                       data={"job": json.dumps({"text": "also text"})})
    assert both.status_code == 422 and both.json()["error"]["code"] == "ambiguous_input"
    multipart_to_json_route = client.post("/v1/jobs", files={"document": ("b.epub", b"x")})
    assert multipart_to_json_route.status_code == 415
    assert "/v1/jobs/upload" in multipart_to_json_route.json()["error"]["message"]
