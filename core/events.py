"""Webhook events, created in the same transaction as the job state they report.

A terminal status change and its ``job.*`` event commit together (with the outbox message that
triggers delivery), so a crash can lose neither one without the other.  Delivery itself lives in
``webhooks/``; this module only decides *which* events exist for *which* endpoints.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import outbox
from core.clock import utcnow
from core.ids import new_id
from core.lifecycle import EventStatus
from core.models import Job, Tenant, WebhookEndpoint, WebhookEvent

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


def emit(session: Session, job: Job, event_type: str, data: dict | None = None) -> list[WebhookEvent]:
    """Record ``event_type`` for every endpoint interested in ``job`` (and queue delivery)."""
    events = []
    for url in _targets(session, job, event_type):
        ep = endpoint_for(session, job.tenant_id, url)
        disabled = ep.disabled_at is not None
        event = WebhookEvent(id=new_id("msg"), tenant_id=job.tenant_id, job_id=job.id,
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
