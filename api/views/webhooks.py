"""Webhook settings and delivery history: signing secret, default endpoint, deliveries."""

from __future__ import annotations

from flask import g
from flask_openapi3 import APIBlueprint, Tag
from sqlalchemy import select

from api.services import services
from core import jobs as core_jobs
from core.clock import iso, utcnow
from core.errors import Conflict, NotFound
from core.lifecycle import EventStatus, set_event_status
from core.models import Tenant, WebhookAttempt, WebhookEndpoint, WebhookEvent
from core.netguard import Guard
from core.outbox import WEBHOOK_QUEUE, WEBHOOK_TASK, add
from core.schemas import (
    DeliveryList,
    DeliveryOut,
    DeliveryPath,
    ErrorResponse,
    JobPath,
    WebhookEndpointIn,
    WebhookSecretOut,
)
from core.serialize import delivery_resource
from core.tenants import rotate_webhook_secret

bp = APIBlueprint("webhooks", __name__, url_prefix="/v1", abp_tags=[Tag(name="webhooks")],
                  abp_security=[{"bearer": []}],
                  abp_responses={401: ErrorResponse, 404: ErrorResponse, 422: ErrorResponse})


def _secret_out(t: Tenant) -> dict:
    until = t.webhook_secret_prev_until
    valid = until if until and until > utcnow() else None
    return {"secret": t.webhook_secret, "previous_secret_valid_until": iso(valid)}


@bp.get("/webhooks/secret", responses={200: WebhookSecretOut})
def get_secret():
    """The tenant's signing secret (``whsec_...``) for verifying deliveries."""
    with services().db.session() as s:
        return _secret_out(s.get(Tenant, g.tenant.id))


@bp.post("/webhooks/secret/rotate", responses={200: WebhookSecretOut})
def rotate_secret():
    """New secret now; the old one keeps co-signing for the grace period."""
    svc = services()
    with svc.db.session() as s:
        tenant = rotate_webhook_secret(s, s.get(Tenant, g.tenant.id), svc.settings.webhook_secret_grace_s)
        return _secret_out(tenant)


@bp.get("/webhooks/endpoint", responses={200: WebhookEndpointIn})
def get_endpoint():
    with services().db.session() as s:
        return {"url": s.get(Tenant, g.tenant.id).webhook_url}


@bp.put("/webhooks/endpoint", responses={200: WebhookEndpointIn})
def set_endpoint(body: WebhookEndpointIn):
    """Set (or clear, with null) the default endpoint that receives every job's events."""
    svc = services()
    if body.url:
        Guard(svc.settings.outbound_allowlist).check_literal(body.url)
    with svc.db.session() as s:
        s.get(Tenant, g.tenant.id).webhook_url = body.url
    return {"url": body.url}


@bp.get("/jobs/<job_id>/webhook-deliveries", responses={200: DeliveryList})
def list_deliveries(path: JobPath):
    """Every event of a job and each delivery attempt (status code, latency, error)."""
    with services().db.session() as s:
        job = core_jobs.get_job(s, g.tenant.id, path.job_id)
        events = s.scalars(select(WebhookEvent).where(WebhookEvent.job_id == job.id)
                           .order_by(WebhookEvent.created_at, WebhookEvent.id)).all()
        attempts: dict[str, list[WebhookAttempt]] = {}
        for a in s.scalars(select(WebhookAttempt).where(WebhookAttempt.event_id.in_([e.id for e in events]))
                           .order_by(WebhookAttempt.attempt)):
            attempts.setdefault(a.event_id, []).append(a)
        return {"data": [delivery_resource(e, attempts.get(e.id, [])) for e in events]}


@bp.post("/webhook-deliveries/<delivery_id>/redeliver", responses={202: DeliveryOut, 409: ErrorResponse})
def redeliver(path: DeliveryPath):
    """Send an event again now (after fixing a receiver, or re-enabling a disabled endpoint)."""
    svc = services()
    with svc.uow() as s:
        event = s.scalar(select(WebhookEvent).where(WebhookEvent.id == path.delivery_id,
                                                    WebhookEvent.tenant_id == g.tenant.id))
        if event is None:
            raise NotFound(f"delivery {path.delivery_id} not found")
        if event.status == EventStatus.pending:
            raise Conflict("this event is already scheduled for delivery", code="delivery_pending")
        s.get(WebhookEndpoint, event.endpoint_id).disabled_at = None  # an explicit resend re-enables
        now = utcnow()
        set_event_status(s, event.id, EventStatus.pending, next_attempt_at=now, enqueued_at=now)
        add(s, WEBHOOK_TASK, [event.id], WEBHOOK_QUEUE)
        s.flush()
        s.refresh(event)
        attempts = list(s.scalars(select(WebhookAttempt).where(WebhookAttempt.event_id == event.id)
                                  .order_by(WebhookAttempt.attempt)))
        return delivery_resource(event, attempts), 202
