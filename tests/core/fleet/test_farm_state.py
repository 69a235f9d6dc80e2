"""The queue gauges count exactly the work still owed: pending and leased chunks of live jobs."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from voxfarm.core.clock import utcnow
from voxfarm.core.fleet.farm_state import read_state
from voxfarm.core.jobs.intake import cancel_job
from voxfarm.core.models import Chunk, Job, WorkerRow
from voxfarm.core.state.lifecycle import ChunkStatus

from helpers import submit_job_direct

TEXT = "First sentence of the job. " * 40 + "\n\n" + "Second paragraph, also long enough. " * 40


def _expected(db, ids):
    with db.session() as s:
        return [s.get(Chunk, i).expected_s for i in ids]


def test_counts_pending_and_running_of_live_jobs_only(db):
    live, live_chunks = submit_job_direct(db, TEXT, engine="espeak")
    dead, dead_chunks = submit_job_direct(db, "Canceled before it ran. " * 30, engine="espeak")
    assert len(live_chunks) >= 2
    seconds = _expected(db, live_chunks)
    with db.session() as s:
        cancel_job(s, _tenant(s, dead), dead)
        # a canceled job's chunk still on the engine (dropped at the batch boundary) is owed nothing
        s.execute(update(Chunk).where(Chunk.id == dead_chunks[0]).values(status=ChunkStatus.running))
        s.execute(update(Chunk).where(Chunk.id == live_chunks[0]).values(status=ChunkStatus.running))
        s.execute(update(Chunk).where(Chunk.id == live_chunks[1]).values(status=ChunkStatus.done))
    with db.session() as s:
        state = read_state(s, heartbeat_s=5, engines=["espeak", "dia"])
    assert state.queue[("espeak", "running")] == (1, seconds[0])
    queued = state.queue[("espeak", "queued")]
    assert queued[0] == len(live_chunks) - 2 and abs(queued[1] - sum(seconds[2:])) < 1e-6
    assert state.queue[("dia", "queued")] == (0, 0.0)  # served engines appear with zeros
    assert state.jobs["queued"] + state.jobs["running"] == 1 and state.jobs["canceled"] == 1


def test_live_workers_need_a_fresh_heartbeat(db):
    now = utcnow()
    with db.session() as s:
        for wid, beat, stopped in (("fresh", now, None), ("stale", now - timedelta(seconds=60), None),
                                   ("stopped", now, now)):
            s.add(WorkerRow(id=wid, engine="espeak", model="m", device="cpu", queues=[], max_batch_size=8,
                            max_wait_ms=20, concurrency=16, hostname="h", pid=1, heartbeat_at=beat,
                            stopped_at=stopped))
    with db.session() as s:
        assert read_state(s, heartbeat_s=5, engines=["espeak"]).workers == {"espeak": 1}


def _tenant(session, job_id):
    return session.get(Job, job_id).tenant_id
