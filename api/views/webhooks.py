"""Webhook settings and delivery history: signing secret, default endpoint, deliveries.

Each view validates and makes one call into webhooks/manage.py."""

from __future__ import annotations

from flask import g
from flask_openapi3 import APIBlueprint, Tag

from voxfarm.api.services import services
from voxfarm.core.jobs.schemas import JobPath
from voxfarm.core.schemas import ErrorResponse
from voxfarm.webhooks import manage
from voxfarm.webhooks.schemas import DeliveryList, DeliveryOut, DeliveryPath, WebhookEndpointIn, WebhookSecretOut

bp = APIBlueprint("webhooks", __name__, url_prefix="/v1", abp_tags=[Tag(name="webhooks")],
                  abp_security=[{"bearer": []}],
                  abp_responses={401: ErrorResponse, 404: ErrorResponse, 422: ErrorResponse})


@bp.get("/webhooks/secret", responses={200: WebhookSecretOut})
def get_secret():
    """The tenant's signing secret (``whsec_...``) for verifying deliveries."""
    with services().db.session() as s:
        return manage.secret_info(s, g.tenant.id)


@bp.post("/webhooks/secret/rotate", responses={200: WebhookSecretOut})
def rotate_secret():
    """New secret now; the old one keeps co-signing for the grace period."""
    svc = services()
    with svc.db.session() as s:
        return manage.rotate_secret(s, g.tenant.id, svc.settings.webhook_secret_grace_s)


@bp.get("/webhooks/endpoint", responses={200: WebhookEndpointIn})
def get_endpoint():
    with services().db.session() as s:
        return manage.default_endpoint(s, g.tenant.id)


@bp.put("/webhooks/endpoint", responses={200: WebhookEndpointIn})
def set_endpoint(body: WebhookEndpointIn):
    """Set (or clear, with null) the default endpoint that receives every job's events."""
    svc = services()
    with svc.db.session() as s:
        return manage.set_default_endpoint(s, g.tenant.id, body.url, svc.settings.outbound_allowlist)


@bp.get("/jobs/<job_id>/webhook-deliveries", responses={200: DeliveryList})
def list_deliveries(path: JobPath):
    """Every event of a job and each delivery attempt (status code, latency, error)."""
    with services().db.session() as s:
        return {"data": manage.job_deliveries(s, g.tenant.id, path.job_id)}


@bp.post("/webhook-deliveries/<delivery_id>/redeliver", responses={202: DeliveryOut, 409: ErrorResponse})
def redeliver(path: DeliveryPath):
    """Send an event again now (after fixing a receiver, or re-enabling a disabled endpoint)."""
    with services().uow() as s:
        return manage.redeliver(s, g.tenant.id, path.delivery_id), 202
