"""Both object stores behave alike; sha256 and presign expiry are checked by our code (moto checks
neither)."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from voxfarm.core.errors import ChecksumMismatch
from voxfarm.core.settings import Settings
from voxfarm.core.storage import keys, open_store
from voxfarm.core.storage.base import check_key


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return open_store(Settings(data_dir=tmp_path))
    bucket = request.getfixturevalue("s3_bucket")
    return open_store(Settings(data_dir=tmp_path), f"s3://{bucket}/pre")


def test_put_get_overwrite_delete(store, tmp_path):
    key = keys.job_result("ten_A", "job_1", "wav")
    info = store.put_bytes(key, b"first")
    assert info.sha256 == hashlib.sha256(b"first").hexdigest() and info.size == 5
    store.put_bytes(key, b"second")  # deterministic key: a retry overwrites, never duplicates
    assert store.get_bytes(key, expect_sha256=hashlib.sha256(b"second").hexdigest()) == b"second"
    src = tmp_path / "f.bin"
    src.write_bytes(b"x" * 3_000_000)
    info = store.put_file(keys.job_file("ten_A", "job_1", "big.bin"), src)
    assert info.sha256 == hashlib.sha256(src.read_bytes()).hexdigest()
    assert b"".join(store.iter_chunks(keys.job_file("ten_A", "job_1", "big.bin"))) == src.read_bytes()
    assert store.delete_prefix("tenants/ten_A/jobs/job_1/") == 2
    assert not store.exists(key)
    with pytest.raises(FileNotFoundError):
        store.open_bytes(key)


def test_write_once_keeps_the_first_object(store):
    import threading

    key = keys.chunk_cache("ten_A", "cd" * 32)
    results = []
    barrier = threading.Barrier(4)

    def race(n):
        barrier.wait()
        results.append(store.put_bytes_if_absent(key, f"render {n}".encode()))

    threads = [threading.Thread(target=race, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stored = store.open_bytes(key)
    assert {data for _, data in results} == {stored}  # every writer adopted the one stored object
    assert {info.sha256 for info, _ in results} == {hashlib.sha256(stored).hexdigest()}


def test_corruption_is_detected_by_our_checksum(store):
    key = keys.chunk_cache("ten_A", "ab" * 32)
    good = store.put_bytes(key, b"audio bytes")
    store.put_bytes(key, b"audio bytez")  # the object changes behind the recorded digest
    with pytest.raises(ChecksumMismatch):
        store.get_bytes(key, expect_sha256=good.sha256)


def test_presigned_urls_carry_our_expiry(s3_bucket, tmp_path):
    store = open_store(Settings(data_dir=tmp_path), f"s3://{s3_bucket}/p")
    key = keys.job_result("ten_A", "job_2", "mp3")
    store.put_bytes(key, b"mp3 data")
    url = store.presigned_url(key, 900, filename="job_2.mp3")
    q = parse_qs(urlparse(url).query)
    assert q["X-Amz-Expires"] == ["900"] and q["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert requests.get(url, timeout=10).content == b"mp3 data"  # a plain HTTP client can fetch it
    week = parse_qs(urlparse(store.presigned_url(key, 10**9)).query)
    assert week["X-Amz-Expires"] == [str(7 * 24 * 3600)]  # clamped to SigV4's maximum


@pytest.mark.parametrize("bad", ["../etc/passwd", "/abs", "a//b", "tenants/../x", "a b", ""])
def test_keys_cannot_escape(bad):
    with pytest.raises(ValueError):
        check_key(bad)


def test_list_dirs_names_one_level_across_pages(store):
    # 1002 folders: S3 answers 1000 common prefixes per page, so this crosses a page boundary
    from concurrent.futures import ThreadPoolExecutor

    names = [f"job_{i:04d}" for i in range(1002)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda n: store.put_bytes(keys.job_file("ten_A", n, "deep/x.bin"), b"x"), names))
    store.put_bytes("tenants/ten_A/jobs/loose-file.txt", b"not a folder")
    store.put_bytes(keys.job_file("ten_B", "job_other", "x.bin"), b"x")
    assert store.list_dirs("tenants/ten_A/jobs/") == names
    assert store.list_dirs("tenants/ten_A/jobs") == names  # the trailing slash is optional
    assert store.list_dirs("tenants/ten_C/jobs/") == []
