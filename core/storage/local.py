"""Local-disk object store (embedded mode).  Writes are atomic: temp file, fsync, rename."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from voxfarm.core.storage.base import ObjectInfo, ObjectStore, check_key, sha256_file


class LocalStore(ObjectStore):
    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if self.root not in path.parents:
            raise ValueError(f"key escapes the store: {key!r}")
        return path

    def _atomic_write(self, key: str, writer) -> Path:
        dest = self.path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                writer(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return dest

    def put_bytes(self, key, data, content_type="application/octet-stream"):
        self._atomic_write(key, lambda fh: fh.write(data))
        return ObjectInfo(key, len(data), hashlib.sha256(data).hexdigest())

    def put_bytes_if_absent(self, key, data, content_type="application/octet-stream"):
        dest = self.path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.link(tmp, dest)  # atomic create-if-absent: fails if another writer got there first
        except FileExistsError:
            data = dest.read_bytes()
        finally:
            Path(tmp).unlink(missing_ok=True)
        return ObjectInfo(key, len(data), hashlib.sha256(data).hexdigest()), data

    def put_file(self, key, path, content_type="application/octet-stream"):
        def copy(fh):
            with open(path, "rb") as src:
                shutil.copyfileobj(src, fh, 1 << 20)

        dest = self._atomic_write(key, copy)
        return ObjectInfo(key, dest.stat().st_size, sha256_file(dest))

    def open_bytes(self, key):
        return self.path(key).read_bytes()

    def download(self, key, dest):
        shutil.copyfile(self.path(key), dest)

    def exists(self, key):
        return self.path(key).is_file()

    def delete(self, key):
        self.path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix):
        base = self.root / check_key(prefix.rstrip("/"))
        if not base.exists():
            return 0
        count = sum(1 for p in base.rglob("*") if p.is_file())
        shutil.rmtree(base)
        return count

    def list_dirs(self, prefix):
        base = self.root / check_key(prefix.rstrip("/"))
        return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []

    def iter_chunks(self, key, chunk_size=1 << 20) -> Iterator[bytes]:
        with open(self.path(key), "rb") as fh:
            while chunk := fh.read(chunk_size):
                yield chunk

    def presigned_url(self, key, expires_s, filename=None):
        return None  # the API streams local objects itself

    def check(self):
        probe = self.root / ".readyz"
        probe.write_bytes(b"ok")
        probe.unlink()
