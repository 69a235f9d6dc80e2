"""The workers' Celery app and its lifecycle hooks.

``configure`` builds the process's Runtime from settings; Celery signals then drive it:

* ``boot`` (called by ``voxfarm worker`` before Celery starts) loads the engine -- once per
  process; if that fails the command exits non-zero with the reason before taking any message
  (``worker_init`` boots only a runtime nobody booted, e.g. a worker started by other means);
* ``worker_shutting_down`` (warm shutdown) closes the batcher: the batch on the engine finishes,
  buffered requests are handed back to the broker;
* ``worker_shutdown`` stops the heartbeat and marks the worker row stopped.

Workers run Celery's threads pool: the engine and its batcher live in one process, and the pool's
threads are the batcher's feed (``concurrency = 2 x max_batch_size``).
"""

from __future__ import annotations

import logging

from celery.signals import worker_init, worker_shutdown, worker_shutting_down

from voxfarm.celery_config import CeleryPublisher, celery_settings
from voxfarm.core.settings import Settings
from voxfarm.core.state.outbox import CONTROL_QUEUE, RECONCILE_TASK, SWEEP_TASK
from voxfarm.worker.celery_app import app, current, install, runtime
from voxfarm.worker.runtime import Runtime
from voxfarm.worker.tasks import control, render, webhooks

TASK_MODULES = (control, render, webhooks)  # imported for their side effect: tasks registered on ``app``
__all__ = ["app", "boot", "configure", "runtime"]
log = logging.getLogger(__name__)


class _QuietHandBack(logging.Filter):
    """Celery logs every rejected message as a WARNING with a traceback; a chunk handed back at a
    warm shutdown is expected (the batcher logs their count once, at INFO), so drop those records."""

    def filter(self, record: logging.LogRecord) -> bool:
        return render.HAND_BACK not in str((getattr(record, "data", None) or {}).get("exc", ""))


logging.getLogger("celery.app.trace").addFilter(_QuietHandBack())


def configure(settings: Settings, engine: str | None, *, queues: list[str], concurrency: int,
              name: str | None = None, beat: bool = False) -> Runtime:
    app.conf.update(celery_settings(settings))
    if beat:
        app.conf.beat_schedule = {
            "reconcile": {"task": RECONCILE_TASK, "schedule": settings.reconcile_interval_s,
                          "options": {"queue": CONTROL_QUEUE, "expires": settings.reconcile_interval_s}},
            "sweep-storage": {"task": SWEEP_TASK, "schedule": settings.sweep_interval_s,
                              "options": {"queue": CONTROL_QUEUE, "expires": settings.sweep_interval_s}},
        }
    return install(Runtime(settings, engine, name=name, queues=queues, concurrency=concurrency))


def boot() -> Runtime:
    """Load the engine and open DB and storage; raises whatever stops the worker from serving."""
    rt = runtime()
    rt.boot(CeleryPublisher(app))
    return rt


@worker_init.connect
def _boot(**_kwargs) -> None:
    rt = current()
    if rt is not None and not rt.booted:  # `voxfarm worker` boots before Celery starts
        try:
            rt.boot(CeleryPublisher(app))
        except Exception as exc:
            # Celery only logs a failing signal handler and starts consuming anyway; a worker whose
            # model did not load (a missing file, say) must stop here, saying why, not take tasks
            log.critical("worker boot failed: %s", exc, exc_info=True)
            raise SystemExit(1) from exc


@worker_shutting_down.connect
def _begin_shutdown(**_kwargs) -> None:
    if (rt := current()) is not None:
        rt.begin_shutdown()


@worker_shutdown.connect
def _stop(**_kwargs) -> None:
    if (rt := current()) is not None:
        rt.stop()
