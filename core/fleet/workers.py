"""Which workers are alive, from their heartbeats (the ``workers`` table, worker/heartbeat.py).

A worker is live when it has not marked itself stopped and its last heartbeat is recent: three
heartbeat periods, and never less than 30 s so one slow database round trip does not flap it.
The API uses this to tell a client why a job waits (no live worker for its engine, or no
control worker to finalize a book) and to report per-engine capacity in ``/readyz`` and
``GET /v1/engines``; ``voxfarm workers`` lists the same rows.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from voxfarm.core.clock import utcnow
from voxfarm.core.models import Job, WorkerRow
from voxfarm.core.settings import Settings
from voxfarm.core.state.lifecycle import JobStatus
from voxfarm.core.state.outbox import CONTROL_QUEUE


def fresh_since(heartbeat_s: float, now: datetime | None = None) -> datetime:
    """Heartbeats at or before this instant are too old to count."""
    return (now or utcnow()) - timedelta(seconds=max(30.0, 3 * heartbeat_s))


def fresh_after(settings: Settings, now: datetime | None = None) -> datetime:
    return fresh_since(settings.heartbeat_s, now)


def is_live(row: WorkerRow, settings: Settings, now: datetime | None = None) -> bool:
    return row.stopped_at is None and row.heartbeat_at > fresh_after(settings, now)


@dataclass
class LiveWorkers:
    """A snapshot: live workers per engine, and how many consume the control queue."""

    engines: Counter = field(default_factory=Counter)
    control: int = 0

    @classmethod
    def load(cls, session: Session, settings: Settings) -> LiveWorkers:
        rows = session.scalars(select(WorkerRow).where(WorkerRow.stopped_at.is_(None),
                                                       WorkerRow.heartbeat_at > fresh_after(settings)))
        snap = cls()
        for row in rows:
            if row.engine and row.engine != "-":
                snap.engines[row.engine] += 1
            if CONTROL_QUEUE in (row.queues or []):
                snap.control += 1
        return snap

    def waiting_for(self, job: Job) -> tuple[str, str] | None:
        """(what, message) when ``job`` cannot progress for want of a worker, else None."""
        if job.status not in (JobStatus.queued, JobStatus.running):
            return None
        if job.progress_done < job.progress_total:
            if self.engines[job.engine] == 0:
                return "worker", (f"no live worker serves engine {job.engine!r}; the job waits until one starts "
                                  f"(voxfarm worker --engine {job.engine})")
            return None
        # every chunk is rendered: a book is stitched on the control queue (a one-chunk job is
        # encoded inline by its render worker, so it never needs one)
        if job.progress_total > 1 and self.control == 0:
            return "control_worker", ("all chunks are rendered; no live control worker is there to finalize "
                                      "the job (voxfarm worker --queues control,webhooks --beat)")
        return None
