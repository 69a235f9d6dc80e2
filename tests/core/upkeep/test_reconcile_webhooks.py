"""The reconciler's webhook rule: long waits are sent when due; lost short retries after a grace."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from voxfarm.core.clock import utcnow
from voxfarm.core.jobs.intake import cancel_job
from voxfarm.core.models import Job, Outbox, WebhookEvent
from voxfarm.core.state.outbox import WEBHOOK_TASK
from voxfarm.core.upkeep.reconcile import reconcile

from helpers import ListPublisher, submit_job_direct


def _event(db) -> str:
    job_id, _ = submit_job_direct(db)
    with db.session() as s:
        cancel_job(s, s.get(Job, job_id).tenant_id, job_id)
        s.execute(update(Outbox).values(published_at=utcnow()))
        return s.scalar(select(WebhookEvent.id))


def _sends(db, settings) -> list:
    pub = ListPublisher()
    reconcile(db, pub, settings)
    return [m for m in pub.sent if m[0] == WEBHOOK_TASK]


def test_long_wait_is_sent_when_due(db):
    event_id = _event(db)
    settings = db.test_settings.model_copy(update={"resend_grace_s": 30})
    with db.session() as s:
        s.execute(update(WebhookEvent).values(next_attempt_at=utcnow() + timedelta(hours=1), enqueued_at=None))
    assert _sends(db, settings) == []
    with db.session() as s:
        s.execute(update(WebhookEvent).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    assert _sends(db, settings) == [(WEBHOOK_TASK, [event_id], "webhooks")]
    assert _sends(db, settings) == []  # now marked as sent


def test_a_lost_short_retry_is_resent_after_the_grace(db):
    event_id = _event(db)
    settings = db.test_settings.model_copy(update={"resend_grace_s": 30})
    due = utcnow() - timedelta(seconds=5)
    with db.session() as s:
        s.execute(update(WebhookEvent).values(next_attempt_at=due, enqueued_at=due))
    assert _sends(db, settings) == []  # its own ETA message may still fire
    old = utcnow() - timedelta(seconds=40)
    with db.session() as s:
        s.execute(update(WebhookEvent).values(next_attempt_at=old, enqueued_at=old))
    assert _sends(db, settings) == [(WEBHOOK_TASK, [event_id], "webhooks")]
