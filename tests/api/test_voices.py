"""Voice prompts over HTTP: three upload paths, validation, normalization, deletion."""

from __future__ import annotations

import base64
import http.server
import io
import threading

import boto3
import numpy as np
import pytest
import soundfile as sf

from voxfarm.core.audio.arrays import encode
from voxfarm.core.storage import open_store

from helpers import tone, wav_bytes


def _upload(client, data: bytes, filename="voice.wav", **fields):
    form = {"name": "Narrator", "transcript": "[S1] This is my voice.", **fields}
    return client.post("/v1/voices", data=form, files={"audio_file": (filename, data, "audio/wav")})


def _objects(api, tenant_prefix: str) -> list[str]:
    url = api.settings.resolved_storage_url
    if url.startswith("s3://"):
        bucket = url[5:].split("/")[0]
        resp = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix="farm/" + tenant_prefix)
        return [o["Key"] for o in resp.get("Contents", [])]
    root = open_store(api.settings).root
    return [str(p.relative_to(root)) for p in (root / tenant_prefix).rglob("*") if p.is_file()]


def test_multipart_upload_stores_original_and_normalized_copy(api):
    client = api.client()
    stereo = np.stack([tone(3.0, 22050), tone(3.0, 22050, 330)], axis=1)
    resp = _upload(client, wav_bytes(stereo, 22050), filename="voice.txt")  # the name is not trusted
    assert resp.status_code == 201, resp.text
    voice = resp.json()
    assert voice["format"] == "wav" and voice["channels"] == 2 and voice["sample_rate"] == 22050
    assert abs(voice["duration_s"] - 3.0) < 0.01
    with api.db.session() as s:
        from voxfarm.core.models import Voice

        row = s.get(Voice, voice["id"])
        norm = open_store(api.settings).get_bytes(row.normalized_key, expect_sha256=row.normalized_sha256)
        tenant = row.tenant_id
    audio, rate = sf.read(io.BytesIO(norm), always_2d=True)
    assert rate == 44100 and audio.shape[1] == 1 and abs(audio.shape[0] / rate - 3.0) < 0.01
    names = sorted(k.rsplit("/", 1)[-1] for k in _objects(api, f"tenants/{tenant}/voices/"))
    assert names == ["normalized.wav", "original.wav"]
    assert client.get(f"/v1/voices/{voice['id']}").json()["sha256"] == voice["sha256"]


def test_base64_upload(api):
    data, _ = encode(tone(2.0), 44100, "flac")
    resp = api.client().post("/v1/voices", json={"name": "B64", "transcript": "hello",
                                                 "audio_base64": base64.b64encode(data).decode()})
    assert resp.status_code == 201 and resp.json()["format"] == "flac"


@pytest.fixture
def audio_server():
    """A local HTTP server (allowlisted as 127.0.0.1/32) serving a prompt and a redirect."""
    body, _ = encode(tone(2.0), 44100, "ogg")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/voice.ogg":
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif self.path == "/to-metadata":
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/latest/meta-data")
                self.end_headers()
            else:
                self.send_response(404)
                self.end_headers()

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_audio_url_download_with_ssrf_checks(api, audio_server, make_api):
    client = api.client()
    ok = client.post("/v1/voices", json={"name": "U", "transcript": "t", "audio_url": f"{audio_server}/voice.ogg"})
    assert ok.status_code == 201 and ok.json()["format"] == "ogg"
    redirected = client.post("/v1/voices", json={"name": "U", "transcript": "t",
                                                  "audio_url": f"{audio_server}/to-metadata"})
    assert redirected.status_code == 422 and redirected.json()["error"]["code"] == "url_not_allowed"
    missing = client.post("/v1/voices", json={"name": "U", "transcript": "t", "audio_url": f"{audio_server}/nope"})
    assert missing.json()["error"]["code"] == "audio_url_failed"
    closed = make_api(outbound_allowlist=[]).client()
    blocked = closed.post("/v1/voices", json={"name": "U", "transcript": "t", "audio_url": f"{audio_server}/voice.ogg"})
    assert blocked.status_code == 422 and blocked.json()["error"]["code"] == "url_not_allowed"
    off = make_api(allow_audio_url=False).client()
    assert off.post("/v1/voices", json={"name": "U", "transcript": "t", "audio_url": "https://example.com/a.wav"}
                    ).json()["error"]["code"] == "audio_url_disabled"


@pytest.mark.parametrize("make,status,code", [
    (lambda: wav_bytes(tone(2.0))[:60], 422, "invalid_audio"),
    (lambda: wav_bytes(tone(4.0))[:100_000], 422, "invalid_audio"),
    (lambda: b"I am a text file, named voice.wav", 415, "unsupported_audio_format"),
    (lambda: b"", 422, "invalid_audio"),
    (lambda: wav_bytes(tone(31.0, 16000), 16000), 422, "voice_too_long"),
    (lambda: wav_bytes(tone(0.5)), 422, "voice_too_short"),
    (lambda: wav_bytes(np.zeros(44100 * 2, dtype=np.float32)), 422, "voice_silent"),
    (lambda: wav_bytes(np.sign(tone(2.0)) * 1.0), 422, "voice_clipped"),
    (lambda: wav_bytes(np.concatenate([np.zeros(44100 * 8, np.float32), tone(0.6)])), 422, "voice_mostly_silent"),
    (lambda: wav_bytes(np.concatenate([tone(0.8), np.zeros(int(44100 * 0.7), np.float32)])), 422,
     "voice_too_little_speech"),
    (lambda: wav_bytes(tone(2.0), subtype="IMA_ADPCM"), 415, "unsupported_audio_format"),
])
def test_validation_cases(api, make, status, code):
    resp = _upload(api.client(), make())
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == code


def test_oversized_upload_is_413(make_api):
    api = make_api(voice_max_bytes=50_000)
    resp = _upload(api.client(), wav_bytes(tone(2.0)))  # ~176 kB
    assert resp.status_code == 413
    resp = api.client().post("/v1/voices", json={"name": "x", "transcript": "t",
                                                 "audio_base64": base64.b64encode(wav_bytes(tone(2.0))).decode()})
    assert resp.status_code == 413
    capped = make_api(max_request_bytes=100_000)
    assert _upload(capped.client(), wav_bytes(tone(5.0))).status_code == 413


def test_missing_fields_and_ambiguous_json(api):
    client = api.client()
    assert client.post("/v1/voices", data={"name": "n"}, files={"audio_file": ("a.wav", wav_bytes(tone(2.0)))}
                       ).json()["error"]["code"] == "validation_error"
    both = client.post("/v1/voices", json={"name": "n", "transcript": "t", "audio_base64": "AAAA",
                                           "audio_url": "https://example.com/x.wav"})
    assert both.json()["error"]["code"] == "ambiguous_input"
    assert client.post("/v1/voices", json={"name": "n", "transcript": "t", "audio_base64": "@@@"}
                       ).json()["error"]["code"] == "invalid_base64"


def test_list_paginates_and_delete_removes_objects(api):
    client = api.client()
    ids = [_upload(client, wav_bytes(tone(1.5 + i / 10)), name=f"N{i}").json()["id"] for i in range(5)]
    first = client.get("/v1/voices", params={"limit": 3}).json()
    second = client.get("/v1/voices", params={"limit": 3, "cursor": first["next_cursor"]}).json()
    assert [v["id"] for v in first["data"] + second["data"]] == list(reversed(ids))
    assert second["next_cursor"] is None
    with api.db.session() as s:
        from voxfarm.core.models import Voice

        tenant = s.get(Voice, ids[0]).tenant_id
    job = client.post("/v1/jobs", json={"text": "In my voice.", "engine": "dia", "voice_id": ids[0]})
    assert job.status_code == 202 and job.json()["voice_sha256"] == client.get(f"/v1/voices/{ids[0]}").json()["sha256"]
    assert client.delete(f"/v1/voices/{ids[0]}").status_code == 204
    assert not [k for k in _objects(api, f"tenants/{tenant}/voices/{ids[0]}/")]
    assert client.get(f"/v1/voices/{ids[0]}").status_code == 404
    again = client.post("/v1/jobs", json={"text": "Too late.", "engine": "dia", "voice_id": ids[0]})
    assert again.status_code == 404 and again.json()["error"]["code"] == "voice_not_found"
    assert client.get(f"/v1/jobs/{job.json()['id']}").status_code == 200  # the job itself remains


def test_idempotent_voice_upload(api):
    client = api.client()
    data = wav_bytes(tone(2.0))
    a = client.post("/v1/voices", data={"name": "n", "transcript": "t"}, files={"audio_file": ("a.wav", data)},
                    headers={"Idempotency-Key": "v1"})
    b = client.post("/v1/voices", data={"name": "n", "transcript": "t"}, files={"audio_file": ("b.wav", data)},
                    headers={"Idempotency-Key": "v1"})
    assert a.status_code == b.status_code == 201 and a.json()["id"] == b.json()["id"]
    c = client.post("/v1/voices", data={"name": "n2", "transcript": "t"}, files={"audio_file": ("a.wav", data)},
                    headers={"Idempotency-Key": "v1"})
    assert c.status_code == 422


def test_an_idempotent_upload_with_another_file_is_a_mismatch(api):
    """Same key, same form fields, another audio file: a different request (422), never a replay of
    the first voice; the first upload is untouched and a fresh key takes the second file."""
    client = api.client()
    fields = {"name": "Narrator", "transcript": "[S1] This is my voice."}
    first_audio, other_audio = wav_bytes(tone(2.0, freq=220)), wav_bytes(tone(2.0, freq=330))

    def post(data: bytes, key: str):
        return client.post("/v1/voices", data=fields, files={"audio_file": ("voice.wav", data, "audio/wav")},
                           headers={"Idempotency-Key": key})

    first = post(first_audio, "upload-1")
    assert first.status_code == 201, first.text
    other = post(other_audio, "upload-1")
    assert other.status_code == 422, other.text
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert other.headers.get("Idempotent-Replayed") is None
    replay = post(first_audio, "upload-1")
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]


def test_registration_reports_speech_and_snr(api):
    rng = np.random.default_rng(0)
    pause = np.zeros(int(0.5 * 44100), np.float32)
    audio = np.concatenate([tone(1.0), pause, tone(1.0, freq=330), pause])
    audio = audio + rng.normal(0, 0.01, audio.size).astype(np.float32)  # true SNR ~23 dB over the tones
    voice = _upload(api.client(), wav_bytes(audio)).json()
    assert abs(voice["speech_s"] - 2.0) <= 0.1 and 20 < voice["snr_db"] < 26
    assert api.client().get(f"/v1/voices/{voice['id']}").json()["snr_db"] == voice["snr_db"]


def test_a_voice_is_usable_by_its_name(api):
    client = api.client()
    voice = _upload(client, wav_bytes(tone(2.0)), name="Ada Lovelace").json()
    assert client.get("/v1/voices/Ada Lovelace").json()["id"] == voice["id"]
    job = client.post("/v1/jobs", json={"text": "By name.", "engine": "dia", "voice_id": "Ada Lovelace"})
    assert job.status_code == 202 and job.json()["voice_id"] == voice["id"]
    taken = _upload(client, wav_bytes(tone(2.0)), name=" Ada Lovelace ")
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "voice_name_taken"
    reserved = _upload(client, wav_bytes(tone(2.0)), name="voice_01JABCDEFGHJKMNPQRSTVWXYZ0")
    assert reserved.status_code == 422 and reserved.json()["error"]["code"] == "voice_name_reserved"
    other = api.client("globex")  # names are per tenant
    assert other.get("/v1/voices/Ada Lovelace").status_code == 404
    assert _upload(other, wav_bytes(tone(2.0)), name="Ada Lovelace").status_code == 201
    assert client.delete("/v1/voices/Ada Lovelace").status_code == 204
    assert client.get("/v1/voices/Ada Lovelace").status_code == 404
    again = _upload(client, wav_bytes(tone(2.0)), name="Ada Lovelace")  # a deleted voice frees its name
    assert again.status_code == 201 and again.json()["id"] != voice["id"]
    missing = client.post("/v1/jobs", json={"text": "x", "engine": "dia", "voice_id": "Nobody"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "voice_not_found"


def test_embedding_fields_and_include(api):
    client = api.client()
    voice = _upload(client, wav_bytes(tone(3.0, 22050), 22050)).json()
    assert voice["embedding_model"] is None and "embedding" not in voice  # no worker embedded it yet
    with api.db.session() as s:
        from voxfarm.core.models import Voice

        row = s.get(Voice, voice["id"])
        row.embedding, row.embedding_model, row.embedding_self_similarity = [0.5] * 192, "ecapa:x@1", 0.8
    shown = client.get(f"/v1/voices/{voice['id']}?include=embedding").json()
    assert shown["embedding"] == [0.5] * 192 and shown["embedding_model"] == "ecapa:x@1"
    assert "embedding" not in client.get(f"/v1/voices/{voice['id']}").json()
    bad = client.get(f"/v1/voices/{voice['id']}?include=vectors")
    assert bad.status_code == 422 and bad.json()["error"]["code"]
    gate = {e["name"]: e["speaker_gate"] for e in client.get("/v1/engines").json()["data"]}
    assert gate["dia"]["enabled"] is False and "VOXFARM_SPEAKER_MODEL" in gate["dia"]["reason"]
