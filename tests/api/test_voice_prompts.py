"""One-shot voice prompts in the job request and Dia dialogue voice maps, over HTTP (no worker)."""

from __future__ import annotations

import base64
import json

import numpy as np

from tests.api.test_voices import _objects, audio_server  # noqa: F401  (fixture)

from helpers import tone, wav_bytes

PROMPT = wav_bytes(tone(2.0, freq=260))
B64 = base64.b64encode(PROMPT).decode()


def _voice_folders(api, client) -> set[str]:
    from voxfarm.core.models import Voice

    with api.db.session() as s:
        tenant = s.query(Voice.tenant_id).first()[0]
    return {k.split("/voices/")[1].split("/")[0] for k in _objects(api, f"tenants/{tenant}/voices/")}


def test_inline_prompt_is_stored_once_per_content(api):
    client = api.client()
    body = {"text": "Hello.", "engine": "dia", "voice": {"audio_base64": B64, "transcript": "[S1] Ref."}}
    a, b = client.post("/v1/jobs", json=body), client.post("/v1/jobs", json=body)
    assert a.status_code == b.status_code == 202, a.text
    assert a.json()["voice_id"] == b.json()["voice_id"] and a.json()["voice_sha256"] == b.json()["voice_sha256"]
    job = {"text": "Hi.", "engine": "dia", "voice": {"transcript": "[S1] Ref."}}
    uploaded = client.post("/v1/jobs/upload", files={"voice_file": ("p.wav", PROMPT)}, data={"job": json.dumps(job)})
    assert uploaded.status_code == 202, uploaded.text
    assert uploaded.json()["voice_id"] == a.json()["voice_id"]  # the same bytes, the same stored prompt
    assert _voice_folders(api, client) == {a.json()["voice_id"]}
    other_words = client.post("/v1/jobs", json={**body, "voice": {"audio_base64": B64, "transcript": "[S1] Other."}})
    assert other_words.json()["voice_id"] != a.json()["voice_id"]
    voice = client.get(f"/v1/voices/{a.json()['voice_id']}").json()
    assert voice["registered"] is False and voice["sha256"] == __import__("hashlib").sha256(PROMPT).hexdigest()
    assert client.get("/v1/voices").json()["data"] == []  # one-shot prompts are not listed
    # registering the same bytes and words names that prompt instead of storing it again
    named = client.post("/v1/voices", json={"name": "Kept", "transcript": "[S1] Ref.", "audio_base64": B64})
    assert named.status_code == 201 and named.json()["id"] == a.json()["voice_id"] and named.json()["registered"]
    assert client.get("/v1/voices/Kept").json()["id"] == a.json()["voice_id"]


def test_inline_prompt_gets_registration_checks(api, audio_server):  # noqa: F811
    client = api.client()

    def submit(voice, engine="dia"):
        return client.post("/v1/jobs", json={"text": "Hello.", "engine": engine, "voice": voice})

    quiet = np.concatenate([np.zeros(44100 * 8, np.float32), tone(0.6)])
    cases = [
        ({"audio_base64": base64.b64encode(wav_bytes(quiet)).decode(), "transcript": "t"}, "voice_mostly_silent"),
        ({"audio_base64": base64.b64encode(wav_bytes(np.sign(tone(2.0)))).decode(), "transcript": "t"},
         "voice_clipped"),
        ({"audio_base64": "@@", "transcript": "t"}, "invalid_base64"),
        ({"transcript": "t"}, "ambiguous_input"),
        ({"audio_base64": B64, "audio_url": f"{audio_server}/voice.ogg", "transcript": "t"}, "ambiguous_input"),
        ({"audio_url": f"{audio_server}/to-metadata", "transcript": "t"}, "url_not_allowed"),
    ]
    for voice, code in cases:
        resp = submit(voice)
        assert resp.status_code == 422 and resp.json()["error"]["code"] == code, (code, resp.text)
    assert submit({"audio_url": f"{audio_server}/voice.ogg", "transcript": "t"}).status_code == 202
    assert submit({"audio_base64": B64, "transcript": "t"}, engine="espeak").json()["error"]["code"] \
        == "engine_cannot_clone"
    both = client.post("/v1/jobs", json={"text": "x", "engine": "dia", "voice_id": "v",
                                         "voice": {"audio_base64": B64, "transcript": "t"}})
    assert both.status_code == 422 and both.json()["error"]["code"] == "ambiguous_input"
    assert client.post("/v1/jobs/upload", files={"voice_file": ("p.wav", PROMPT)},
                       data={"job": json.dumps({"text": "Hi.", "engine": "dia"})}).json()["error"]["code"] \
        == "empty_transcript"


def _register(client, name, freq, words):
    resp = client.post("/v1/voices", data={"name": name, "transcript": f"[S1] {words}"},
                       files={"audio_file": ("v.wav", wav_bytes(tone(1.5, 44100, freq)))})
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_dialogue_voices_must_match_the_tags(api):
    client = api.client()
    _register(client, "Ann", 220, "I am Ann.")
    _register(client, "Ben", 330, "I am Ben.")

    def submit(text, voices):
        return client.post("/v1/jobs", json={"text": text, "engine": "dia", "voices": voices})

    missing = submit("[S1] Hi. [S2] Hello.", {"S1": "Ann"})
    assert missing.status_code == 422 and missing.json()["error"]["code"] == "dialogue_voices_mismatch"
    assert "S2" in missing.json()["error"]["message"]
    unused = submit("[S1] Only me.", {"S1": "Ann", "S2": "Ben"})
    assert unused.status_code == 422 and unused.json()["error"]["code"] == "dialogue_voices_mismatch"
    assert submit("[S1] Hi. [S3] Who?", {"S1": "Ann", "S3": "Ben"}).json()["error"]["code"] == "validation_error"
    assert submit("[S1] Hi. [S2] Yo.", {"S1": "Ann", "S2": "Nobody"}).json()["error"]["code"] == "voice_not_found"
    no_tags = client.post("/v1/jobs", json={"text": "[S1] a [S2] b", "engine": "espeak", "voices": {"S1": "Ann",
                                                                                                  "S2": "Ben"}})
    assert no_tags.json()["error"]["code"] == "engine_cannot_clone"
    ok = submit("[S1] Hi. [S2] Hello.", {"S1": "Ann", "S2": "Ben"})
    assert ok.status_code == 202, ok.text
    again = submit("[S2] Hello. [S1] Hi.", {"S2": "Ben", "S1": "Ann"})
    assert again.json()["voice_id"] == ok.json()["voice_id"]  # joined in tag order, so the same prompt


def test_upload_parts_must_be_files(api):
    client = api.client()
    for part in ("document", "voice_file"):  # a plain field of that name, no filename: was a 500
        resp = client.post("/v1/jobs/upload", files={part: (None, "x"), "job": (None, '{"text": "hi"}')})
        assert resp.status_code == 422 and resp.json()["error"]["code"] == "validation_error", resp.text
