"""What the farm owes right now, read from the database: the figures behind /metrics' gauges.

Queue depth is counted in the database, not the broker: the broker only carries hints (a lost or
duplicated message changes its depth, not what must run), and the embedded broker cannot count at
all.  A chunk is *queued* while it is pending and its job is live; *running* while leased.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from voxfarm.core.fleet.workers import fresh_since
from voxfarm.core.models import Chunk, Job, WorkerRow
from voxfarm.core.state.lifecycle import ChunkStatus, JobStatus

_LIVE_JOBS = (JobStatus.queued, JobStatus.running)
_STATES = {ChunkStatus.pending: "queued", ChunkStatus.running: "running"}


@dataclass
class FarmState:
    jobs: dict[str, int] = field(default_factory=dict)  # status -> count
    queue: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)  # (engine, state) -> n, s
    workers: dict[str, int] = field(default_factory=dict)  # engine -> live workers


def live_capacity(session: Session, engine: str, heartbeat_s: float) -> int:
    """Messages the live workers of ``engine`` can hold at once (their threads, summed)."""
    return int(session.scalar(select(func.coalesce(func.sum(WorkerRow.concurrency), 0))
                              .where(WorkerRow.engine == engine, WorkerRow.stopped_at.is_(None),
                                     WorkerRow.heartbeat_at >= fresh_since(heartbeat_s))) or 0)


def read_state(session: Session, heartbeat_s: float, engines: list[str]) -> FarmState:
    """Jobs by status, not-yet-rendered chunks per engine (count and expected audio-seconds),
    and live workers per engine.  Every served engine appears, with zeros, so a scaler sees 0
    rather than a missing series when a backlog drains."""
    state = FarmState()
    for status in JobStatus:
        state.jobs[status.value] = 0
    for status, n in session.execute(select(Job.status, func.count()).group_by(Job.status)):
        state.jobs[status.value] = n
    for engine in engines:
        for name in _STATES.values():
            state.queue[(engine, name)] = (0, 0.0)
        state.workers[engine] = 0
    rows = session.execute(
        select(Job.engine, Chunk.status, func.count(), func.coalesce(func.sum(Chunk.expected_s), 0.0))
        .join(Job, Job.id == Chunk.job_id)
        .where(Chunk.status.in_(list(_STATES)), Job.status.in_(_LIVE_JOBS))
        .group_by(Job.engine, Chunk.status))
    for engine, status, n, seconds in rows:
        state.queue[(engine, _STATES[status])] = (int(n), float(seconds))
    since = fresh_since(heartbeat_s)
    for engine, n in session.execute(
            select(WorkerRow.engine, func.count()).where(WorkerRow.heartbeat_at >= since,
                                                         WorkerRow.stopped_at.is_(None))
            .group_by(WorkerRow.engine)):
        state.workers[engine] = int(n)
    return state
