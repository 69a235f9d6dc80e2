"""The worker runtime's lifecycle on the real espeak engine: the worker row's state through a drain,
and a cancel that lands while a job's chunks render (nothing stored, no success sent)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from voxfarm.core.models import Job
from voxfarm.core.settings import Settings
from voxfarm.worker.runtime import Runtime

from helpers import ListPublisher, submit_job_direct


@pytest.fixture
def espeak_runtime(tmp_path):
    """A booted runtime with the real espeak engine and embedded storage (no Celery)."""
    from voxfarm.core.migrate import upgrade

    settings = Settings(data_dir=tmp_path / "var", outbound_allowlist=["127.0.0.1/32"])
    upgrade(settings)
    rt = Runtime(settings, "espeak", name="cancel")
    rt.boot(ListPublisher())
    rt.db.test_settings, rt.db.test_store = settings, rt.store
    yield rt
    rt.begin_shutdown()
    rt.stop()


def test_the_worker_row_reports_the_lifecycle_state(espeak_runtime):
    from voxfarm.core.models import WorkerRow
    from voxfarm.worker.runtime import WorkerState

    rt = espeak_runtime

    def row_state():
        with rt.db.session() as s:
            return s.get(WorkerRow, rt.worker_id).stats["state"]

    assert rt.state == WorkerState.serving and row_state() == "serving"
    rt.begin_shutdown()
    assert rt.state == WorkerState.draining and row_state() == "draining"


def _stored_under_job(rt, job_id: str) -> list[str]:
    with rt.db.session() as s:
        tenant_id = s.get(Job, job_id).tenant_id
    folder = rt.store.root / "tenants" / tenant_id / "jobs" / job_id
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


BOOK = "# A\nFirst part.\n\n# B\nSecond part.\n\n# C\nThird part."


# a one-chunk job finalizes inline, in the task of its only chunk: it has no "after, before" moment
@pytest.mark.parametrize("text,when", [("One short line.", "during the last chunk's batch"),
                                       (BOOK, "during the last chunk's batch"),
                                       (BOOK, "after the last chunk, before finalize")])
def test_canceling_a_running_job_stores_nothing_and_sends_no_success(espeak_runtime, text, when):
    from voxfarm.core.jobs.intake import cancel_job
    from voxfarm.core.models import WebhookEvent

    rt = espeak_runtime
    job_id, chunks = submit_job_direct(rt.db, text)

    def cancel():
        with rt.db.session() as s:
            cancel_job(s, s.get(Job, job_id).tenant_id, job_id)

    real = rt.engine.generate_batch
    calls = []

    def render_then_cancel(requests):
        out = real(requests)
        calls.append(len(requests))
        if when.startswith("during") and len(calls) == len(chunks):
            cancel()  # the client cancels while the batch is on the engine
        return out

    rt.engine.generate_batch = render_then_cancel
    for chunk_id in chunks:
        rt.render_chunk(chunk_id)
    if when.startswith("after"):
        cancel()  # every chunk rendered; finalization is queued but has not run
    rt.finalize_job(job_id)  # a finalize message (queued, duplicated or re-sent) runs anyway
    assert len(calls) == len(chunks)  # every chunk really rendered
    with rt.db.session() as s:
        job = s.get(Job, job_id)
        types = [e.type for e in s.scalars(select(WebhookEvent).where(WebhookEvent.job_id == job_id))]
        assert job.status == "canceled" and job.result_key is None
    assert "job.succeeded" not in types and types.count("job.canceled") == 1
    assert _stored_under_job(rt, job_id) == []


