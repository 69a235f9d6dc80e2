"""The workers' Celery app and this process's Runtime slot: what the task modules import.

``worker/app.py`` configures both (and imports the task modules, which register on ``app``);
keeping the two objects here lets every import in both directions sit at the top of its file.
"""

from __future__ import annotations

from celery import Celery

from voxfarm.worker.runtime import Runtime

app = Celery("voxfarm", set_as_current=True)
_slot: list[Runtime] = []  # at most one: the process's runtime, set by worker.app.configure


def install(rt: Runtime) -> Runtime:
    _slot[:] = [rt]
    return rt


def current() -> Runtime | None:
    return _slot[0] if _slot else None


def runtime() -> Runtime:
    """The configured runtime; tasks call this per message."""
    if not _slot:
        raise RuntimeError("worker not configured")
    return _slot[0]
