"""The transactional outbox: a message goes to the broker only after the state it announces is
committed, so a consumer that acts on it at once always finds that state."""

from __future__ import annotations

from sqlalchemy import select

from voxfarm.core.db import Database
from voxfarm.core.jobs.intake import submit_job
from voxfarm.core.jobs.schemas import JobCreate
from voxfarm.core.models import Chunk, Job, Outbox
from voxfarm.core.state.outbox import unit_of_work
from voxfarm.core.tenants.accounts import get_or_create_tenant


class LookingPublisher:
    """Publishes nothing; for each message it looks, from a connection of its own (as a worker taking
    the message would), for the chunk, its job and the outbox row the message came from."""

    def __init__(self, settings) -> None:
        self.db = Database(settings)
        self.found: dict[str, tuple[bool, bool, bool]] = {}

    def publish_many(self, messages) -> None:
        with self.db.session() as s:
            rows = s.execute(select(Outbox.task, Outbox.args)).all()
            for task, args, _queue in messages:
                chunk = s.get(Chunk, args[0])
                job = s.get(Job, chunk.job_id) if chunk is not None else None
                self.found[args[0]] = (chunk is not None, job is not None, (task, args) in [tuple(r) for r in rows])


def test_messages_are_published_after_the_commit(db):
    settings = db.test_settings.model_copy(update={"dispatch_window": 0})  # every chunk published at once
    publisher = LookingPublisher(settings)
    try:
        with unit_of_work(db, publisher) as s:
            tenant = get_or_create_tenant(s, "acme").id
            job = submit_job(s, settings, db.test_store, tenant,
                             JobCreate(text="# One\nFirst chapter.\n\n# Two\nSecond chapter.", text_format="markdown"))
            job_id = job.id
    finally:
        publisher.db.dispose()
    with db.session() as s:
        chunk_ids = list(s.scalars(select(Chunk.id).where(Chunk.job_id == job_id)))
        unpublished = s.scalars(select(Outbox.id).where(Outbox.published_at.is_(None))).all()
    assert len(chunk_ids) >= 2 and sorted(publisher.found) == sorted(chunk_ids)  # every chunk was announced
    assert all(publisher.found[c] == (True, True, True) for c in chunk_ids), publisher.found
    assert unpublished == []  # and marked published
