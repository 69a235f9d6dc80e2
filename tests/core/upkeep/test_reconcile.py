"""The reconciler re-sends what the broker lost, from the database alone."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from voxfarm.core.clock import utcnow
from voxfarm.core.models import Chunk, Job, Outbox
from voxfarm.core.render.leases import claim_chunk
from voxfarm.core.state.outbox import RENDER_TASK, relay, unit_of_work
from voxfarm.core.upkeep.reconcile import reconcile

from helpers import ListPublisher
from helpers import submit_job_direct as _job


def test_unit_of_work_publishes_after_commit_and_keeps_rows_when_broker_is_down(db):
    down = ListPublisher(fail=True)
    with unit_of_work(db, down) as s:
        from voxfarm.core.jobs.intake import submit_job
        from voxfarm.core.jobs.schemas import JobCreate
        from voxfarm.core.tenants.accounts import get_or_create_tenant

        submit_job(s, db.test_settings, db.test_store, get_or_create_tenant(s, "t").id, JobCreate(text="Hi there."))
    with db.session() as s:
        row = s.scalars(select(Outbox)).one()
        assert row.published_at is None and row.attempts == 1 and "broker down" in row.last_error
    up = ListPublisher()
    assert relay(db, up) == 1 and up.sent[0][0] == RENDER_TASK
    assert relay(db, up) == 0  # published rows are not sent again


def test_reconcile_relays_rows_a_crash_left_unpublished(db):
    _job(db)
    with db.session() as s:
        s.execute(update(Outbox).values(created_at=utcnow() - timedelta(seconds=10)))
    pub = ListPublisher()
    report = reconcile(db, pub, db.test_settings)
    assert report.relayed == 1 and pub.sent[0][0] == RENDER_TASK


def test_reconcile_resends_expired_leases_and_stale_pending_chunks(db):
    _, (c1,) = _job(db)
    _, (c2,) = _job(db, text="Another job entirely.")
    relay(db, ListPublisher())
    with db.session() as s:
        claim_chunk(s, c1, "dead#1", lease_s=30, max_attempts=3)
        s.execute(update(Chunk).where(Chunk.id == c1).values(lease_expires_at=utcnow() - timedelta(seconds=5),
                                                             enqueued_at=utcnow() - timedelta(minutes=5)))
        s.execute(update(Chunk).where(Chunk.id == c2).values(enqueued_at=utcnow() - timedelta(hours=1)))
    pub = ListPublisher()
    report = reconcile(db, pub, db.test_settings, queue_depth=lambda q: 0)  # the queue was flushed
    assert report.expired_leases == 1 and report.requeued_chunks == 1
    assert sorted(m[1][0] for m in pub.sent if m[0] == RENDER_TASK) == sorted([c1, c2])
    again = ListPublisher()
    reconcile(db, again, db.test_settings, queue_depth=lambda q: 0)
    assert not [m for m in again.sent if m[0] == RENDER_TASK]  # enqueued_at was refreshed


def test_reconcile_does_not_duplicate_a_healthy_backlog(db):
    _job(db)
    _job(db, text="Second.")
    relay(db, ListPublisher())
    with db.session() as s:
        s.execute(update(Chunk).values(enqueued_at=utcnow() - timedelta(hours=1)))
    pub = ListPublisher()
    report = reconcile(db, pub, db.test_settings, queue_depth=lambda q: 2 if q == "tts.espeak" else 0)
    assert report.requeued_chunks == 0  # both still queued
    report = reconcile(db, pub, db.test_settings, queue_depth=lambda q: 1 if q == "tts.espeak" else 0)
    assert report.requeued_chunks == 1  # one was lost
    # the interactive lane's messages count too: one there and one in bulk is both
    report = reconcile(db, pub, db.test_settings, queue_depth=lambda q: 1)
    assert report.requeued_chunks == 0


def test_reconcile_resends_to_the_jobs_lane(db):
    _job(db, priority=80)
    _job(db, text="Second.")
    relay(db, ListPublisher())
    with db.session() as s:
        s.execute(update(Chunk).values(enqueued_at=utcnow() - timedelta(hours=1)))
    pub = ListPublisher()
    reconcile(db, pub, db.test_settings, queue_depth=lambda q: 0)
    assert sorted(m[2] for m in pub.sent if m[0] == RENDER_TASK) == ["tts.espeak", "tts.espeak.interactive"]


def test_reconcile_requeues_a_finalizer_that_died(db):
    job_id, (chunk,) = _job(db)
    with db.session() as s:
        s.execute(update(Job).where(Job.id == job_id).values(status="running", progress_done=1,
                                                             updated_at=utcnow() - timedelta(seconds=30)))
        s.execute(update(Chunk).values(status="done"))
    pub = ListPublisher()
    assert reconcile(db, pub, db.test_settings).finalizers == 1
    assert ("voxfarm.finalize_job", [job_id], "control") in pub.sent
