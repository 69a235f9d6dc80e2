"""Fair dispatch: which queued chunks sit in the broker, per tenant and engine.

A broker queue is first in, first out.  Publishing every chunk at submit time lets one tenant's
10,000-chunk book put another tenant's 10-line job behind all of it.  So the broker holds at most a
*window* of chunks per (tenant, engine); the rest of a big job is *held* in the database
(``pending`` with ``enqueued_at`` NULL, so the reconciler's lost-message sweep leaves it alone).
The window is twice what the engine's live workers can hold at once (their threads, summed;
``dispatch_window`` at least): one tenant alone still keeps every worker fed, and a newcomer waits
behind about four batches per worker of anyone else's backlog.

Each time a worker completes a chunk it releases one held chunk of the same engine, in the same
transaction: to the waiting tenant with the fewest chunks in flight (deficit round robin with a
quantum of one chunk), and within that tenant the job with the highest ``priority``, oldest first.
A newcomer's first ``dispatch_window`` chunks are published at once, so it waits behind at most
``window x tenants`` chunks, a few batches, however deep anyone's backlog is.  The reconciler
tops windows up as a safety net (a job canceled or failed frees its slots without a completion).
``dispatch_window = 0`` turns holding off: every chunk is published at submit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from voxfarm.core.clock import utcnow
from voxfarm.core.fleet.farm_state import live_capacity
from voxfarm.core.jobs.lanes import lane
from voxfarm.core.models import Chunk, Job
from voxfarm.core.settings import Settings
from voxfarm.core.state import outbox
from voxfarm.core.state.lifecycle import ChunkStatus, JobStatus

_LIVE = (JobStatus.queued, JobStatus.running)
INTERACTIVE_DEFAULT = Settings.model_fields["interactive_priority"].default  # callers pass the farm's own


def _in_flight(session: Session, engine: str, tenant_id: str | None = None) -> dict[str, int]:
    """Chunks per tenant that the broker holds or a worker renders, for one engine."""
    published = (Chunk.status == ChunkStatus.running) | and_(Chunk.status == ChunkStatus.pending,
                                                             Chunk.enqueued_at.is_not(None))
    query = (select(Chunk.tenant_id, func.count()).join(Job, Job.id == Chunk.job_id)
             .where(Job.engine == engine, Job.status.in_(_LIVE), published).group_by(Chunk.tenant_id))
    if tenant_id is not None:
        query = query.where(Chunk.tenant_id == tenant_id)
    return {t: int(n) for t, n in session.execute(query)}


def window(session: Session, minimum: int, heartbeat_s: float, engine: str) -> int:
    """Chunks one tenant may have in the broker for ``engine`` (0: no holding at all)."""
    if minimum <= 0:
        return 0
    return max(minimum, 2 * live_capacity(session, engine, heartbeat_s))


def admit_new(session: Session, window: int, tenant_id: str, engine: str,
              chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Of new chunks (row values in plan order, not yet inserted), the ones to publish now; the
    others are marked held (``enqueued_at`` None)."""
    if window <= 0:
        return chunks
    room = max(0, window - _in_flight(session, engine, tenant_id).get(tenant_id, 0))
    for chunk in chunks[room:]:
        chunk["enqueued_at"] = None
    return chunks[:room]


def _held(engine: str):
    return (select(Chunk.id, Chunk.tenant_id, Job.priority).join(Job, Job.id == Chunk.job_id)
            .where(Job.engine == engine, Job.status.in_(_LIVE), Chunk.status == ChunkStatus.pending,
                   Chunk.enqueued_at.is_(None))
            .order_by(Job.priority.desc(), Job.created_at, Job.id, Chunk.idx))


def release(session: Session, window: int, engine: str, count: int = 1, *,
            interactive_priority: int = INTERACTIVE_DEFAULT) -> list[str]:
    """Publish up to ``count`` held chunks of ``engine``, each to the least-served waiting tenant
    whose window has room, on its job's lane (core/jobs/lanes.py).  Returns the chunk ids released."""
    if window <= 0 or count <= 0:
        return []
    waiting = session.execute(select(Chunk.tenant_id).join(Job, Job.id == Chunk.job_id)
                              .where(Job.engine == engine, Job.status.in_(_LIVE),
                                     Chunk.status == ChunkStatus.pending, Chunk.enqueued_at.is_(None))
                              .distinct()).scalars().all()
    if not waiting:
        return []
    flight = _in_flight(session, engine)
    load = {t: flight.get(t, 0) for t in waiting}
    chosen: list[str] = []
    priorities: dict[str, int] = {}
    while len(chosen) < count:
        open_ = [t for t in load if load[t] < window]
        if not open_:
            break
        tenant = min(open_, key=lambda t: (load[t], t))
        # SKIP LOCKED: sixteen completions of one batch release concurrently, and each must take a
        # different held chunk (without it they all pick the same one, one wins, the others release
        # nothing and the window drains; measured: mean batch 7 of 16).  SQLite serialises writers.
        picked = session.execute(_held(engine).where(Chunk.tenant_id == tenant, Chunk.id.not_in(chosen))
                                 .limit(1).with_for_update(skip_locked=True, of=Chunk)).first()
        if picked is None:
            del load[tenant]
            continue
        chosen.append(picked[0])
        priorities[picked[0]] = picked[2]
        load[tenant] += 1
    now = utcnow()
    # a concurrent completion may have released the same chunk: only what this UPDATE won is sent
    won = [cid for cid in chosen if session.execute(
        update(Chunk).where(Chunk.id == cid, Chunk.enqueued_at.is_(None)).values(enqueued_at=now)
        .execution_options(synchronize_session=False)).rowcount]
    outbox.add_many(session, [(outbox.RENDER_TASK, [cid], lane(engine, priorities[cid], interactive_priority))
                              for cid in won])
    return won


def top_up(session: Session, minimum: int, heartbeat_s: float, engines: list[str], *,
           interactive_priority: int = INTERACTIVE_DEFAULT) -> int:
    """Fill every tenant's window on each engine from its held chunks (the reconciler's pass)."""
    released = 0
    for engine in engines:
        size = window(session, minimum, heartbeat_s, engine)
        released += len(release(session, size, engine, count=10_000, interactive_priority=interactive_priority))
    return released
