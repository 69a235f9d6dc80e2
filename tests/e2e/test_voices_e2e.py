"""Issue 14 through real processes: a one-shot inline prompt and a two-voice Dia dialogue render
through the API and a Dia worker (tiny random checkpoint) over Redis, PostgreSQL and S3 (moto)."""

from __future__ import annotations

import base64
import hashlib

from tests.e2e.test_batching import DIA, _env, dia_settings  # noqa: F401  (fixture)

from helpers import ApiClient, create_key, start_api, start_worker, tone, wav_bytes


def test_inline_prompt_and_dialogue_render(dia_settings, tiny_dia, tmp_path):  # noqa: F811
    api, url = start_api(dia_settings, tmp_path)
    # the worker first: it declares the broker queue (a message published to an undeclared Redis
    # queue has no binding to land in)
    worker = start_worker(dia_settings, tmp_path, engine="dia", name="dia1", concurrency=4, **_env(tiny_dia))
    client = ApiClient(url, create_key(dia_settings, "acme"))
    ann = client.post("/v1/voices", data={"name": "Ann", "transcript": "[S1] I am Ann."},
                      files={"audio_file": ("a.wav", wav_bytes(tone(1.5, 44100, 220)))}).json()
    ben = client.post("/v1/voices", data={"name": "Ben", "transcript": "[S1] I am Ben."},
                      files={"audio_file": ("b.wav", wav_bytes(tone(2.0, 44100, 330)))}).json()
    inline = {"audio_base64": base64.b64encode(wav_bytes(tone(1.8, 44100, 275))).decode(),
              "transcript": "[S1] Inline words."}
    jobs = [client.post("/v1/jobs", json={"text": f"One shot {i}.", "engine": "dia", "voice": inline,
                                          "params": {**DIA, "seed": i}}).json() for i in range(2)]
    dialogue = client.post("/v1/jobs", json={"text": "[S1] Hi there. [S2] Hello back.", "engine": "dia",
                                             "voices": {"S1": "Ann", "S2": ben["id"]}, "params": DIA}).json()
    by_name = client.post("/v1/jobs", json={"text": "By name.", "engine": "dia", "voice_id": "Ann",
                                            "params": DIA}).json()
    try:
        done = [client.wait(j["id"], timeout=300) for j in [*jobs, dialogue, by_name]]
        joined = client.get(f"/v1/voices/{dialogue['voice_id']}").json()
        joined_audio = client.get(f"/v1/jobs/{dialogue['id']}/audio")
    finally:
        worker.stop()
        api.stop()
    assert [j["status"] for j in done] == ["succeeded"] * 4, [j["error"] for j in done]
    assert done[0]["voice_id"] == done[1]["voice_id"] and done[0]["voice_sha256"] == done[1]["voice_sha256"]
    assert done[0]["result"]["sha256"] != done[1]["result"]["sha256"]
    assert done[3]["voice_id"] == ann["id"]
    # the dialogue: one prompt, both speakers in tag order, each transcript re-tagged
    assert done[2]["voices"] == {"S1": ann["id"], "S2": ben["id"]}
    assert joined["transcript"] == "[S1] I am Ann. [S2] I am Ben." and joined["registered"] is False
    assert abs(joined["duration_s"] - (1.5 + 0.3 + 2.0)) < 0.01
    assert hashlib.sha256(joined_audio.content).hexdigest() == done[2]["result"]["sha256"]
