"""What a tenant manages about its webhooks: the signing secret, the default endpoint, the
delivery history of a job and explicit redelivery.

The API's webhook views validate their input and make one call here.  Which events exist is
decided in the job's own transaction (core/state/events.py); delivering them is webhooks/delivery.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from voxfarm.core.clock import iso, utcnow
from voxfarm.core.errors import Conflict, NotFound
from voxfarm.core.jobs import intake as core_jobs
from voxfarm.core.models import Tenant, WebhookAttempt, WebhookEndpoint, WebhookEvent
from voxfarm.core.netguard import Guard
from voxfarm.core.state.lifecycle import set_event_status
from voxfarm.core.state.outbox import WEBHOOK_QUEUE, WEBHOOK_TASK, add
from voxfarm.core.statuses import EventStatus
from voxfarm.core.tenants.accounts import new_webhook_secret


def secret_info(session: Session, tenant_id: str) -> dict[str, Any]:
    """The current signing secret and, during a rotation's grace period, when the old one stops."""
    tenant = session.get(Tenant, tenant_id)
    until = tenant.webhook_secret_prev_until
    valid = until if until and until > utcnow() else None
    return {"secret": tenant.webhook_secret, "previous_secret_valid_until": iso(valid)}


def rotate_secret(session: Session, tenant_id: str, grace_s: int) -> dict[str, Any]:
    """New secret now; the old one keeps signing (a second signature) for ``grace_s`` seconds."""
    tenant = session.get(Tenant, tenant_id)
    tenant.webhook_secret_prev = tenant.webhook_secret
    tenant.webhook_secret_prev_until = utcnow() + timedelta(seconds=grace_s)
    tenant.webhook_secret = new_webhook_secret()
    return secret_info(session, tenant_id)


def signing_secrets(tenant: Tenant, now: datetime | None = None) -> list[str]:
    """Every secret a delivery is signed with right now (two during a rotation)."""
    now = now or utcnow()
    out = [tenant.webhook_secret]
    if tenant.webhook_secret_prev and tenant.webhook_secret_prev_until and tenant.webhook_secret_prev_until > now:
        out.append(tenant.webhook_secret_prev)
    return out


def default_endpoint(session: Session, tenant_id: str) -> dict[str, Any]:
    return {"url": session.get(Tenant, tenant_id).webhook_url}


def set_default_endpoint(session: Session, tenant_id: str, url: str | None, allowlist: list[str]) -> dict[str, Any]:
    """Set (or clear, with None) the endpoint that receives the events of jobs without their own URL.
    A literal private or loopback address is refused here (422); names are checked at delivery."""
    if url:
        Guard(allowlist).check_literal(url)
    session.get(Tenant, tenant_id).webhook_url = url
    return {"url": url}


def delivery_resource(event: WebhookEvent, attempts: list[WebhookAttempt]) -> dict[str, Any]:
    return {"id": event.id, "type": event.type, "status": str(event.status),
            "next_attempt_at": iso(event.next_attempt_at) if event.status == EventStatus.pending else None,
            "delivered_at": iso(event.delivered_at),
            "attempts": [{"attempt": a.attempt, "url": a.url, "status_code": a.status_code,
                          "latency_ms": a.latency_ms, "error": a.error,
                          "next_attempt_at": iso(a.next_attempt_at), "created_at": iso(a.created_at)}
                         for a in attempts]}


def _attempts(session: Session, event_ids: list[str]) -> dict[str, list[WebhookAttempt]]:
    out: dict[str, list[WebhookAttempt]] = {}
    for a in session.scalars(select(WebhookAttempt).where(WebhookAttempt.event_id.in_(event_ids))
                             .order_by(WebhookAttempt.attempt)):
        out.setdefault(a.event_id, []).append(a)
    return out


def job_deliveries(session: Session, tenant_id: str, job_id: str) -> list[dict[str, Any]]:
    """Every event of a job with each of its delivery attempts, oldest first."""
    job = core_jobs.get_job(session, tenant_id, job_id)  # 404 for another tenant's job
    events = session.scalars(select(WebhookEvent).where(WebhookEvent.job_id == job.id)
                             .order_by(WebhookEvent.created_at, WebhookEvent.id)).all()
    attempts = _attempts(session, [e.id for e in events])
    return [delivery_resource(e, attempts.get(e.id, [])) for e in events]


def redeliver(session: Session, tenant_id: str, event_id: str) -> dict[str, Any]:
    """Schedule an event for delivery now, re-enabling its endpoint (an explicit resend after a
    receiver was fixed).  409 while the event is still pending; the outbox publishes after commit."""
    event = session.scalar(select(WebhookEvent).where(WebhookEvent.id == event_id,
                                                      WebhookEvent.tenant_id == tenant_id))
    if event is None:
        raise NotFound(f"delivery {event_id} not found")
    if event.status == EventStatus.pending:
        raise Conflict("this event is already scheduled for delivery", code="delivery_pending")
    session.get(WebhookEndpoint, event.endpoint_id).disabled_at = None
    now = utcnow()
    set_event_status(session, event.id, EventStatus.pending, next_attempt_at=now, enqueued_at=now)
    add(session, WEBHOOK_TASK, [event.id], WEBHOOK_QUEUE)
    session.flush()
    session.refresh(event)
    return delivery_resource(event, _attempts(session, [event.id]).get(event.id, []))
