"""The workers' Celery app and its lifecycle hooks.

``configure`` builds the process's Runtime from settings; Celery signals then drive it:

* ``worker_init`` (before any message is consumed) loads the engine -- once per process;
* ``worker_shutting_down`` (warm shutdown) closes the batcher: the batch on the engine finishes,
  buffered requests are handed back to the broker;
* ``worker_shutdown`` stops the heartbeat and marks the worker row stopped.

Workers run Celery's threads pool: the engine and its batcher live in one process, and the pool's
threads are the batcher's feed (``concurrency = 2 x max_batch_size``).
"""

from __future__ import annotations

import logging

from celery import Celery
from celery.signals import worker_init, worker_shutdown, worker_shutting_down

from celery_config import CeleryPublisher, celery_settings
from core.outbox import RECONCILE_TASK, SWEEP_TASK
from core.settings import Settings
from worker.runtime import Runtime

app = Celery("voxfarm", set_as_current=True)
_runtime: Runtime | None = None
log = logging.getLogger(__name__)


def configure(settings: Settings, engine: str | None, *, queues: list[str], concurrency: int,
              name: str | None = None, beat: bool = False) -> Runtime:
    global _runtime
    app.conf.update(celery_settings(settings))
    if beat:
        app.conf.beat_schedule = {
            "reconcile": {"task": RECONCILE_TASK, "schedule": settings.reconcile_interval_s,
                          "options": {"queue": "control", "expires": settings.reconcile_interval_s}},
            "sweep-storage": {"task": SWEEP_TASK, "schedule": settings.sweep_interval_s,
                              "options": {"queue": "control", "expires": settings.sweep_interval_s}},
        }
    import worker.tasks.control  # noqa: F401 - registers the tasks on ``app``
    import worker.tasks.render  # noqa: F401
    import worker.tasks.webhooks  # noqa: F401

    _runtime = Runtime(settings, engine, name=name, queues=queues, concurrency=concurrency)
    return _runtime


def runtime() -> Runtime:
    if _runtime is None:
        raise RuntimeError("worker not configured")
    return _runtime


@worker_init.connect
def _boot(**_kwargs) -> None:
    if _runtime is not None:
        try:
            _runtime.boot(CeleryPublisher(app))
        except Exception as exc:
            # Celery only logs a failing signal handler and starts consuming anyway; a worker whose
            # model did not load (a missing file, say) must stop here, saying why, not take tasks
            log.critical("worker boot failed: %s", exc, exc_info=True)
            raise SystemExit(1) from exc


@worker_shutting_down.connect
def _begin_shutdown(**_kwargs) -> None:
    if _runtime is not None:
        _runtime.begin_shutdown()


@worker_shutdown.connect
def _stop(**_kwargs) -> None:
    if _runtime is not None:
        _runtime.stop()
