"""Object storage contract shared by local disk and S3.

Keys are built only by ``keys`` below, always under ``tenants/<tenant_id>/``, and are
deterministic per object (a job's result, a chunk's content hash): a retried render overwrites the
same object instead of leaving a duplicate.  Every write records a sha256 computed here, and reads
that pass ``expect_sha256`` are verified here too -- we do not rely on the server to check.
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from voxfarm.core.errors import ChecksumMismatch

_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/]{0,500}$")


def check_key(key: str) -> str:
    if not _KEY_RE.match(key) or ".." in key or "//" in key:
        raise ValueError(f"invalid object key {key!r}")
    return key


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    sha256: str


class ObjectStore(ABC):
    """What every storage backend provides."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> ObjectInfo:
        """Store ``data`` under ``key`` (overwriting) and return its size and sha256."""

    @abstractmethod
    def put_bytes_if_absent(self, key: str, data: bytes,
                            content_type: str = "application/octet-stream") -> tuple[ObjectInfo, bytes]:
        """Create ``key`` only if nothing is stored there (atomically).  Returns the info and bytes
        of whatever is stored afterwards: ours, or the object a concurrent writer put first.
        Content-addressed objects (the chunk cache) are write-once through this."""

    @abstractmethod
    def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> ObjectInfo:
        """Upload a local file without loading it whole into memory."""

    @abstractmethod
    def open_bytes(self, key: str) -> bytes:
        """Read an object (raises FileNotFoundError when absent)."""

    @abstractmethod
    def download(self, key: str, dest: Path) -> None:
        """Stream an object to a local file."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove an object; absent objects are not an error."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> int: ...

    @abstractmethod
    def list_dirs(self, prefix: str) -> list[str]:
        """Names one level below ``prefix`` (``tenants/t/jobs/`` -> job ids), without listing the
        objects under them: S3 answers this with common prefixes, 1000 names per request."""

    @abstractmethod
    def iter_chunks(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]: ...

    @abstractmethod
    def presigned_url(self, key: str, expires_s: int, filename: str | None = None) -> str | None:
        """A time-limited URL a client can fetch directly, or None when the backend has none."""

    @abstractmethod
    def check(self) -> None:
        """Raise if the backend is unreachable (readiness probe)."""

    # -- helpers built on the primitives ------------------------------------------------------
    def get_bytes(self, key: str, expect_sha256: str | None = None) -> bytes:
        data = self.open_bytes(key)
        if expect_sha256 is not None:
            _verify(key, hashlib.sha256(data).hexdigest(), expect_sha256)
        return data


def _verify(key: str, actual: str, expected: str) -> None:
    if actual != expected:
        raise ChecksumMismatch(f"object {key} has sha256 {actual[:12]}..., expected {expected[:12]}...")


def sha256_file(path: Path, block: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
    return digest.hexdigest()


class keys:  # noqa: N801 - a namespace of key builders
    """The only place object keys are spelled; every key is scoped by tenant."""

    @staticmethod
    def voice_original(tenant: str, voice: str, ext: str) -> str:
        return check_key(f"tenants/{tenant}/voices/{voice}/original.{ext}")

    @staticmethod
    def voice_normalized(tenant: str, voice: str) -> str:
        return check_key(f"tenants/{tenant}/voices/{voice}/normalized.wav")

    @staticmethod
    def voice_prepared(tenant: str, voice: str, engine: str, fingerprint: str) -> str:
        return check_key(f"tenants/{tenant}/voices/{voice}/prepared/{engine}-{fingerprint}.bin")

    @staticmethod
    def voice_prefix(tenant: str, voice: str) -> str:
        return check_key(f"tenants/{tenant}/voices/{voice}/")

    @staticmethod
    def job_result(tenant: str, job: str, fmt: str) -> str:
        return check_key(f"tenants/{tenant}/jobs/{job}/audio.{fmt}")

    @staticmethod
    def job_file(tenant: str, job: str, name: str) -> str:
        return check_key(f"tenants/{tenant}/jobs/{job}/{name}")

    @staticmethod
    def chunk_cache(tenant: str, digest: str) -> str:
        return check_key(f"tenants/{tenant}/chunks/{digest}.flac")
