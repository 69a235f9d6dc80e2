"""Webhook delivery task, on the ``webhooks`` queue (never a GPU worker's queue)."""

from __future__ import annotations

from voxfarm.core.state.outbox import WEBHOOK_TASK
from voxfarm.webhooks.delivery import deliver
from voxfarm.worker.celery_app import app, runtime


@app.task(name=WEBHOOK_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def deliver_webhook(self, event_id: str) -> None:
    rt = runtime()
    retry_in = deliver(rt.db, rt.store, rt.settings, event_id)
    if retry_in is not None:
        # short waits ride the broker; long ones are re-sent by the reconciler from the DB,
        # so no message ever carries an ETA beyond the visibility timeout
        raise self.retry(countdown=retry_in, exc=None)
