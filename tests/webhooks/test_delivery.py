"""Webhook delivery against a real loopback receiver that verifies every request.

Deliveries run through ``webhooks.delivery.deliver`` exactly as the Celery task calls it; the
tests play the scheduler (waiting for ``next_attempt_at``) so retries take milliseconds.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from tests.webhooks.receiver import Receiver
from voxfarm.core.clock import utcnow
from voxfarm.core.db import Database
from voxfarm.core.jobs.intake import cancel_job
from voxfarm.core.models import Tenant, WebhookAttempt, WebhookEndpoint, WebhookEvent
from voxfarm.core.settings import Settings
from voxfarm.core.storage import open_store
from voxfarm.webhooks.delivery import deliver
from voxfarm.webhooks.manage import rotate_secret

from helpers import submit_job_direct

FAST = [0, 0.2, 0.2, 0.2, 0.2]


@pytest.fixture
def farm(tmp_path):
    from voxfarm.core.migrate import upgrade

    settings = Settings(data_dir=tmp_path / "var", outbound_allowlist=["127.0.0.1/32"], webhook_schedule_s=FAST,
                        webhook_jitter=0.0, outbound_timeout_s=1.0)
    upgrade(settings)
    db = Database(settings)
    db.test_settings, db.test_store = settings, open_store(settings)
    yield db
    db.dispose()


def _secret(db, tenant="acme") -> str:
    with db.session() as s:
        return s.scalar(select(Tenant.webhook_secret).where(Tenant.name == tenant))


def _terminal_event(db, url: str, tenant="acme") -> tuple[str, str]:
    job_id, _ = submit_job_direct(db, "Notify me.", tenant=tenant, webhook={"url": url})
    with db.session() as s:
        cancel_job(s, s.scalar(select(Tenant.id).where(Tenant.name == tenant)), job_id)
        event = s.scalars(select(WebhookEvent).where(WebhookEvent.job_id == job_id)).one()
        return job_id, event.id


def _run(db, event_id: str, max_attempts: int = 10) -> None:
    """Play the scheduler: run attempts as they fall due until the event settles."""
    for _ in range(max_attempts):
        with db.session() as s:
            event = s.get(WebhookEvent, event_id)
            if event.status != "pending":
                return
            due = event.next_attempt_at
        time.sleep(max(0.0, (due - utcnow()).total_seconds()))
        deliver(db, db.test_store, db.test_settings, event_id)


def _attempts(db, event_id):
    with db.session() as s:
        return s.scalars(select(WebhookAttempt).where(WebhookAttempt.event_id == event_id)
                         .order_by(WebhookAttempt.attempt)).all()


def test_success_is_signed_and_carries_the_job(farm):
    receiver = Receiver(lambda: [_secret(farm)])
    job_id, event_id = _terminal_event(farm, receiver.url)
    _run(farm, event_id)
    receiver.stop()
    [got] = receiver.requests
    assert got.verified and got.headers["webhook-id"] == event_id
    assert got.json["type"] == "job.canceled" and got.json["data"]["id"] == job_id
    assert got.json["data"]["status"] == "canceled"
    with farm.session() as s:
        assert s.get(WebhookEvent, event_id).status == "delivered"
    assert [a.status_code for a in _attempts(farm, event_id)] == [200]


def test_three_failures_then_success(farm):
    receiver = Receiver(lambda: [_secret(farm)], lambda n: (503 if n < 3 else 200, {}, 0.0))
    _, event_id = _terminal_event(farm, receiver.url)
    _run(farm, event_id)
    receiver.stop()
    assert len(receiver.requests) == 4 and all(r.verified for r in receiver.requests)
    assert {r.headers["webhook-id"] for r in receiver.requests} == {event_id}  # stable across retries
    stamps = [r.headers["webhook-timestamp"] for r in receiver.requests]
    assert stamps == sorted(stamps)
    attempts = _attempts(farm, event_id)
    assert [(a.attempt, a.status_code) for a in attempts] == [(1, 503), (2, 503), (3, 503), (4, 200)]
    assert all(a.latency_ms is not None and a.url == receiver.url for a in attempts)
    assert attempts[0].next_attempt_at is not None and attempts[-1].next_attempt_at is None


def test_410_disables_the_endpoint(farm):
    receiver = Receiver(lambda: [_secret(farm)], lambda n: (410, {}, 0.0))
    _, first = _terminal_event(farm, receiver.url)
    _run(farm, first)
    _, second = _terminal_event(farm, receiver.url)  # a later job naming the same URL
    _run(farm, second)
    receiver.stop()
    assert len(receiver.requests) == 1
    with farm.session() as s:
        assert s.get(WebhookEvent, first).status == "disabled" and s.get(WebhookEvent, second).status == "disabled"
        assert s.scalars(select(WebhookEndpoint)).one().disabled_reason == "410 Gone"


def test_slow_receiver_times_out_and_is_retried(farm):
    receiver = Receiver(lambda: [_secret(farm)], lambda n: (200, {}, 3.0 if n == 0 else 0.0))
    _, event_id = _terminal_event(farm, receiver.url)
    _run(farm, event_id)
    receiver.stop()
    attempts = _attempts(farm, event_id)
    assert attempts[0].status_code is None and "Timeout" in attempts[0].error
    assert 900 <= attempts[0].latency_ms < 2500  # outbound_timeout_s=1
    assert attempts[-1].status_code == 200 and len(receiver.requests) == 2


def test_redirect_is_not_followed(farm):
    target = Receiver(lambda: [_secret(farm)])
    receiver = Receiver(lambda: [_secret(farm)], lambda n: (302 if n == 0 else 200, {"Location": target.url}, 0.0))
    _, event_id = _terminal_event(farm, receiver.url)
    _run(farm, event_id)
    receiver.stop()
    target.stop()
    assert target.requests == []
    attempts = _attempts(farm, event_id)
    assert attempts[0].status_code == 302 and "not followed" in attempts[0].error
    assert attempts[1].status_code == 200


def test_retry_after_is_honoured(farm):
    receiver = Receiver(lambda: [_secret(farm)],
                        lambda n: (429, {"Retry-After": "2"}, 0.0) if n == 0 else (200, {}, 0.0))
    _, event_id = _terminal_event(farm, receiver.url)
    _run(farm, event_id)
    receiver.stop()
    gap = receiver.requests[1].at - receiver.requests[0].at
    assert gap >= 1.9  # the schedule said 0.2 s; the receiver asked for 2 s


def test_exhausted_schedule_ends_failed(farm):
    receiver = Receiver(lambda: [_secret(farm)], lambda n: (500, {}, 0.0))
    _, event_id = _terminal_event(farm, receiver.url)
    _run(farm, event_id)
    receiver.stop()
    assert len(receiver.requests) == len(FAST)
    with farm.session() as s:
        assert s.get(WebhookEvent, event_id).status == "failed"


def test_an_attempt_cut_short_is_recorded_as_interrupted(farm):
    from voxfarm.webhooks.delivery import _claim

    receiver = Receiver(lambda: [_secret(farm)])
    _, event_id = _terminal_event(farm, receiver.url)
    assert _claim(farm, event_id, 0.5)  # the worker claims, then dies before sending
    assert not _claim(farm, event_id, 0.5)  # a duplicate message finds nothing due
    [interrupted] = _attempts(farm, event_id)
    assert interrupted.status_code is None and "interrupted" in interrupted.error
    time.sleep(5.6)  # due again 5 s after the attempt's timeout
    _run(farm, event_id)
    receiver.stop()
    assert [(a.attempt, a.status_code) for a in _attempts(farm, event_id)] == [(1, None), (2, 200)]


def test_rotation_signs_with_both_secrets_during_grace(farm):
    from voxfarm.core.tenants.accounts import get_or_create_tenant

    with farm.session() as s:
        get_or_create_tenant(s, "acme")
    old = _secret(farm)
    with farm.session() as s:
        new = rotate_secret(s, s.scalar(select(Tenant.id).where(Tenant.name == "acme")), 3600)["secret"]
    assert new != old and new.startswith("whsec_")
    receiver = Receiver([old, new])
    _, event_id = _terminal_event(farm, receiver.url)
    _run(farm, event_id)
    receiver.stop()
    got = receiver.requests[0]
    assert got.verified_with == [0, 1]  # receivers on either secret accept it
    assert len(got.headers["webhook-signature"].split(" ")) == 2


def test_the_old_secret_stops_signing_after_the_grace_period(farm):
    from datetime import timedelta

    from voxfarm.core.tenants.accounts import get_or_create_tenant

    with farm.session() as s:
        get_or_create_tenant(s, "acme")
    old = _secret(farm)
    with farm.session() as s:
        new = rotate_secret(s, s.scalar(select(Tenant.id).where(Tenant.name == "acme")), 3600)["secret"]
    receiver = Receiver([old, new])
    _, during = _terminal_event(farm, receiver.url)
    _run(farm, during)
    with farm.session() as s:  # the grace period ends: its deadline is now a second ago
        tenant = s.scalar(select(Tenant).where(Tenant.name == "acme"))
        tenant.webhook_secret_prev_until = utcnow() - timedelta(seconds=1)
    _, after = _terminal_event(farm, receiver.url)
    _run(farm, after)
    receiver.stop()
    first, second = receiver.requests
    assert first.verified_with == [0, 1]  # inside the grace: both secrets verify
    assert second.verified_with == [1]  # after it: only the new secret verifies
    assert len(second.headers["webhook-signature"].split(" ")) == 1


def test_batch_completed_is_delivered_signed_with_the_batch(farm):
    from voxfarm.core.batches import intake as batches
    from voxfarm.core.schemas import WebhookSpec
    from voxfarm.core.tenants.accounts import get_or_create_tenant

    receiver = Receiver(lambda: [_secret(farm)])
    with farm.session() as s:
        tenant = get_or_create_tenant(s, "acme").id
        batch = batches.submit_batch(s, farm.test_settings, farm.test_store, tenant, {},
                                     [{"text": "One."}, {"text": "Two."}],
                                     webhook=WebhookSpec(url=receiver.url, events=["batch.completed"]))
        batch_id = batch.id
    with farm.session() as s:
        batches.cancel_batch(s, tenant, batch_id)
        [event] = s.scalars(select(WebhookEvent).where(WebhookEvent.job_id == batch_id)).all()
        event_id = event.id
    _run(farm, event_id)
    receiver.stop()
    [got] = receiver.requests  # the job.canceled events went nowhere: the batch webhook is for the batch
    assert got.verified and got.json["type"] == "batch.completed"
    assert got.json["data"]["id"] == batch_id and got.json["data"]["counts"]["canceled"] == 2
