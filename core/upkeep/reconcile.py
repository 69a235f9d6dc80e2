"""The reconciler: repair whatever the broker lost, from the database's point of view.

Runs every ``reconcile_interval_s`` (Celery beat) and once when ``voxfarm up`` starts.  Each pass:

1. relays outbox rows left unpublished (the process died between commit and publish);
2. re-sends chunks whose lease expired (their worker died; the next claim takes the lease over,
   and a chunk that has used its attempts is failed there as poison);
3. re-sends pending chunks whose message may be lost (Redis restarted or flushed, a crash inside
   kombu's fetch): those sent longer than ``requeue_after_s`` ago, but only as many as the queue
   is short of -- with a healthy 10k-chunk backlog nothing is duplicated;
4. re-queues finalization for jobs whose chunks are all done but whose finalizer is gone;
5. re-sends webhook events that are due and not in flight;
6. prunes expired idempotency keys and old outbox history.

Every message it sends is idempotent at the consumer (leases, compare-and-set), so an overlap
with a slow worker costs one no-op, never a duplicate result.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta

from sqlalchemy import func, or_, select, update

from voxfarm.core.clock import utcnow
from voxfarm.core.db import Database
from voxfarm.core.engines.registry import served_engines
from voxfarm.core.fleet import metrics
from voxfarm.core.jobs import dispatch, idempotency
from voxfarm.core.jobs.lanes import engine_queues, render_queue
from voxfarm.core.models import Chunk, Job, WebhookEvent
from voxfarm.core.settings import Settings
from voxfarm.core.state import outbox
from voxfarm.core.state.lifecycle import ChunkStatus, EventStatus, JobStatus

log = logging.getLogger(__name__)

QueueDepth = Callable[[str], int | None]
UNPUBLISHED_GRACE_S = 2.0  # the committing process normally publishes within milliseconds


@dataclass
class Report:
    relayed: int = 0
    expired_leases: int = 0
    requeued_chunks: int = 0
    finalizers: int = 0
    webhooks: int = 0
    released: int = 0  # held chunks published to fill tenants' dispatch windows
    pruned: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def reconcile(db: Database, publisher: outbox.Publisher, settings: Settings,
              queue_depth: QueueDepth | None = None, *, startup: bool = False) -> Report:
    report = Report()
    now = utcnow()
    report.relayed = outbox.relay(db, publisher, older_than_s=None if startup else UNPUBLISHED_GRACE_S,
                                  limit=20_000)
    messages: list[tuple[str, list, str]] = []

    with db.session() as s:
        # 2. expired leases: re-send so a worker claims (or poisons) them
        resend_before = now - timedelta(seconds=settings.lease_s)
        expired = s.execute(
            select(Chunk.id, Job.engine, Job.priority).join(Job, Job.id == Chunk.job_id)
            .where(Chunk.status == ChunkStatus.running, Chunk.lease_expires_at < now,
                   or_(Chunk.enqueued_at.is_(None), Chunk.enqueued_at < resend_before),
                   Job.status.in_([JobStatus.queued, JobStatus.running]))).all()
        for chunk_id, engine, priority in expired:
            messages.append((outbox.RENDER_TASK, [chunk_id], render_queue(engine, priority, settings)))
        report.expired_leases = len(expired)

        # 3. pending chunks whose message may be gone
        cutoff = now if startup else now - timedelta(seconds=settings.requeue_after_s)
        stale = s.execute(
            select(Chunk.id, Job.engine, Job.priority).join(Job, Job.id == Chunk.job_id)
            .where(Chunk.status == ChunkStatus.pending, Chunk.enqueued_at < cutoff,
                   Job.status.in_([JobStatus.queued, JobStatus.running]))
            .order_by(Chunk.enqueued_at)).all()
        by_engine: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for chunk_id, engine, priority in stale:
            by_engine[engine].append((chunk_id, priority))
        for engine, items in by_engine.items():
            items = _shortfall(s, engine, items, queue_depth)
            messages.extend((outbox.RENDER_TASK, [cid], render_queue(engine, prio, settings)) for cid, prio in items)
            report.requeued_chunks += len(items)

        touched = [m[1][0] for m in messages]
        for start in range(0, len(touched), 500):
            s.execute(update(Chunk).where(Chunk.id.in_(touched[start:start + 500]))
                      .values(enqueued_at=now, enqueue_count=Chunk.enqueue_count + 1)
                      .execution_options(synchronize_session=False))

        # 4. finished chunks, no live finalizer
        orphans = s.scalars(
            select(Job.id).where(Job.status == JobStatus.running, Job.progress_done >= Job.progress_total,
                                 or_(Job.finalize_owner.is_(None), Job.finalize_expires_at < now),
                                 Job.updated_at < now - timedelta(seconds=UNPUBLISHED_GRACE_S))).all()
        messages.extend((outbox.FINALIZE_TASK, [job_id], outbox.CONTROL_QUEUE) for job_id in orphans)
        report.finalizers = len(orphans)

        # 5. webhook events: due with nobody scheduled to send them (enqueued_at NULL: long waits
        # are never broker ETAs), or due and still unclaimed a grace period later (message lost)
        grace = now - timedelta(seconds=settings.resend_grace_s)
        due = s.scalars(
            select(WebhookEvent.id).where(
                WebhookEvent.status == EventStatus.pending, WebhookEvent.next_attempt_at <= now,
                or_(WebhookEvent.enqueued_at.is_(None),
                    (WebhookEvent.next_attempt_at <= grace) & (WebhookEvent.enqueued_at <= grace)))).all()
        if due:
            s.execute(update(WebhookEvent).where(WebhookEvent.id.in_(due)).values(enqueued_at=now)
                      .execution_options(synchronize_session=False))
        messages.extend((outbox.WEBHOOK_TASK, [eid], outbox.WEBHOOK_QUEUE) for eid in due)
        report.webhooks = len(due)

        report.pruned = idempotency.purge_expired(s) + outbox.prune(s)

    # 6. fair dispatch: windows that emptied without a completion (canceled or failed jobs)
    with outbox.unit_of_work(db, publisher) as s:
        report.released = dispatch.top_up(s, settings.dispatch_window, settings.heartbeat_s,
                                          served_engines(settings), interactive_priority=settings.interactive_priority)
    metrics.LEASE_EXPIRIES.inc(report.expired_leases)
    for kind in ("requeued_chunks", "finalizers", "webhooks", "released"):
        metrics.RESENDS.labels(kind).inc(getattr(report, kind))
    if messages:
        try:
            for start in range(0, len(messages), 500):
                publisher.publish_many(messages[start:start + 500])
        except Exception as exc:  # noqa: BLE001 - the next pass retries; state is in the DB
            log.warning("reconciler could not publish %d messages: %s", len(messages), exc)
    if any(v for k, v in report.as_dict().items() if k != "pruned"):
        log.info("reconcile: %s", report.as_dict())
    return report


def _shortfall(session, engine: str, stale_ids: list, queue_depth: QueueDepth | None) -> list:
    """How many of the stale pending chunks to re-send: all of them if the broker cannot tell its
    depth; otherwise only as many as the engine's queues (both lanes) hold fewer messages than
    there are pending chunks."""
    if queue_depth is None:
        return stale_ids
    depths = [queue_depth(q) for q in engine_queues(engine)]
    if any(d is None for d in depths):
        return stale_ids
    depth = sum(depths)
    pending = session.scalar(select(func.count()).select_from(Chunk).join(Job, Job.id == Chunk.job_id)
                             .where(Chunk.status == ChunkStatus.pending, Job.engine == engine,
                                    Chunk.enqueued_at.is_not(None),  # held chunks have no message
                                    Job.status.in_([JobStatus.queued, JobStatus.running]))) or 0
    missing = max(0, pending - depth)
    return stale_ids[:missing]
