"""Object storage: ``open_store(settings)`` picks local disk or S3 from ``VOXFARM_STORAGE_URL``.

Owns the store interface (write-once puts, presigned reads, listing for the sweep), its local-disk
and S3 implementations, and the key layout.  Imports core.settings and core.errors only.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from voxfarm.core.settings import Settings
from voxfarm.core.storage.base import ObjectInfo, ObjectStore, keys, sha256_file

__all__ = ["ObjectInfo", "ObjectStore", "keys", "open_store", "sha256_file"]


def open_store(settings: Settings, url: str | None = None) -> ObjectStore:
    url = url or settings.resolved_storage_url
    parsed = urlparse(url)
    if parsed.scheme == "file":
        from voxfarm.core.storage.local import LocalStore

        return LocalStore(Path(parsed.path))
    if parsed.scheme == "s3":
        from voxfarm.core.storage.s3 import S3Store

        if not parsed.netloc:
            raise ValueError("VOXFARM_STORAGE_URL must name a bucket: s3://bucket/prefix")
        return S3Store(parsed.netloc, parsed.path, public_endpoint=settings.s3_public_endpoint)
    raise ValueError(f"unsupported storage URL scheme {parsed.scheme!r} (use file:// or s3://)")
