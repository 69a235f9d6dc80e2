"""S3 / MinIO object store through boto3.

Configuration is the standard AWS environment (credentials, region, ``AWS_ENDPOINT_URL`` for
MinIO); the bucket and prefix come from ``VOXFARM_STORAGE_URL=s3://bucket/prefix``.  Each upload
sends a SHA-256 checksum so real S3 rejects corrupted bodies, and records the hex digest in the
object metadata; reads can verify it in our own code (moto checks neither).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

from voxfarm.core.errors import StorageError
from voxfarm.core.storage.base import ObjectInfo, ObjectStore, check_key, sha256_file

# SigV4 presigned URLs are valid for at most 7 days.
MAX_PRESIGN_S = 7 * 24 * 3600


class S3Store(ObjectStore):
    def __init__(self, bucket: str, prefix: str = "", client=None, public_endpoint: str | None = None) -> None:
        """``public_endpoint``: where clients reach the store (``VOXFARM_S3_PUBLIC_ENDPOINT``), when
        the farm's own address is a name only its network resolves (``http://minio:9000`` in
        Compose).  Presigned URLs are signed for that host; every other call uses the farm's."""
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        config = Config(signature_version="s3v4", retries={"max_attempts": 4, "mode": "standard"},
                        connect_timeout=5, read_timeout=60)
        self.client = client or boto3.client("s3", config=config)
        # SigV4 signs the Host header, so a URL rewritten after signing would be refused: sign with
        # a client for the public endpoint (signing is local: this client never connects)
        self.presign_client = (boto3.client("s3", config=config, endpoint_url=public_endpoint)
                               if public_endpoint else self.client)

    def _k(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _wrap(self, fn, *args, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(*args, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise FileNotFoundError(args[0] if args else "") from exc
            raise StorageError(f"object storage error: {code or exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"object storage unreachable: {exc}") from exc

    def put_bytes(self, key, data, content_type="application/octet-stream"):
        digest = hashlib.sha256(data)
        self._wrap(self.client.put_object, Bucket=self.bucket, Key=self._k(key), Body=data,
                   ContentType=content_type, ChecksumSHA256=base64.b64encode(digest.digest()).decode(),
                   Metadata={"sha256": digest.hexdigest()})
        return ObjectInfo(key, len(data), digest.hexdigest())

    def put_bytes_if_absent(self, key, data, content_type="application/octet-stream"):
        digest = hashlib.sha256(data)
        try:
            self._wrap(self.client.put_object, Bucket=self.bucket, Key=self._k(key), Body=data,
                       ContentType=content_type, ChecksumSHA256=base64.b64encode(digest.digest()).decode(),
                       Metadata={"sha256": digest.hexdigest()}, IfNoneMatch="*")
        except StorageError as exc:
            code = getattr(exc.__cause__, "response", {}).get("Error", {}).get("Code", "")
            if code not in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise
            data = self.open_bytes(key)  # a concurrent writer won: adopt its object
            digest = hashlib.sha256(data)
        return ObjectInfo(key, len(data), digest.hexdigest()), data

    def put_file(self, key, path, content_type="application/octet-stream"):
        digest = sha256_file(Path(path))
        self._wrap(self.client.upload_file, str(path), self.bucket, self._k(key),
                   ExtraArgs={"ContentType": content_type, "Metadata": {"sha256": digest},
                              "ChecksumAlgorithm": "SHA256"})
        return ObjectInfo(key, Path(path).stat().st_size, digest)

    def open_bytes(self, key):
        resp = self._wrap(self.client.get_object, Bucket=self.bucket, Key=self._k(key))
        return resp["Body"].read()

    def download(self, key, dest):
        self._wrap(self.client.download_file, self.bucket, self._k(key), str(dest))

    def exists(self, key):
        try:
            self._wrap(self.client.head_object, Bucket=self.bucket, Key=self._k(key))
            return True
        except FileNotFoundError:
            return False

    def delete(self, key):
        self._wrap(self.client.delete_object, Bucket=self.bucket, Key=self._k(key))

    def delete_prefix(self, prefix):
        count = 0
        paginator = self.client.get_paginator("list_objects_v2")
        for page in self._wrap(lambda: list(paginator.paginate(Bucket=self.bucket,
                                                                Prefix=self._k(prefix)))):
            objs = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if objs:
                self._wrap(self.client.delete_objects, Bucket=self.bucket, Delete={"Objects": objs})
                count += len(objs)
        return count

    def list_dirs(self, prefix):
        base = self._k(prefix.rstrip("/") + "/")
        paginator = self.client.get_paginator("list_objects_v2")
        pages = self._wrap(lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=base, Delimiter="/")))
        return sorted(cp["Prefix"][len(base):].rstrip("/")
                      for page in pages for cp in page.get("CommonPrefixes", []))

    def iter_chunks(self, key, chunk_size=1 << 20) -> Iterator[bytes]:
        resp = self._wrap(self.client.get_object, Bucket=self.bucket, Key=self._k(key))
        yield from resp["Body"].iter_chunks(chunk_size)

    def presigned_url(self, key, expires_s, filename=None):
        params = {"Bucket": self.bucket, "Key": self._k(key)}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        return self.presign_client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=max(1, min(int(expires_s), MAX_PRESIGN_S)))

    def check(self):
        self._wrap(self.client.head_bucket, Bucket=self.bucket)
