"""Who pays for a worker's death: only the chunks whose render had reached the engine.

A worker dies (SIGKILL, OOM) holding leases on the batch on its engine and on the chunks buffered
in its batcher.  The batch's chunks have each spent an attempt (one of them may be the culprit);
the buffered ones never ran, and a poison batch-mate must not use up their attempts.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from voxfarm.core.clock import utcnow
from voxfarm.core.models import Chunk, Job
from voxfarm.core.render.leases import claim_chunk, mark_on_engine
from voxfarm.core.state.lifecycle import release_stale_leases

from helpers import submit_job_direct as _job


def _die(db, *chunk_ids):
    with db.session() as s:  # the dead worker's leases run out
        s.execute(update(Chunk).where(Chunk.id.in_(chunk_ids)).values(lease_expires_at=utcnow() - timedelta(seconds=1)))


def _attempts(db, chunk_id):
    with db.session() as s:
        return s.get(Chunk, chunk_id).attempts


def test_a_death_costs_an_attempt_only_to_chunks_on_the_engine(db):
    _, [on_engine] = _job(db, "The chunk that was on the engine.")
    _, [buffered] = _job(db, "The chunk still waiting in the batcher.")
    for death in range(1, 6):  # more deaths than max_attempts (3)
        with db.session() as s:
            assert claim_chunk(s, buffered, f"w#{death}", lease_s=30, max_attempts=3) is not None
            if death <= 3:
                assert claim_chunk(s, on_engine, f"w#{death}", lease_s=30, max_attempts=3) is not None
                mark_on_engine(s, [on_engine], f"w#{death}")
        _die(db, buffered, on_engine)
        assert _attempts(db, buffered) == 1  # the current claim only: the deaths were refunded
    assert _attempts(db, on_engine) == 3
    with db.session() as s:  # the next claim finds the culprit has used its attempts: poison
        assert claim_chunk(s, on_engine, "w#6", lease_s=30, max_attempts=3) is None
        job = s.get(Job, s.get(Chunk, on_engine).job_id)
        assert (job.status, job.error_code) == ("failed", "poison_chunk")
        assert claim_chunk(s, buffered, "w#6", lease_s=30, max_attempts=3) is not None


def test_a_restarted_worker_refunds_what_its_predecessor_only_buffered(db):
    _, [on_engine] = _job(db, "On the engine when the worker died.")
    _, [buffered] = _job(db, "Buffered when the worker died.")
    with db.session() as s:
        for cid in (on_engine, buffered):
            claim_chunk(s, cid, "gpu-1#old", lease_s=30, max_attempts=3)
        mark_on_engine(s, [on_engine], "gpu-1#old")
    with db.session() as s:
        assert sorted(release_stale_leases(s, "gpu-1#", "gpu-1#new")) == sorted([on_engine, buffered])
    assert (_attempts(db, on_engine), _attempts(db, buffered)) == (1, 0)
