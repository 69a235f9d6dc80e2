"""The render task: one message per chunk; the batcher shares the forward pass, not the task."""

from __future__ import annotations

from celery.exceptions import Reject

from voxfarm.core.state.outbox import RENDER_TASK
from voxfarm.worker.celery_app import app, runtime
from voxfarm.worker.runtime import HandBack, RetryLater

HAND_BACK = "handed back at shutdown"  # the Reject reason; worker/app.py keeps Celery from warning about it


@app.task(name=RENDER_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def render_chunk(self, chunk_id: str) -> None:
    try:
        runtime().render_chunk(chunk_id, retries=self.request.retries)
    except HandBack:
        raise Reject(HAND_BACK, requeue=True) from None
    except RetryLater as exc:
        raise self.retry(countdown=exc.countdown, exc=None) from None
