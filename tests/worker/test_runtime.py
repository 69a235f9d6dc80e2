"""The worker runtime without Celery: claim -> batcher -> engine -> quality gate -> storage -> DB.

The engine here is a fake behind the real Engine interface (unit tests only): it renders
silence for chosen seeds, so the quality gate's re-render loop can be driven exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from voxfarm.core.db import Database
from voxfarm.core.engines.registry import ENGINES
from voxfarm.core.jobs.planning import derive_seed
from voxfarm.core.models import Chunk, Job
from voxfarm.core.settings import Settings
from voxfarm.core.storage import open_store
from voxfarm.worker.batcher import MicroBatcher
from voxfarm.worker.engines.base import Engine, RenderRequest, RenderResult
from voxfarm.worker.producing import BatchItem
from voxfarm.worker.runtime import Runtime

from helpers import ListPublisher, submit_job_direct, tone


class SilentForSeeds(Engine):
    spec = ENGINES["espeak"]

    def __init__(self, settings, bad_seeds: set[int]) -> None:
        super().__init__(settings)
        self.bad_seeds = bad_seeds
        self.seen: list[int] = []
        self.batches: list[list[str]] = []  # the request keys of each generate_batch call

    def load(self) -> None:
        self.loaded = True

    def generate_batch(self, requests: list[RenderRequest]) -> list[RenderResult]:
        out = []
        self.batches.append([r.key for r in requests])
        for r in requests:
            self.seen.append(r.seed)
            seconds = len(r.text) / self.spec.chars_per_second
            audio = np.zeros(int(seconds * 22050), np.float32) if r.seed in self.bad_seeds else tone(seconds, 22050)
            out.append(RenderResult(audio=audio, steps=audio.size))
        return out


@pytest.fixture
def runtime_for(tmp_path):
    made = []

    def make(bad_seeds_for, **overrides) -> tuple[Runtime, Database, SilentForSeeds]:
        from voxfarm.core.migrate import upgrade

        settings = Settings(data_dir=tmp_path / "var", outbound_allowlist=["127.0.0.1/32"], **overrides)
        upgrade(settings)
        db = Database(settings)
        db.test_settings, db.test_store = settings, open_store(settings)
        rt = Runtime(settings, "espeak", name="unit")
        engine = SilentForSeeds(settings, set())
        engine.load()
        rt.attach(db, db.test_store, ListPublisher(), engine, max_batch_size=4, max_wait_ms=5)
        rt._booted.set()
        made.append(rt)
        return rt, db, rt.engine

    yield make
    for rt in made:
        rt.batcher.close()


def test_a_failing_take_is_rerendered_with_a_new_seed(runtime_for):
    rt, db, engine = runtime_for(None, quality_retries=2)
    job_id, [chunk_id] = submit_job_direct(db, "One sentence that renders silent the first time.", webhook=None)
    with db.session() as s:
        chunk = s.get(Chunk, chunk_id)
        job_seed, text, first_seed = s.get(Job, job_id).seed, chunk.text, chunk.seed
    engine.bad_seeds = {first_seed}
    rt.render_chunk(chunk_id)
    assert engine.seen == [first_seed, derive_seed(job_seed, text, 1)]  # reproducible second take
    with db.session() as s:
        job, chunk = s.get(Job, job_id), s.get(Chunk, chunk_id)
        assert job.status == "succeeded" and chunk.quality_retries == 1


def test_a_chunk_failing_every_take_fails_its_job_by_name(runtime_for):
    rt, db, engine = runtime_for(None, quality_retries=2)
    job_id, chunks = submit_job_direct(db, "# One\nFirst chapter text here.\n\n# Two\nSecond chapter text.",
                                       webhook=None, text_format="markdown")
    with db.session() as s:
        bad = s.get(Chunk, chunks[1])
        job_seed = s.get(Job, job_id).seed
        engine.bad_seeds = {bad.seed} | {derive_seed(job_seed, bad.text, n) for n in (1, 2)}
    rt.render_chunk(chunks[0])
    rt.render_chunk(chunks[1])
    with db.session() as s:
        job = s.get(Job, job_id)
        assert job.status == "failed" and job.error_code == "quality_silent"
        assert "chunk 1" in job.error_message and "3 renders" in job.error_message
        assert s.get(Chunk, chunks[1]).status == "failed"
    assert len(engine.seen) == 4  # one good chunk + three takes of the bad one


def test_suspects_render_alone(runtime_for):
    rt, db, engine = runtime_for(None)
    items = [BatchItem("job", RenderRequest(f"c{i}", "x", {}, i), solo=(i == 0)) for i in range(3)]
    keys = {rt.batcher.group_key(it) for it in items}
    assert len(keys) == 2  # the suspect forms its own group; the rest share one


def test_two_suspects_never_share_a_batch(runtime_for):
    """Through the real batcher: all six are waiting before it starts, so only grouping decides."""
    rt, _, engine = runtime_for(None)
    batcher = MicroBatcher(rt._run_batch, max_batch_size=8, max_wait_ms=0, group_key=rt._group_key,
                           is_error=lambda r: r.error)
    suspects = (1, 4)  # second attempts: each crashed a worker once
    items = [BatchItem("job", RenderRequest(f"{'s' if i in suspects else 'n'}{i}", "Same words.", {}, i),
                   solo=i in suspects) for i in range(6)]
    futures = [batcher.submit(it) for it in items]
    batcher.start()
    try:
        assert all(f.result(timeout=30).result.ok for f in futures)
    finally:
        batcher.close()
    assert sorted(engine.batches) == [["n0", "n2", "n3", "n5"], ["s1"], ["s4"]], engine.batches


def test_the_heartbeat_renews_only_leases_of_live_tasks(runtime_for):
    from datetime import timedelta

    from sqlalchemy import update

    from voxfarm.core.clock import utcnow
    from voxfarm.core.render.leases import claim_chunk

    rt, db, _ = runtime_for(None)
    _, [live, dead] = submit_job_direct(db, "# A\nOne.\n\n# B\nTwo.", webhook=None, text_format="markdown",
                                        announce_chapters=False)
    soon = utcnow() + timedelta(seconds=1)
    with db.session() as s:
        for cid in (live, dead):
            claim_chunk(s, cid, rt.worker_id, lease_s=1, max_attempts=3)
        s.execute(update(Chunk).values(lease_expires_at=soon))
    rt.held.chunks.add(live)  # a task is working on `live`; the task for `dead` has died
    rt.heartbeat.beat()
    with db.session() as s:
        assert s.get(Chunk, live).lease_expires_at > soon + timedelta(seconds=30)
        assert s.get(Chunk, dead).lease_expires_at == soon
        assert s.scalars(select(Chunk.status)).all() == ["running", "running"]


def _claim_all(rt, db, chunk_ids: list[str]) -> list:
    from voxfarm.core.render.leases import claim_chunk

    works = []
    for chunk_id in chunk_ids:
        with db.session() as s:
            works.append(claim_chunk(s, chunk_id, rt.worker_id, lease_s=60, max_attempts=3))
    assert all(works)
    return works


def test_an_interactive_chunk_leads_the_next_batch_past_a_bulk_backlog(runtime_for):
    """Through the runtime's own producer and batcher: while one batch holds the engine, eight bulk
    chunks queue up, then one chunk of an interactive job (priority >= interactive_priority).  The
    next batch is formed around the interactive chunk, not the oldest bulk ones."""
    import threading

    from helpers import wait_for

    rt, db, engine = runtime_for(None)  # batches of at most 4
    first = submit_job_direct(db, "The chunk that holds the engine.", webhook=None)[1]
    bulk = [submit_job_direct(db, f"Bulk line number {i} of a long backlog.", webhook=None)[1][0] for i in range(8)]
    urgent = submit_job_direct(db, "Now!", webhook=None, priority=100)[1][0]
    assert rt.settings.interactive_priority <= 100
    works = dict(zip([*first, *bulk, urgent], _claim_all(rt, db, [*first, *bulk, urgent]), strict=True))
    gate, on_engine, errors = threading.Event(), threading.Event(), []
    real = engine.generate_batch

    def held_first(requests):
        if not gate.is_set():  # the first batch stays on the engine until the backlog is queued
            on_engine.set()
            gate.wait(60)
        return real(requests)

    engine.generate_batch = held_first

    def produce(chunk_id):
        try:
            rt.producer.produce(works[chunk_id])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=produce, args=(first[0],))]
    threads[0].start()
    assert on_engine.wait(60)
    for chunk_id in bulk:  # the backlog arrives first ...
        threads.append(threading.Thread(target=produce, args=(chunk_id,)))
        threads[-1].start()
    wait_for(lambda: rt.batcher.queue.qsize() == len(bulk), timeout=60, interval=0.01, what="the backlog")
    threads.append(threading.Thread(target=produce, args=(urgent,)))  # ... then the interactive chunk
    threads[-1].start()
    wait_for(lambda: rt.batcher.queue.qsize() == len(bulk) + 1, timeout=60, interval=0.01, what="the urgent one")
    gate.set()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert engine.batches[0] == first
    assert urgent in engine.batches[1], engine.batches
    assert sorted(c for b in engine.batches for c in b) == sorted([*first, *bulk, urgent])


def test_each_chunk_of_a_shared_batch_gets_its_own_audio(runtime_for):
    """The runtime's batch call hands each item the result of its own request: chunks of very
    different lengths rendered in one batch come back each as long as its own text says (the fake
    engine renders len(text) / chars_per_second seconds), in the chunk's stored duration too."""
    rt, db, engine = runtime_for(None)
    texts = ["Short.", "A medium sized line of words.", "A much longer line, which goes on and on for quite a while.",
             "Tiny."]
    chunk_ids = [submit_job_direct(db, t, webhook=None)[1][0] for t in texts]
    works = _claim_all(rt, db, chunk_ids)
    batcher = MicroBatcher(rt._run_batch, max_batch_size=8, max_wait_ms=0, group_key=rt._group_key,
                           length=lambda it: engine.expected_length(it.request), is_error=lambda r: r.error)
    futures = [batcher.submit(BatchItem(w.job_id, RenderRequest(w.chunk_id, w.text, w.params, w.seed)))
               for w in works]
    batcher.start()
    try:
        outcomes = [f.result(timeout=30) for f in futures]
    finally:
        batcher.close()
    assert [len(b) for b in engine.batches] == [len(texts)]  # one shared batch
    for text, outcome in zip(texts, outcomes, strict=True):
        want = int(len(text) / engine.spec.chars_per_second * 22050)
        assert outcome.result.audio.size == want, (text, outcome.result.audio.size, want)
