"""Live workers from heartbeats, and what an unfinished job waits for."""

from __future__ import annotations

from datetime import timedelta

from voxfarm.core.clock import utcnow
from voxfarm.core.fleet.workers import LiveWorkers
from voxfarm.core.models import Job, WorkerRow
from voxfarm.core.state.lifecycle import JobStatus


def _worker(s, name, engine, queues, age_s=0.0, stopped=False):
    now = utcnow()
    s.add(WorkerRow(id=name, engine=engine, model="m", device="cpu", queues=queues, max_batch_size=8,
                    max_wait_ms=20, concurrency=4, hostname="h", pid=1, heartbeat_at=now - timedelta(seconds=age_s),
                    stopped_at=now if stopped else None))


def test_only_fresh_unstopped_heartbeats_count(db):
    settings = db.test_settings  # heartbeat 5 s: fresh means within 30 s
    with db.session() as s:
        _worker(s, "espeak@a", "espeak", ["tts.espeak"], age_s=2)
        _worker(s, "espeak@b", "espeak", ["tts.espeak"], age_s=120)  # silent: dead or partitioned
        _worker(s, "dia@a", "dia", ["tts.dia"], stopped=True)  # warm-stopped
        _worker(s, "control@a", "-", ["control", "webhooks"], age_s=1)
        _worker(s, "embedded", "espeak", ["tts.espeak", "control", "webhooks"], age_s=1)
    with db.session() as s:
        live = LiveWorkers.load(s, settings)
    assert live.engines["espeak"] == 2 and live.engines["dia"] == 0 and live.control == 2
    assert "-" not in live.engines


def _job(status=JobStatus.queued, done=0, total=1, engine="dia"):
    return Job(id="job_x", tenant_id="t", status=status, engine=engine, model="m", seed=0,
               progress_done=done, progress_total=total)


def test_waiting_for_names_the_missing_worker():
    from collections import Counter

    none = LiveWorkers()
    what, message = none.waiting_for(_job())
    assert what == "worker" and "'dia'" in message and "voxfarm worker --engine dia" in message
    served = LiveWorkers(engines=Counter(dia=1))
    assert served.waiting_for(_job()) is None
    # a book whose chunks are all rendered waits for the control queue, a one-chunk job never does
    book = _job(JobStatus.running, done=12, total=12)
    assert served.waiting_for(book)[0] == "control_worker"
    assert LiveWorkers(engines=Counter(dia=1), control=1).waiting_for(book) is None
    assert served.waiting_for(_job(JobStatus.running, done=1, total=1)) is None
    # a book still rendering waits for nothing while its engine has a worker
    assert served.waiting_for(_job(JobStatus.running, done=3, total=12)) is None
    for status in (JobStatus.succeeded, JobStatus.failed, JobStatus.canceled):
        assert none.waiting_for(_job(status)) is None
