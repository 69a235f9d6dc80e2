"""The lifecycles: job, chunk and webhook-event statuses as explicit enums, and their legal
transitions.  Only core/state/lifecycle.py changes a status (compare-and-set on these tables)."""

from __future__ import annotations

import enum


class JobStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    canceled = "canceled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_JOB


TERMINAL_JOB = frozenset({JobStatus.succeeded, JobStatus.failed, JobStatus.canceled})

JOB_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.queued: frozenset({JobStatus.running, JobStatus.failed, JobStatus.canceled,
                                 JobStatus.succeeded}),  # succeeded: every chunk was a cache hit
    JobStatus.running: frozenset({JobStatus.succeeded, JobStatus.failed, JobStatus.canceled}),
    JobStatus.succeeded: frozenset(),
    JobStatus.failed: frozenset(),
    JobStatus.canceled: frozenset(),
}


class ChunkStatus(enum.StrEnum):
    pending = "pending"  # waiting for a worker (its message may be queued, or lost)
    running = "running"  # claimed under a lease
    done = "done"  # audio stored under its content-addressed key
    failed = "failed"  # gave up: poison, quality gate, or engine error
    canceled = "canceled"


CHUNK_TRANSITIONS: dict[ChunkStatus, frozenset[ChunkStatus]] = {
    ChunkStatus.pending: frozenset({ChunkStatus.running, ChunkStatus.done, ChunkStatus.failed,
                                    ChunkStatus.canceled}),
    # running -> pending: lease expired, handed back at shutdown, or a retryable error
    ChunkStatus.running: frozenset({ChunkStatus.pending, ChunkStatus.done, ChunkStatus.failed,
                                    ChunkStatus.canceled}),
    ChunkStatus.done: frozenset(),
    ChunkStatus.failed: frozenset(),
    ChunkStatus.canceled: frozenset(),
}


class EventStatus(enum.StrEnum):
    pending = "pending"  # to be (re)sent at next_attempt_at
    delivered = "delivered"
    failed = "failed"  # retry schedule exhausted
    disabled = "disabled"  # endpoint answered 410 Gone (or was disabled earlier)


EVENT_TRANSITIONS: dict[EventStatus, frozenset[EventStatus]] = {
    EventStatus.pending: frozenset({EventStatus.delivered, EventStatus.failed, EventStatus.disabled}),
    # a manual redelivery reopens any finished event
    EventStatus.delivered: frozenset({EventStatus.pending}),
    EventStatus.failed: frozenset({EventStatus.pending}),
    EventStatus.disabled: frozenset({EventStatus.pending}),
}
