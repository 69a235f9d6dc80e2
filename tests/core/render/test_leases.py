"""Claims, leases, poison chunks, cancel races: the compare-and-set rules of core/render/leases.py."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from voxfarm.core.clock import utcnow
from voxfarm.core.jobs.intake import cancel_job
from voxfarm.core.models import Chunk, Job, Outbox, WebhookEvent
from voxfarm.core.render.leases import ChunkResult, claim_chunk, complete_chunk, mark_on_engine, release_chunk
from voxfarm.core.state.lifecycle import ChunkStatus, JobStatus

from helpers import submit_job_direct as _job


def test_submit_writes_job_chunks_and_outbox_in_one_transaction(db):
    job_id, chunks = _job(db)
    with db.session() as s:
        outbox = s.scalars(select(Outbox)).all()
        assert [o.args for o in outbox] == [[c] for c in chunks]
        assert all(o.queue == "tts.espeak" and o.published_at is None for o in outbox)
        assert s.get(Job, job_id).status == JobStatus.queued


def test_only_one_of_two_claims_wins(db):
    _, (chunk,) = _job(db)
    with db.session() as s:
        first = claim_chunk(s, chunk, "w1#a", lease_s=30, max_attempts=3)
    with db.session() as s:
        second = claim_chunk(s, chunk, "w2#b", lease_s=30, max_attempts=3)
    assert first is not None and second is None
    with db.session() as s:
        assert s.get(Chunk, chunk).attempts == 1 and s.get(Job, first.job_id).status == JobStatus.running


def test_an_expired_lease_is_taken_over_and_the_old_owner_cannot_complete(db):
    _, (chunk,) = _job(db)
    with db.session() as s:
        work = claim_chunk(s, chunk, "dead#1", lease_s=30, max_attempts=3)
        mark_on_engine(s, [chunk], "dead#1")  # it died rendering: that attempt counts
        s.execute(update(Chunk).where(Chunk.id == chunk).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    with db.session() as s:
        assert claim_chunk(s, chunk, "live#2", lease_s=30, max_attempts=3) is not None
    with db.session() as s:
        assert complete_chunk(s, work, "dead#1", ChunkResult("0" * 64, 1.0, 2, False), 30) is None
    with db.session() as s:
        job = complete_chunk(s, work, "live#2", ChunkResult("1" * 64, 1.0, 2, False), 30)
        assert job is not None and job.progress_done == 1  # last chunk: time to finalize
        assert s.get(Chunk, chunk).attempts == 2


def test_a_chunk_that_keeps_dying_poisons_its_job(db):
    job_id, (chunk,) = _job(db)
    for i in range(3):  # max_attempts=3, each claim's worker "dies"
        with db.session() as s:
            assert claim_chunk(s, chunk, f"w#{i}", lease_s=30, max_attempts=3) is not None
            mark_on_engine(s, [chunk], f"w#{i}")
            s.execute(update(Chunk).where(Chunk.id == chunk).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    with db.session() as s:
        assert claim_chunk(s, chunk, "w#last", lease_s=30, max_attempts=3) is None
    with db.session() as s:
        job = s.get(Job, job_id)
        assert job.status == JobStatus.failed and job.error_code == "poison_chunk"
        assert [e.type for e in s.scalars(select(WebhookEvent))] == ["job.failed"]  # same transaction


def test_handback_does_not_count_an_attempt(db):
    _, (chunk,) = _job(db)
    with db.session() as s:
        claim_chunk(s, chunk, "w#1", lease_s=30, max_attempts=3)
    with db.session() as s:
        assert release_chunk(s, chunk, "w#1", count_attempt=False)
    with db.session() as s:
        c = s.get(Chunk, chunk)
        assert c.status == ChunkStatus.pending and c.attempts == 0 and c.lease_owner is None


def test_cancel_during_render_drops_the_result(db):
    job_id, (chunk,) = _job(db)
    with db.session() as s:
        work = claim_chunk(s, chunk, "w#1", lease_s=30, max_attempts=3)
    with db.session() as s:
        tenant_id = s.get(Job, job_id).tenant_id
        assert cancel_job(s, tenant_id, job_id).status == JobStatus.canceled
    with db.session() as s:
        assert complete_chunk(s, work, "w#1", ChunkResult("0" * 64, 1.0, 1, False), 30) is None
        assert s.get(Chunk, chunk).status == ChunkStatus.canceled
        assert [e.type for e in s.scalars(select(WebhookEvent))] == ["job.canceled"]


def test_claim_of_a_canceled_job_renders_nothing(db):
    job_id, (chunk,) = _job(db)
    with db.session() as s:
        cancel_job(s, s.get(Job, job_id).tenant_id, job_id)
    with db.session() as s:
        assert claim_chunk(s, chunk, "w#1", lease_s=30, max_attempts=3) is None


def test_progress_events_are_throttled_per_step_and_interval(db):
    from voxfarm.core.models import WebhookEvent
    from voxfarm.core.state.events import maybe_emit_progress

    text = "\n\n".join(f"Paragraph number {i} is here." for i in range(20))
    job_id, _ = _job(db, text=text)
    with db.session() as s:
        job = s.get(Job, job_id)
        assert job.progress_total == 20
        percents = []
        for done in range(1, 21):
            job.progress_done = done
            maybe_emit_progress(s, job, min_interval_s=0)  # every 10 % step
        events = s.scalars(select(WebhookEvent).where(WebhookEvent.type == "job.progress"))
        percents = [e.data["percent"] for e in events]
    assert percents == [10, 20, 30, 40, 50, 60, 70, 80, 90]  # 100 % is job.succeeded's business
    job_id, _ = _job(db, text=text)
    with db.session() as s:
        job = s.get(Job, job_id)
        for done in range(1, 21):
            job.progress_done = done
            maybe_emit_progress(s, job, min_interval_s=3600)  # at most one per hour
        n = len(s.scalars(select(WebhookEvent).where(WebhookEvent.type == "job.progress",
                                                     WebhookEvent.job_id == job_id)).all())
    assert n == 1
