"""Fair dispatch in the database: who gets the next broker slot, and concurrent releases."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from voxfarm.core.jobs import dispatch
from voxfarm.core.models import Chunk, Outbox, Tenant

from helpers import submit_job_direct

LINE = "One short line for the queue."


def _held(db, tenant=None) -> int:
    with db.session() as s:
        q = select(func.count()).select_from(Chunk).where(Chunk.status == "pending", Chunk.enqueued_at.is_(None))
        if tenant:
            q = q.where(Chunk.tenant_id == tenant)
        return s.scalar(q)


def _tenant_of(db, chunk_id) -> str:
    with db.session() as s:
        return s.get(Tenant, s.get(Chunk, chunk_id).tenant_id).name


def _submit(db, tenant, n, **kw):
    settings = db.test_settings.model_copy(update={"dispatch_window": 4, "engines": ["espeak"]})
    db.test_settings = settings
    return [submit_job_direct(db, f"{LINE} {tenant} {i}.", tenant=tenant, engine="espeak", **kw)[1][0]
            for i in range(n)]


def test_a_window_is_published_and_the_rest_held(db):
    _submit(db, "bulk", 10)
    assert _held(db) == 6  # window 4 (no live workers: the minimum)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Outbox)) == 4


def _done(db, chunk_id) -> None:
    with db.session() as s:
        s.get(Chunk, chunk_id).status = "done"


def test_the_least_served_tenant_and_the_highest_priority_go_first(db):
    bulk = _submit(db, "bulk", 10)
    late = _submit(db, "late", 6)  # 4 published at once, 2 held
    urgent = _submit(db, "bulk", 1, priority=50)[0]
    _done(db, bulk[0])  # a completion frees one of bulk's slots
    with db.session() as s:
        assert dispatch.release(s, 4, "espeak") == [urgent]  # priority 50 before the older priority 0
    _done(db, late[0])
    _done(db, late[1])
    with db.session() as s:
        # late has 2 in flight, bulk 4: late's two held chunks first, then bulk's next
        order = [_tenant_of(db, c) for c in dispatch.release(s, 6, "espeak", count=3)]
    assert order == ["late", "late", "bulk"]


def test_concurrent_completions_release_different_chunks(db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL's row locks")
    _submit(db, "bulk", 12)  # 8 held
    barrier, released, errors = threading.Barrier(6, timeout=10), [], []

    def complete_one():
        try:
            with db.session() as s:
                released.extend(dispatch.release(s, 5, "espeak"))
                barrier.wait()  # every transaction is open at once, each holding its pick
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=complete_one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(released) == len(set(released)) == 6, (errors, released)
    assert _held(db) == 2


def _messages_for(db, chunk_ids) -> dict[str, list[str]]:
    """The queues of the outbox rows that announce each chunk (one row each, or the chunk is lost)."""
    with db.session() as s:
        rows = s.execute(select(Outbox.args, Outbox.queue).where(Outbox.task == "voxfarm.render_chunk")).all()
    return {cid: [queue for args, queue in rows if args == [cid]] for cid in chunk_ids}


def test_a_released_chunk_gets_exactly_one_outbox_row_on_its_lane(db):
    bulk = _submit(db, "bulk", 8)  # 4 published, 4 held
    urgent = _submit(db, "bulk", 1, priority=60)[0]  # held too (the window is full), interactive lane
    held = [c for c, queues in _messages_for(db, [*bulk, urgent]).items() if not queues]
    assert len(held) == 5 and urgent in held
    for chunk_id in bulk[:3]:
        _done(db, chunk_id)
    with db.session() as s:
        released = dispatch.release(s, 4, "espeak", count=3)
    assert len(released) == 3 and released[0] == urgent
    messages = _messages_for(db, released)
    assert messages[urgent] == ["tts.espeak.interactive"]
    assert all(messages[c] == ["tts.espeak"] for c in released[1:]), messages
    with db.session() as s:
        assert all(s.get(Chunk, c).enqueued_at is not None for c in released)
    assert _held(db) == 2
