"""Issue 2: one job from REST to audio file, embedded and distributed, through real HTTP to the
API process and a real Celery worker process."""

from __future__ import annotations

import hashlib
import io

import pytest
import soundfile as sf

from helpers import ApiClient, create_key, start_api, start_worker

TEXT = "The quick brown fox jumps over the lazy dog. Then it naps in the warm afternoon sun."


def _run_job(settings, tmp_path, fmt: str = "wav") -> tuple[dict, bytes]:
    api, url = start_api(settings, tmp_path)
    worker = start_worker(settings, tmp_path, engine="espeak", queues="tts.espeak,control,webhooks")
    try:
        client = ApiClient(url, create_key(settings, "acme"))
        resp = client.post("/v1/jobs", json={"text": TEXT, "output": {"format": fmt}})
        assert resp.status_code == 202, resp.text
        job = resp.json()
        assert job["status"] == "queued" and job["engine"] == "espeak"
        assert job["progress"] == {"done": 0, "total": 1, "cache_hits": 0, "eta_s": None}
        job = client.wait(job["id"], timeout=60)
        assert job["status"] == "succeeded", (job, worker.log()[-2000:])
        audio = client.get(f"/v1/jobs/{job['id']}/audio", allow_redirects=True)
        assert audio.status_code == 200
        return job, audio.content
    finally:
        worker.stop()
        api.stop()


def _check(job: dict, data: bytes, fmt: str) -> None:
    assert hashlib.sha256(data).hexdigest() == job["result"]["sha256"]
    assert job["result"]["bytes"] == len(data) and job["result"]["format"] == fmt
    samples, rate = sf.read(io.BytesIO(data))
    seconds = len(samples) / rate
    # espeak-ng speaks ~14.5 chars/s at its default rate: 84 chars take 4-8 s
    assert 3.0 < seconds < 9.0
    assert abs(seconds - job["result"]["duration_s"]) < 0.1
    assert job["render"]["batch_size"] >= 1 and job["render"]["worker"].startswith("w1#")
    assert job["render"]["attempts"] == 1 and job["render"]["finished_at"]


@pytest.mark.parametrize("fmt", ["wav", "mp3"])
def test_job_path_embedded(settings, tmp_path, fmt):
    """SQLite + local disk + filesystem broker: no servers."""
    job, data = _run_job(settings, tmp_path, fmt)
    _check(job, data, fmt)
    assert job["result"]["url"].endswith(f"/v1/jobs/{job['id']}/audio")  # streamed by the API


def test_job_path_distributed(prod_settings, tmp_path, s3_server):
    """PostgreSQL + Redis + S3 (moto server): the production shape, by settings alone."""
    if not prod_settings.database_url or not prod_settings.broker_url:
        pytest.skip("PostgreSQL/Redis unreachable outside CI (CI fails instead)")
    job, data = _run_job(prod_settings, tmp_path, "flac")
    _check(job, data, "flac")
    assert job["result"]["url"].startswith(s3_server["endpoint"])  # a presigned S3 URL
    assert "X-Amz-Signature=" in job["result"]["url"]
