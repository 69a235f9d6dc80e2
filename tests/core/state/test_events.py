"""Which endpoint hears about a job: its own webhook replaces the tenant's default (one delivery)."""

from __future__ import annotations

from sqlalchemy import select

from voxfarm.core.models import Job, Tenant, WebhookEndpoint, WebhookEvent
from voxfarm.core.state import events

from helpers import submit_job_direct

DEFAULT = "https://default.example/hooks"
OWN = "https://own.example/job-hook"


def _urls(db, job_id: str, event_type: str) -> list[str]:
    with db.session() as s:
        job = s.get(Job, job_id)
        s.get(Tenant, job.tenant_id).webhook_url = DEFAULT
        s.flush()
        made = events.emit(s, job, event_type)
        ids = [e.id for e in made]
    with db.session() as s:
        rows = s.execute(select(WebhookEndpoint.url).join(WebhookEvent, WebhookEvent.endpoint_id == WebhookEndpoint.id)
                         .where(WebhookEvent.id.in_(ids))).scalars().all()
        return sorted(rows)


def test_a_job_webhook_replaces_the_tenant_default(db):
    job_id, _ = submit_job_direct(db, webhook={"url": OWN})
    assert _urls(db, job_id, "job.succeeded") == [OWN]


def test_a_job_without_a_webhook_reports_to_the_default(db):
    job_id, _ = submit_job_direct(db, webhook=None)
    assert _urls(db, job_id, "job.succeeded") == [DEFAULT]
    assert _urls(db, job_id, "job.progress") == [DEFAULT]


def test_events_the_job_filters_out_go_nowhere(db):
    job_id, _ = submit_job_direct(db, webhook={"url": OWN, "events": ["job.failed"]})
    assert _urls(db, job_id, "job.failed") == [OWN]
    assert _urls(db, job_id, "job.succeeded") == []  # not re-routed to the default endpoint
