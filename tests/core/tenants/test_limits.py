"""The limiter over each store it runs on (SQLite, PostgreSQL, Redis): the per-minute bucket with
an injected clock (core/clock.py), concurrent takes from separate store instances (as separate
API processes would hold), stream leases, the tenant's own values over the defaults, and the
audio admission read from the chunk rows."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, func, select, text, update

from voxfarm.core import clock
from voxfarm.core.db import Database
from voxfarm.core.errors import InvalidInput, LimitExceeded
from voxfarm.core.migrate import upgrade
from voxfarm.core.models import Chunk
from voxfarm.core.settings import Settings
from voxfarm.core.statuses import ChunkStatus
from voxfarm.core.tenants.accounts import get_or_create_tenant
from voxfarm.core.tenants.limit_store import DatabaseLimitStore, RedisLimitStore, open_limit_store
from voxfarm.core.tenants.limits import Limiter, admit_audio, check_values, effective, month_bounds

T0 = datetime(2026, 3, 14, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def farm(request, tmp_path, pg_url, redis_url):
    """Settings, a migrated database and a store factory for one backend (PostgreSQL and Redis are
    skipped off-CI when unreachable; CI fails instead, tests/conftest.py)."""
    settings = Settings(data_dir=tmp_path / "var")
    if request.param == "postgresql":
        if pg_url is None:
            pytest.skip("PostgreSQL unreachable outside CI (CI fails instead)")
        engine = create_engine(pg_url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public;"))
        engine.dispose()
        settings = settings.model_copy(update={"database_url": pg_url})
    if request.param == "redis":
        if redis_url is None:
            pytest.skip("Redis unreachable outside CI (CI fails instead)")
        settings = settings.model_copy(update={"broker_url": redis_url})
    upgrade(settings)
    dbs: list[Database] = []

    def store():  # a fresh store and engine each call: what another API process would hold
        db = Database(settings)
        dbs.append(db)
        return open_limit_store(settings, db)

    db = Database(settings)
    dbs.append(db)
    with db.session() as s:
        tenant = get_or_create_tenant(s, "acme")
        s.expunge(tenant)
    yield SimpleNamespace(kind=request.param, settings=settings, db=db, store=store, tenant=tenant)
    for d in dbs:
        d.dispose()


def with_limits(tenant, **own):
    return SimpleNamespace(id=tenant.id, name=tenant.name, limits=own)


def test_the_store_follows_the_deployment(farm):
    expected = RedisLimitStore if farm.kind == "redis" else DatabaseLimitStore
    assert isinstance(farm.store(), expected)


def test_the_eleventh_request_in_a_minute_waits_exactly_retry_after(farm):
    limiter = Limiter(farm.settings, farm.store())
    tenant = with_limits(farm.tenant, submit_per_min=10)
    with clock.use(clock.ManualClock(T0)) as now:
        remaining = [limiter.check_rate(tenant, "submit").remaining for _ in range(10)]
        assert remaining == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
        with pytest.raises(LimitExceeded) as refused:
            limiter.check_rate(tenant, "submit")
        assert refused.value.status == 429 and refused.value.code == "rate_limited"
        assert refused.value.limit == "submit_per_min" and refused.value.retry_after_s == 6
        now.advance(5.9)  # just short of Retry-After: still refused (and a refusal takes nothing)
        with pytest.raises(LimitExceeded):
            limiter.check_rate(tenant, "submit")
        now.advance(0.1)
        assert limiter.check_rate(tenant, "submit").remaining == 0
        assert limiter.check_rate(tenant, "read") is None  # another class, no limit: not counted
        now.advance(60)  # a quiet minute refills the bucket
        assert limiter.check_rate(tenant, "submit").remaining == 9


def test_classes_and_tenants_have_their_own_buckets(farm):
    limiter = Limiter(farm.settings.model_copy(update={"rate_limit_read_per_min": 2}), farm.store())
    with farm.db.session() as s:
        other = get_or_create_tenant(s, "other")
        s.expunge(other)
    tenant = with_limits(farm.tenant, submit_per_min=1)
    with clock.use(clock.ManualClock(T0)):
        limiter.check_rate(tenant, "submit")
        assert limiter.check_rate(tenant, "read").remaining == 1  # the farm default applies to reads
        assert limiter.check_rate(with_limits(other, submit_per_min=1), "submit").remaining == 0
        with pytest.raises(LimitExceeded):
            limiter.check_rate(tenant, "submit")
        assert limiter.check_rate(with_limits(farm.tenant, submit_per_min=None), "submit") is None  # own: none


def test_concurrent_requests_through_separate_stores_take_exactly_the_limit(farm):
    """Eight "processes" (each its own store and connection pool) race 24 requests at one instant."""
    tenant = with_limits(farm.tenant, submit_per_min=10)
    limiters = [Limiter(farm.settings, farm.store()) for _ in range(8)]
    allowed, refused, errors = [], [], []
    start = threading.Barrier(len(limiters))

    def run(limiter):
        start.wait()
        for _ in range(3):
            try:
                allowed.append(limiter.check_rate(tenant, "submit"))
            except LimitExceeded as exc:
                refused.append(exc)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    with clock.use(clock.ManualClock(T0)):
        threads = [threading.Thread(target=run, args=(lim,)) for lim in limiters]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert errors == []
    assert len(allowed) == 10 and len(refused) == 14
    assert sorted(s.remaining for s in allowed) == list(range(10))  # each token handed out once


def test_stream_slots_open_up_to_the_limit_and_lapse_when_not_renewed(farm):
    limiter = Limiter(farm.settings, farm.store())
    tenant = with_limits(farm.tenant, open_streams=2)
    with clock.use(clock.ManualClock(T0)) as now:
        first, second = limiter.open_stream(tenant), limiter.open_stream(tenant)
        with pytest.raises(LimitExceeded) as refused:
            limiter.open_stream(tenant)
        assert refused.value.code == "too_many_streams" and refused.value.limit == "open_streams"
        limiter.close_stream(first)
        third = limiter.open_stream(tenant)
        assert third is not None and third.id not in (first.id, second.id)
        now.advance(limiter.lease_s - 10)
        limiter.renew_stream(third)  # third is renewed, second is not
        now.advance(20)
        fourth = limiter.open_stream(tenant)  # second's lease lapsed (an API that died holding it)
        assert fourth is not None
        with pytest.raises(LimitExceeded):
            limiter.open_stream(tenant)
        with farm.db.session() as s:
            assert limiter.standing(s, tenant)["open_streams"].used == 2


def test_an_unreachable_redis_lets_requests_through(farm, caplog):
    limiter = Limiter(farm.settings, RedisLimitStore("redis://127.0.0.1:1/0"))
    tenant = with_limits(farm.tenant, submit_per_min=1, open_streams=1)
    assert limiter.check_rate(tenant, "submit") is None and limiter.check_rate(tenant, "submit") is None
    assert limiter.open_stream(tenant) is None
    assert "unavailable" in caplog.text


def _queue(db, tenant_id: str, *seconds: float, status=ChunkStatus.pending, finished_at=None) -> None:
    from helpers import submit_job_direct

    db.test_settings, db.test_store = db.settings, None  # no limits here: these rows are the setup
    for s in seconds:
        job_id, _ = submit_job_direct(db, "Hello there.", tenant="acme", webhook=None)
        with db.session() as session:
            session.execute(update(Chunk).where(Chunk.job_id == job_id).values(
                expected_s=s, status=status, finished_at=finished_at, duration_s=s))


def test_queued_audio_counts_pending_and_running_chunks_only(farm):
    settings = farm.settings.model_copy(update={"max_queued_audio_s": 10.0})
    _queue(farm.db, farm.tenant.id, 4.0)
    _queue(farm.db, farm.tenant.id, 3.0, status=ChunkStatus.running)
    _queue(farm.db, farm.tenant.id, 50.0, status=ChunkStatus.done, finished_at=T0)
    _queue(farm.db, farm.tenant.id, 50.0, status=ChunkStatus.canceled)
    with farm.db.session() as s:
        admit_audio(s, settings, farm.tenant.id, 3.0)  # 7 queued + 3 = the cap: accepted
    with farm.db.session() as s, pytest.raises(LimitExceeded) as refused:
        admit_audio(s, settings, farm.tenant.id, 3.5)
    assert refused.value.status == 429 and refused.value.code == "queued_audio_limit"
    assert refused.value.remaining == pytest.approx(3.0)
    with farm.db.session() as s, pytest.raises(LimitExceeded) as alone:
        admit_audio(s, settings, farm.tenant.id, 10.5)
    assert alone.value.status == 413 and alone.value.code == "over_queued_audio_s"


def test_the_monthly_quota_counts_this_months_renders_and_the_queue(farm):
    settings = farm.settings.model_copy(update={"monthly_audio_s": 20.0})
    start, end = month_bounds(T0)
    _queue(farm.db, farm.tenant.id, 9.0, status=ChunkStatus.done, finished_at=start - timedelta(seconds=1))
    _queue(farm.db, farm.tenant.id, 8.0, status=ChunkStatus.done, finished_at=start)
    _queue(farm.db, farm.tenant.id, 6.0)
    with clock.use(clock.ManualClock(T0)) as now:
        with farm.db.session() as s:
            admit_audio(s, settings, farm.tenant.id, 6.0)  # last month's 9 s do not count: 8 + 6 + 6
        with farm.db.session() as s, pytest.raises(LimitExceeded) as refused:
            admit_audio(s, settings, farm.tenant.id, 6.5)
        assert refused.value.code == "monthly_quota_exceeded"
        assert refused.value.retry_after_s == int((end - T0).total_seconds()) + 1  # the month's end, rounded up
        now.advance((end - T0).total_seconds())
        with farm.db.session() as s:
            admit_audio(s, settings, farm.tenant.id, 6.5)


def test_own_values_replace_the_defaults_and_are_checked():
    settings = Settings(rate_limit_submit_per_min=5, max_queued_audio_s=100)
    limits = effective(settings, {"submit_per_min": None, "open_streams": 2})
    assert limits["submit_per_min"] is None and limits["open_streams"] == 2
    assert limits["queued_audio_s"] == 100 and limits["read_per_min"] is None
    assert check_values({"submit_per_min": 10.0, "queued_audio_s": 1.5}) == {"submit_per_min": 10,
                                                                             "queued_audio_s": 1.5}
    for bad in ({"submit_per_min": 0}, {"submit_per_min": 2.5}, {"queued_audio_s": -1}, {"nope": 1},
                {"open_streams": True}):
        with pytest.raises(InvalidInput):
            check_values(bad)


def test_nothing_is_written_for_a_tenant_without_limits(farm):
    limiter = Limiter(farm.settings, DatabaseLimitStore(farm.db))
    with clock.use(clock.ManualClock(T0)):
        for route_class in ("submit", "speech", "read"):
            assert limiter.check_rate(farm.tenant, route_class) is None
        assert limiter.open_stream(farm.tenant) is None
    from voxfarm.core.models.tenancy import LimitState

    with farm.db.session() as s:
        assert s.scalars(select(LimitState)).all() == []


def test_concurrent_submits_of_one_tenant_cannot_both_take_the_last_room(farm):
    """Eight submits at once, room for three: the tenant's row lock makes each see the others."""
    from voxfarm.core.jobs.intake import submit_job
    from voxfarm.core.jobs.schemas import JobCreate

    req = JobCreate(text="A line that takes its share of the queue.")
    with farm.db.session() as s:
        one = submit_job(s, farm.settings, None, farm.tenant.id, req)
        each = s.scalar(select(func.sum(Chunk.expected_s)).where(Chunk.job_id == one.id))
        s.rollback()
    settings = farm.settings.model_copy(update={"max_queued_audio_s": 3.5 * each})
    dbs = [Database(settings) for _ in range(8)]
    accepted, refused, errors = [], [], []
    start = threading.Barrier(len(dbs))

    def run(db):
        start.wait()
        try:
            with db.session() as s:
                accepted.append(submit_job(s, settings, None, farm.tenant.id, req).id)
        except LimitExceeded:
            refused.append(1)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(db,)) for db in dbs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for db in dbs:
        db.dispose()
    assert errors == [] and len(accepted) == 3 and len(refused) == 5
    with farm.db.session() as s:
        assert s.scalar(select(func.sum(Chunk.expected_s))) == pytest.approx(3 * each)
