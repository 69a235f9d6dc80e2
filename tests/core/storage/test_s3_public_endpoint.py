"""Presigned result URLs use the public S3 endpoint when one is set (Compose: MinIO is
``http://minio:9000`` inside, ``http://localhost:9000`` for clients), while the farm itself keeps
talking to its own endpoint.  The SigV4 query signature is checked by an independent
implementation of the algorithm (AWS's "Authenticating requests: query parameters")."""

from __future__ import annotations

import hashlib
import hmac
import os
from urllib.parse import parse_qsl, quote, urlsplit

from voxfarm.core.settings import Settings
from voxfarm.core.storage import open_store

PUBLIC = "http://files.voxfarm.test:9000"  # resolves nowhere: the store must never call it


def _sigv4_ok(url: str, host: str, secret: str) -> bool:
    """Recompute a presigned GET's signature as if the request were sent to ``host``."""
    parts = urlsplit(url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    given = dict(params)["X-Amz-Signature"]
    canonical_query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
                               for k, v in sorted(params) if k != "X-Amz-Signature")
    canonical = "\n".join(["GET", parts.path, canonical_query, f"host:{host}", "", "host", "UNSIGNED-PAYLOAD"])
    amz_date = dict(params)["X-Amz-Date"]
    scope = dict(params)["X-Amz-Credential"].split("/", 1)[1]
    date, region, service, _ = scope.split("/")
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.compare_digest(hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(), given)


def test_presigned_urls_are_signed_for_the_public_endpoint(s3_server, s3_bucket, tmp_path):
    store = open_store(Settings(data_dir=tmp_path, storage_url=f"s3://{s3_bucket}/farm", s3_public_endpoint=PUBLIC))
    store.put_bytes("jobs/t/j/audio.wav", b"RIFF-audio")  # goes to the farm's endpoint (moto)
    assert store.exists("jobs/t/j/audio.wav")
    url = store.presigned_url("jobs/t/j/audio.wav", 600, filename="j.wav")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == PUBLIC and parts.path == f"/{s3_bucket}/farm/jobs/t/j/audio.wav"
    secret = os.environ["AWS_SECRET_ACCESS_KEY"]
    assert _sigv4_ok(url, "files.voxfarm.test:9000", secret)
    assert not _sigv4_ok(url, urlsplit(s3_server["endpoint"]).netloc, secret)  # a rewritten host fails


def test_without_a_public_endpoint_urls_name_the_farm_endpoint(s3_server, s3_bucket, tmp_path):
    store = open_store(Settings(data_dir=tmp_path, storage_url=f"s3://{s3_bucket}/farm"))
    store.put_bytes("jobs/t/j/audio.wav", b"x")
    url = store.presigned_url("jobs/t/j/audio.wav", 600)
    assert url.startswith(s3_server["endpoint"])
    assert _sigv4_ok(url, urlsplit(s3_server["endpoint"]).netloc, os.environ["AWS_SECRET_ACCESS_KEY"])
