"""Every status change is a compare-and-set on the legal sources (core/state/lifecycle.py): terminal
states are final, ``allowed_from`` narrows the sources, a job that ends records when."""

from __future__ import annotations

from voxfarm.core.models import Chunk, Job
from voxfarm.core.state.lifecycle import (
    JOB_TRANSITIONS,
    ChunkStatus,
    JobStatus,
    set_chunk_status,
    set_job_chunks_status,
    set_job_status,
    sources,
)

from helpers import submit_job_direct


def test_sources_of_a_transition():
    assert sorted(sources(JOB_TRANSITIONS, JobStatus.running)) == [JobStatus.queued]
    assert sources(JOB_TRANSITIONS, JobStatus.queued) == []


def test_terminal_job_states_are_final(db):
    job_id, _ = submit_job_direct(db)
    with db.session() as s:
        assert set_job_status(s, job_id, JobStatus.running)
        assert s.get(Job, job_id).finished_at is None  # not over yet
        assert set_job_status(s, job_id, JobStatus.succeeded)
        assert s.get(Job, job_id, populate_existing=True).finished_at is not None
    with db.session() as s:
        for to in (JobStatus.queued, JobStatus.running, JobStatus.failed, JobStatus.canceled):
            assert not set_job_status(s, job_id, to), to
        assert s.get(Job, job_id).status == JobStatus.succeeded


def test_allowed_from_narrows_the_legal_sources(db):
    job_id, [chunk] = submit_job_direct(db)
    with db.session() as s:
        assert not set_job_status(s, job_id, JobStatus.failed, allowed_from=[JobStatus.running])  # it is queued
        assert not set_chunk_status(s, chunk, ChunkStatus.done, allowed_from=[ChunkStatus.running])
        assert set_chunk_status(s, chunk, ChunkStatus.running)
        assert not set_chunk_status(s, chunk, ChunkStatus.done, where=[Chunk.lease_owner == "someone"])
        assert set_chunk_status(s, chunk, ChunkStatus.done, allowed_from=[ChunkStatus.running])
        assert not set_chunk_status(s, chunk, ChunkStatus.pending)  # done is final


def test_a_jobs_chunks_move_together_from_the_allowed_states_only(db):
    job_id, chunks = submit_job_direct(db, "\n\n".join(f"Paragraph {i} here." for i in range(3)))
    with db.session() as s:
        assert set_chunk_status(s, chunks[0], ChunkStatus.done)
        moved = set_job_chunks_status(s, job_id, ChunkStatus.canceled,
                                      allowed_from=(ChunkStatus.pending, ChunkStatus.running))
        assert moved == 2
        assert [s.get(Chunk, c, populate_existing=True).status for c in chunks] == ["done", "canceled", "canceled"]
