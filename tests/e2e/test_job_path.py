"""Issue 2: one job from REST to audio file, embedded and distributed, through real HTTP to the
API process and a real Celery worker process."""

from __future__ import annotations

import hashlib
import io

import boto3
import pytest
import requests
import soundfile as sf

from helpers import ApiClient, create_key, start_api, start_worker

TEXT = "The quick brown fox jumps over the lazy dog. Then it naps in the warm afternoon sun."


def _run_job(settings, tmp_path, fmt: str = "wav") -> tuple[dict, bytes, requests.Response]:
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
        first = client.get(f"/v1/jobs/{job['id']}/audio", allow_redirects=False)
        audio = client.get(f"/v1/jobs/{job['id']}/audio", allow_redirects=True)
        assert audio.status_code == 200
        return job, audio.content, first
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
    job, data, first = _run_job(settings, tmp_path, fmt)
    _check(job, data, fmt)
    assert first.status_code == 200 and first.content == data  # local disk: streamed by the API itself
    assert job["result"]["url"].endswith(f"/v1/jobs/{job['id']}/audio")  # streamed by the API


def test_job_path_distributed(prod_settings, tmp_path, s3_server):
    """PostgreSQL + Redis + S3 (moto server): the production shape, by settings alone."""
    if not prod_settings.database_url or not prod_settings.broker_url:
        pytest.skip("PostgreSQL/Redis unreachable outside CI (CI fails instead)")
    job, data, first = _run_job(prod_settings, tmp_path, "flac")
    _check(job, data, "flac")
    assert job["result"]["url"].startswith(s3_server["endpoint"])  # a presigned S3 URL
    assert "X-Amz-Signature=" in job["result"]["url"]
    # /audio answers 302 to a presigned URL on the S3 endpoint, not the bytes through the API ...
    assert first.status_code == 302 and first.content != data
    location = first.headers["Location"]
    assert location.startswith(s3_server["endpoint"] + "/") and "X-Amz-Signature=" in location
    assert "Authorization" not in requests.get(location, timeout=30).request.headers  # no API key needed
    # ... and following it downloads the very object stored in the bucket (read here with boto3)
    bucket, prefix = prod_settings.storage_url.removeprefix("s3://").split("/", 1)
    key = f"{prefix}/tenants/{_tenant_id(prod_settings)}/jobs/{job['id']}/audio.flac"
    stored = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    assert requests.get(location, timeout=30).content == stored == data


def _tenant_id(settings) -> str:
    from sqlalchemy import select

    from voxfarm.core.db import Database
    from voxfarm.core.models import Tenant

    db = Database(settings)
    with db.session() as s:
        tenant_id = s.scalar(select(Tenant.id).where(Tenant.name == "acme"))
    db.dispose()
    return tenant_id
