"""Control-queue tasks: finalize (encode or stitch), embed voices, reconcile (it also relays the
outbox), sweep storage."""

from __future__ import annotations

from voxfarm.celery_config import CeleryPublisher
from voxfarm.core.state.outbox import EMBED_TASK, FINALIZE_TASK, RECONCILE_TASK, SWEEP_TASK
from voxfarm.core.upkeep.reconcile import reconcile as reconcile_db
from voxfarm.core.upkeep.sweep import sweep_orphans
from voxfarm.worker.celery_app import app, runtime
from voxfarm.worker.runtime import RetryLater


@app.task(name=FINALIZE_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def finalize_job(self, job_id: str) -> None:
    try:
        runtime().finalize_job(job_id, retries=self.request.retries)
    except RetryLater as exc:
        raise self.retry(countdown=exc.countdown, exc=None) from None


@app.task(name=EMBED_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def embed_voice(self, voice_id: str) -> None:
    try:
        runtime().embed_voice(voice_id, retries=self.request.retries)
    except RetryLater as exc:
        raise self.retry(countdown=exc.countdown, exc=None) from None


@app.task(name=RECONCILE_TASK, acks_late=True, ignore_result=True)
def reconcile() -> dict:
    rt = runtime()
    publisher = CeleryPublisher(app)
    return reconcile_db(rt.db, publisher, rt.settings, publisher.queue_depth).as_dict()


@app.task(name=SWEEP_TASK, acks_late=True, ignore_result=True)
def sweep_storage() -> dict:
    rt = runtime()
    return sweep_orphans(rt.db, rt.store, grace_s=rt.settings.sweep_grace_s).as_dict()
