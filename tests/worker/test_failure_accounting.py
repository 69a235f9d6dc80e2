"""Failure accounting in the worker runtime (no Celery): outages never use attempts, engine errors do.

The store is the real local-disk store behind a switch that makes every call raise StorageError,
as S3 answering 500 does (a fake behind the ObjectStore interface); the engine is a fake that can
be told to raise.  The DB is real (SQLite).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from voxfarm.core.clock import utcnow
from voxfarm.core.db import Database
from voxfarm.core.engines.registry import ENGINES
from voxfarm.core.errors import StorageError
from voxfarm.core.models import Chunk, Job
from voxfarm.core.settings import Settings
from voxfarm.core.storage import open_store
from voxfarm.core.storage.local import LocalStore
from voxfarm.worker.engines.base import Engine, RenderRequest, RenderResult
from voxfarm.worker.runtime import RetryLater, Runtime

from helpers import ListPublisher, submit_job_direct, tone


class SwitchableStore(LocalStore):
    """Local disk, except that while ``down`` every operation fails like an S3 outage."""

    down = False
    failed = 0

    def __getattribute__(self, name):
        attr = super().__getattribute__(name)
        if callable(attr) and not name.startswith("_") and name not in ("path",) and \
                super().__getattribute__("down"):
            def fail(*_a, **_k):
                self.failed += 1
                raise StorageError("object storage error: InternalError (injected)")
            return fail
        return attr


class ToggleEngine(Engine):
    spec = ENGINES["espeak"]
    raise_error: Exception | None = None

    def load(self) -> None:
        self.loaded = True

    def generate_batch(self, requests: list[RenderRequest]) -> list[RenderResult]:
        if self.raise_error is not None:
            raise self.raise_error
        return [RenderResult(audio=tone(len(r.text) / self.spec.chars_per_second, 22050)) for r in requests]


@pytest.fixture
def farm(tmp_path):
    made = []

    def make(**overrides) -> tuple[Runtime, Database, SwitchableStore, ToggleEngine]:
        from voxfarm.core.migrate import upgrade

        settings = Settings(data_dir=tmp_path / "var", max_attempts=2, quality_gate=False, **overrides)
        upgrade(settings)
        db = Database(settings)
        store = SwitchableStore(tmp_path / "var" / "objects")
        db.test_settings, db.test_store = settings, open_store(settings)
        rt = Runtime(settings, "espeak", name="unit")
        engine = ToggleEngine(settings)
        engine.load()
        rt.attach(db, store, ListPublisher(), engine, max_batch_size=4, max_wait_ms=5)
        rt._booted.set()
        made.append(rt)
        return rt, db, store, rt.engine

    yield make
    for rt in made:
        rt.batcher.close()


def _state(db, job_id, chunk_id):
    with db.session() as s:
        job, chunk = s.get(Job, job_id), s.get(Chunk, chunk_id)
        return job.status, job.error_code, chunk.status, chunk.attempts, job.infra_failing_since


def test_a_storage_outage_never_uses_attempts_nor_fails_the_job(farm):
    rt, db, store, _ = farm()
    job_id, [chunk_id] = submit_job_direct(db, "A sentence rendered through an outage.", webhook=None)
    store.down = True
    countdowns = []
    for retry in range(6):  # three times max_attempts: each would have been an attempt before
        with pytest.raises(RetryLater) as info:
            rt.render_chunk(chunk_id, retries=retry)
        countdowns.append(info.value.countdown)
        status, code, chunk_status, attempts, since = _state(db, job_id, chunk_id)
        assert (status, code, chunk_status, attempts) == ("running", None, "pending", 0)
        assert since is not None
    assert store.failed >= 6
    assert countdowns[-1] > countdowns[0] and max(countdowns) <= rt.settings.infra_retry_cap_s  # backoff
    store.down = False
    rt.render_chunk(chunk_id, retries=6)
    status, code, chunk_status, attempts, since = _state(db, job_id, chunk_id)
    assert (status, chunk_status, attempts, since) == ("succeeded", "done", 1, None)


def test_only_the_deadline_of_continuous_failure_fails_the_job(farm):
    rt, db, store, _ = farm(infra_deadline_s=3600)
    job_id, [chunk_id] = submit_job_direct(db, "A sentence that waits for storage.", webhook=None)
    store.down = True
    with pytest.raises(RetryLater):
        rt.render_chunk(chunk_id)
    assert _state(db, job_id, chunk_id)[0] == "running"
    with db.session() as s:  # the outage started just over the deadline ago
        s.execute(update(Job).where(Job.id == job_id)
                  .values(infra_failing_since=utcnow() - timedelta(seconds=3601)))
    with pytest.raises(RetryLater):
        rt.render_chunk(chunk_id)
    status, code, chunk_status, attempts, _ = _state(db, job_id, chunk_id)
    assert (status, code, attempts) == ("failed", "infrastructure_unavailable", 0)
    with db.session() as s:
        assert "InternalError" in s.get(Job, job_id).error_message


def test_a_success_restarts_the_outage_clock(farm):
    rt, db, store, _ = farm()
    job_id, chunks = submit_job_direct(db, "# A\nFirst part.\n\n# B\nSecond part.", webhook=None,
                                       text_format="markdown")
    store.down = True
    with pytest.raises(RetryLater):
        rt.render_chunk(chunks[0])
    assert _state(db, job_id, chunks[0])[4] is not None
    store.down = False
    rt.render_chunk(chunks[1])
    assert _state(db, job_id, chunks[0])[4] is None


def test_engine_errors_use_attempts_until_the_chunk_is_poison(farm):
    rt, db, _, engine = farm()
    job_id, [chunk_id] = submit_job_direct(db, "A sentence the engine cannot render.", webhook=None)
    engine.raise_error = RuntimeError("CUDA error: device-side assert triggered")
    for expected in (1, 2):
        with pytest.raises(RetryLater):
            rt.render_chunk(chunk_id)
        assert _state(db, job_id, chunk_id)[3] == expected
    rt.render_chunk(chunk_id)  # max_attempts = 2 used: the claim fails the job
    status, code, *_ = _state(db, job_id, chunk_id)
    assert (status, code) == ("failed", "poison_chunk")


def test_a_finalize_outage_never_uses_finalize_attempts(farm):
    rt, db, store, _ = farm()
    job_id, chunks = submit_job_direct(db, "# A\nFirst part.\n\n# B\nSecond part.", webhook=None,
                                       text_format="markdown")
    for cid in chunks:
        rt.render_chunk(cid)
    store.down = True
    for retry in range(4):  # twice max_attempts
        with pytest.raises(RetryLater):
            rt.finalize_job(job_id, retries=retry)
        with db.session() as s:
            job = s.get(Job, job_id)
            assert (job.status, job.finalize_attempts, job.finalize_owner) == ("running", 0, None)
    store.down = False
    rt.finalize_job(job_id)
    with db.session() as s:
        assert s.get(Job, job_id).status == "succeeded"


def test_a_database_outage_keeps_the_lease_and_the_retry_retakes_it_uncounted(farm, monkeypatch):
    from sqlalchemy.exc import OperationalError

    import voxfarm.worker.runtime as runtime_mod

    rt, db, _, _ = farm()
    job_id, [chunk_id] = submit_job_direct(db, "A sentence recorded after the database returns.", webhook=None)
    real = runtime_mod.complete_chunk

    def db_down(*_a, **_k):
        raise OperationalError("UPDATE chunks", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(runtime_mod, "complete_chunk", db_down)
    monkeypatch.setattr(runtime_mod, "defer_chunk", db_down)  # the hand-back fails too
    with pytest.raises(RetryLater):
        rt.render_chunk(chunk_id)
    assert _state(db, job_id, chunk_id)[2:4] == ("running", 1)  # still our lease
    monkeypatch.setattr(runtime_mod, "complete_chunk", real)
    rt.render_chunk(chunk_id, retries=1)  # a cache hit now: the audio was stored before the outage
    status, _, chunk_status, attempts, _ = _state(db, job_id, chunk_id)
    assert (status, chunk_status, attempts) == ("succeeded", "done", 1)
    with db.session() as s:
        assert s.get(Chunk, chunk_id).cache_hit
