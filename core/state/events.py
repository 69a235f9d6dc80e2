"""Webhook events, created in the same transaction as the job state they report.

A terminal status change and its ``job.*`` event commit together (with the outbox message that
triggers delivery), so a crash can lose neither one without the other.  Delivery itself lives in
``webhooks/``; this module only decides *which* events exist for *which* endpoints.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from voxfarm.core.clock import utcnow
from voxfarm.core.ids import new_id
from voxfarm.core.models import Batch, Job, Tenant, WebhookEndpoint, WebhookEvent
from voxfarm.core.state import outbox
from voxfarm.core.state.lifecycle import TERMINAL_JOB, EventStatus

TERMINAL_EVENTS = ("job.succeeded", "job.failed", "job.canceled")


def endpoint_for(session: Session, tenant_id: str, url: str) -> WebhookEndpoint:
    """Get or create the endpoint row, safe against a concurrent creator (two workers finishing
    two jobs of one tenant at once): the insert runs in a savepoint and a unique-key clash
    simply re-reads the winner's row."""
    query = select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.url == url)
    ep = session.scalar(query)
    if ep is not None:
        return ep
    try:
        with session.begin_nested():
            ep = WebhookEndpoint(id=new_id("whe"), tenant_id=tenant_id, url=url)
            session.add(ep)
        return ep
    except IntegrityError:
        return session.scalar(query)


def _targets(session: Session, job: Job, event_type: str) -> list[str]:
    """Where ``event_type`` of ``job`` goes.  The rule: a job's own ``webhook`` replaces the
    tenant's default endpoint for that job (with its ``events`` filter, if any: an event it
    leaves out goes nowhere); a job without one reports to the default endpoint.  One event,
    one delivery -- a receiver never gets the same news twice from two subscriptions."""
    if job.webhook:
        wanted = job.webhook.get("events") or (*TERMINAL_EVENTS, "job.progress")
        return [job.webhook["url"]] if event_type in wanted else []
    tenant = session.get(Tenant, job.tenant_id)
    return [tenant.webhook_url] if tenant is not None and tenant.webhook_url else []


def emit(session: Session, job: Job, event_type: str, data: dict | None = None, *,
         complete_batch: bool = True) -> list[WebhookEvent]:
    """Record ``event_type`` for every endpoint interested in ``job`` (and queue delivery).

    Every terminal status change emits its ``job.*`` event here, in its transaction: so this is
    also where a batch whose last job just ended gets its ``batch.completed`` (``complete_batch``
    False defers that check to a caller ending many jobs at once).
    """
    events = _record(session, job.tenant_id, job.id, _targets(session, job, event_type), event_type, data)
    if complete_batch and event_type in TERMINAL_EVENTS and job.batch_id:
        complete_batch_if_done(session, job.batch_id)
    return events


def complete_batch_if_done(session: Session, batch_id: str) -> bool:
    """Mark the batch completed and emit ``batch.completed`` if none of its jobs is live any more.

    Exactly once: the batch row is locked first (SELECT ... FOR UPDATE), so of two transactions
    ending a batch's last two jobs at once the second waits, then (READ COMMITTED: each statement
    sees what committed before it) counts zero live jobs but finds ``completed_at`` already set.
    """
    batch = session.scalar(select(Batch).where(Batch.id == batch_id).with_for_update()
                          .execution_options(populate_existing=True))
    if batch is None or batch.completed_at is not None:
        return False
    live = session.scalar(select(func.count()).select_from(Job).where(
        Job.batch_id == batch_id, Job.status.not_in(sorted(TERMINAL_JOB))))
    if live:
        return False
    won = session.execute(update(Batch).where(Batch.id == batch_id, Batch.completed_at.is_(None))
                          .values(completed_at=utcnow(), updated_at=utcnow())
                          .execution_options(synchronize_session=False)).rowcount
    if not won:
        return False
    if batch.webhook:
        wanted = batch.webhook.get("events") or ["batch.completed"]
        urls = [batch.webhook["url"]] if "batch.completed" in wanted else []
    else:
        tenant = session.get(Tenant, batch.tenant_id)
        urls = [tenant.webhook_url] if tenant is not None and tenant.webhook_url else []
    _record(session, batch.tenant_id, batch.id, urls, "batch.completed", None)
    return True


def _record(session: Session, tenant_id: str, subject_id: str, urls: list[str], event_type: str,
            data: dict | None) -> list[WebhookEvent]:
    """One event row per endpoint (``job_id`` holds the job's or the batch's id)."""
    events = []
    for url in urls:
        ep = endpoint_for(session, tenant_id, url)
        disabled = ep.disabled_at is not None
        event = WebhookEvent(id=new_id("msg"), tenant_id=tenant_id, job_id=subject_id,
                             endpoint_id=ep.id, type=event_type, data=data or {},
                             status=EventStatus.disabled if disabled else EventStatus.pending,
                             next_attempt_at=None if disabled else utcnow(),
                             enqueued_at=None if disabled else utcnow())
        session.add(event)
        if not disabled:
            outbox.add(session, outbox.WEBHOOK_TASK, [event.id], outbox.WEBHOOK_QUEUE)
        events.append(event)
    return events


def maybe_emit_progress(session: Session, job: Job, min_interval_s: float) -> None:
    """``job.progress`` for multi-chunk jobs: at most once per 10 % step and per interval."""
    if job.progress_total <= 1:
        return
    pct = int(100 * job.progress_done / job.progress_total) // 10 * 10
    if pct <= job.progress_event_pct or pct >= 100:
        return
    now = utcnow()
    if job.progress_event_at and now - job.progress_event_at < timedelta(seconds=min_interval_s):
        return
    job.progress_event_pct, job.progress_event_at = pct, now
    emit(session, job, "job.progress", {"percent": pct})
