"""Deliver one webhook attempt and record it.

* The attempt is claimed first (compare-and-set on ``next_attempt_at <= now``), so a duplicate
  message -- a Celery retry and a reconciler re-send arriving together -- sends once.
* The payload is the job resource as ``GET /v1/jobs/<id>`` returns it, built at send time (so a
  retry carries a fresh presigned result URL).
* 2xx delivers; 410 disables the endpoint; anything else (3xx is never followed, 4xx, 5xx,
  timeouts, refused or blocked connections) retries on the schedule, honouring ``Retry-After``.
* Every attempt is a row: number, URL, status code, latency, error, next attempt.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta

import urllib3
from sqlalchemy import update

from voxfarm.core.batches.intake import batch_resource
from voxfarm.core.clock import iso, utcnow
from voxfarm.core.db import Database
from voxfarm.core.errors import VoxfarmError
from voxfarm.core.jobs.serialize import job_resource
from voxfarm.core.models import Batch, Job, Tenant, WebhookAttempt, WebhookEndpoint, WebhookEvent
from voxfarm.core.netguard import Guard, request
from voxfarm.core.settings import Settings
from voxfarm.core.state.lifecycle import EventStatus, set_event_status
from voxfarm.core.storage import ObjectStore
from voxfarm.webhooks.manage import signing_secrets
from voxfarm.webhooks.schedule import next_delay, retry_after
from voxfarm.webhooks.signing import sign_headers

log = logging.getLogger(__name__)

TIMEOUT_S = 15.0
SELF_SCHEDULE_MAX_S = 60.0  # longer waits are re-sent by the reconciler, never as broker ETAs
MAX_RESPONSE_BYTES = 64 * 1024


INTERRUPTED = "interrupted: the delivery worker stopped during this attempt"


def _claim(db: Database, event_id: str, timeout: float) -> bool:
    """Take the next attempt.  ``next_attempt_at`` moves past the attempt's longest possible
    duration (an in-flight marker: a duplicate message finds nothing due), and the attempt row is
    written now, marked interrupted until the outcome replaces that -- so a worker killed
    mid-attempt leaves a true record, and the event is due again 5 s after the timeout."""
    now = utcnow()
    with db.session() as s:
        if s.execute(
            update(WebhookEvent).where(WebhookEvent.id == event_id, WebhookEvent.status == EventStatus.pending,
                                       WebhookEvent.next_attempt_at <= now)
            .values(next_attempt_at=now + timedelta(seconds=timeout + 5), attempts=WebhookEvent.attempts + 1,
                    updated_at=now, enqueued_at=None)
            .execution_options(synchronize_session=False)).rowcount != 1:
            return False
        event = s.get(WebhookEvent, event_id)
        endpoint = s.get(WebhookEndpoint, event.endpoint_id)
        s.add(WebhookAttempt(event_id=event_id, attempt=event.attempts, url=endpoint.url, error=INTERRUPTED,
                             next_attempt_at=event.next_attempt_at))
        return True


def _record(session, event_id: str, attempt: int, status: int | None, latency_ms: float | None,
            error: str | None, next_at) -> None:
    session.execute(update(WebhookAttempt).where(WebhookAttempt.event_id == event_id,
                                                 WebhookAttempt.attempt == attempt)
                    .values(status_code=status, latency_ms=latency_ms, error=error, next_attempt_at=next_at))


def build_payload(event: WebhookEvent, job: Job, store: ObjectStore, settings: Settings) -> str:
    data = job_resource(job, store, settings)
    return _payload(event, data)


def _payload(event: WebhookEvent, data: dict) -> str:
    if event.data:
        data = {**data, "event": event.data}
    return json.dumps({"type": event.type, "timestamp": iso(event.created_at), "data": data},
                      separators=(",", ":"))


def deliver(db: Database, store: ObjectStore, settings: Settings, event_id: str) -> float | None:
    """Run one attempt.  Returns seconds until the next one when the caller should re-queue
    it itself (short waits only), else None."""
    timeout = min(settings.outbound_timeout_s, TIMEOUT_S)
    if not _claim(db, event_id, timeout):
        return None
    with db.session() as s:
        event = s.get(WebhookEvent, event_id)
        endpoint = s.get(WebhookEndpoint, event.endpoint_id)
        attempt = event.attempts
        if endpoint.disabled_at is not None:
            set_event_status(s, event.id, EventStatus.disabled, next_attempt_at=None)
            _record(s, event_id, attempt, None, None, "endpoint disabled", None)
            return None
        if event.type.startswith("batch."):  # a batch event's job_id holds the batch id
            body = _payload(event, batch_resource(s, s.get(Batch, event.job_id)))
        else:
            body = build_payload(event, s.get(Job, event.job_id), store, settings)
        secrets = signing_secrets(s.get(Tenant, event.tenant_id))
        url = endpoint.url
    headers = sign_headers(secrets, event_id, utcnow(), body)
    status, error, wait_hint = None, None, None
    started = time.monotonic()
    try:
        resp = request(Guard(settings.outbound_allowlist), "POST", url, body=body.encode(), headers=headers,
                       timeout=timeout, max_bytes=MAX_RESPONSE_BYTES, max_redirects=0)
        status = resp.status
        wait_hint = retry_after(resp.headers.get("retry-after"))
        if 300 <= status < 400:
            error = f"redirect to {resp.headers.get('location', '?')[:200]} not followed"
        elif not 200 <= status < 300:
            error = f"HTTP {status}"
    except VoxfarmError as exc:  # blocked by the SSRF guard, or an oversized response
        error = exc.message
    except (TimeoutError, OSError, urllib3.exceptions.HTTPError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    latency_ms = round((time.monotonic() - started) * 1000, 1)

    now = utcnow()
    delay = None
    with db.session() as s:
        if status is not None and 200 <= status < 300:
            set_event_status(s, event_id, EventStatus.delivered, delivered_at=now, next_attempt_at=None,
                             last_status_code=status)
        elif status == 410:
            s.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint.id)
                      .values(disabled_at=now, disabled_reason="410 Gone"))
            set_event_status(s, event_id, EventStatus.disabled, next_attempt_at=None, last_status_code=status)
            error = "410 Gone: endpoint disabled"
        else:
            delay = next_delay(attempt, settings.webhook_schedule_s, settings.webhook_jitter)
            if delay is None:
                set_event_status(s, event_id, EventStatus.failed, next_attempt_at=None, last_status_code=status)
            else:
                if wait_hint is not None:
                    delay = max(delay, wait_hint)
                due = now + timedelta(seconds=delay)
                # enqueued_at: when our own scheduled message fires; NULL tells the reconciler that
                # nobody will send this attempt but itself (see core/upkeep/reconcile.py)
                s.execute(update(WebhookEvent).where(WebhookEvent.id == event_id)
                          .values(next_attempt_at=due, last_status_code=status,
                                  enqueued_at=due if delay <= SELF_SCHEDULE_MAX_S else None))
        _record(s, event_id, attempt, status, latency_ms, error,
                now + timedelta(seconds=delay) if delay is not None else None)
    if error:
        log.info("webhook %s attempt %d to %s failed: %s", event_id, attempt, url, error)
    if delay is not None and delay <= SELF_SCHEDULE_MAX_S:
        return delay
    return None
