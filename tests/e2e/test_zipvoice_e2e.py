"""Issue 13: ZipVoice jobs with registered voice prompts, from two tenants, share decoder calls.

Real processes: the API (gunicorn) and a ZipVoice worker on the tiny random ONNX export, over
Redis, PostgreSQL and S3 (moto), with embedded fallbacks off-CI.
"""

from __future__ import annotations

import hashlib
import shutil

import pytest

from voxfarm.core.audio.arrays import decode_bytes
from voxfarm.core.db import Database
from voxfarm.core.models import Voice
from voxfarm.core.settings import BatchSettings
from voxfarm.core.storage import keys, open_store
from voxfarm.worker.engines.base import create_engine

from helpers import ApiClient, create_key, start_api, start_worker, tone, wait_for, wav_bytes

TRANSCRIPT = "These are my reference words."
TEXTS = ["The farm speaks in my voice now.", "The farm speaks in my voice too."]  # one length bucket


@pytest.fixture
def zv_settings(prod_settings, tiny_zipvoice):
    return prod_settings.model_copy(update={
        "engines": ["espeak", "zipvoice"], "zipvoice_model": str(tiny_zipvoice), "quality_gate": False,
        "batch": {"zipvoice": BatchSettings(max_batch_size=8, max_wait_ms=400)}})


def _voice(client: ApiClient, freq: int) -> dict:
    resp = client.post("/v1/voices", data={"name": f"v{freq}", "transcript": TRANSCRIPT},
                       files={"audio_file": ("v.wav", wav_bytes(tone(2.0, 44100, freq)))})
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_two_tenants_zipvoice_jobs_share_a_batch(zv_settings, tiny_zipvoice, tmp_path):
    api, url = start_api(zv_settings, tmp_path)
    tenants = [ApiClient(url, create_key(zv_settings, t)) for t in ("tenant-a", "tenant-b")]
    voices = [_voice(client, freq) for client, freq in zip(tenants, (220, 330), strict=True)]
    jobs = []
    for i in range(4):
        t = i % 2
        body = {"text": TEXTS[i // 2], "engine": "zipvoice", "voice_id": voices[t]["id"],
                "params": {"num_steps": 6, "seed": 7}}
        resp = tenants[t].post("/v1/jobs", json=body)
        assert resp.status_code == 202, resp.text
        jobs.append((t, resp.json()["id"]))
    # queued before the worker starts, so all four wait in its micro-batcher together
    worker = start_worker(zv_settings, tmp_path, engine="zipvoice", name="zv1", concurrency=8,
                          zipvoice_model=str(tiny_zipvoice), quality_gate="false")
    try:
        done = [tenants[t].wait(j, timeout=180) for t, j in jobs]
        audio = [tenants[t].get(f"/v1/jobs/{j}/audio").content for t, j in jobs]
        other = tenants[1].get(f"/v1/jobs/{jobs[0][1]}")  # tenant b cannot see tenant a's job
    finally:
        worker.stop()
        api.stop()
    assert [j["status"] for j in done] == ["succeeded"] * 4, [j["error"] for j in done]
    assert [j["render"]["batch_size"] for j in done] == [4] * 4  # one batch, both tenants in it
    assert {j["voice_id"] for j in done} == {v["id"] for v in voices}
    assert len({j["result"]["sha256"] for j in done}) == 4  # each job its own voice and text
    for job, data in zip(done, audio, strict=True):
        assert hashlib.sha256(data).hexdigest() == job["result"]["sha256"] and job["result"]["duration_s"] > 0.3
    assert other.status_code == 404
    _assert_prompts_cached_beside_the_voices(zv_settings, voices)


def _assert_prompts_cached_beside_the_voices(settings, voices) -> None:
    """The worker stored each voice's prepared prompt (features + tokens) under the voice, and it
    equals what this process computes from the stored normalized recording."""
    engine = create_engine("zipvoice", settings)
    engine.load()
    store, db = open_store(settings), Database(settings)
    try:
        with db.session() as s:
            rows = [s.get(Voice, v["id"]) for v in voices]
            refs = [(r.tenant_id, r.id, r.normalized_key, r.normalized_sha256, r.transcript) for r in rows]
    finally:
        db.dispose()
    for tenant, voice_id, normalized_key, normalized_sha, transcript in refs:
        key = keys.voice_prepared(tenant, voice_id, "zipvoice", f"{engine.fingerprint}-{normalized_sha[:16]}")
        cached = engine.voice_from_bytes(store.open_bytes(key), transcript)
        audio, rate = decode_bytes(store.get_bytes(normalized_key))
        assert cached.data == engine.prepare_voice(audio, rate, transcript).data


def test_a_worker_without_its_model_files_stops_at_start_naming_them(zv_settings, tiny_zipvoice, tmp_path):
    partial = tmp_path / "zipvoice-no-vocoder"
    shutil.copytree(tiny_zipvoice, partial)
    (partial / "vocos_24khz.onnx").unlink()
    worker = start_worker(zv_settings, tmp_path, engine="zipvoice", name="zv-missing", wait_ready=False,
                          zipvoice_model=str(partial))
    try:
        wait_for(lambda: not worker.alive(), timeout=60, what="the worker to exit")
    finally:
        worker.stop()
    log = worker.log()
    assert "vocos_24khz.onnx" in log and "worker boot failed" in log and " ready." not in log
