"""Per-tenant limits: what each tenant may do at once, and the checks that refuse the rest.

Six limits.  Each has a farm-wide default (a setting, unset = no limit) that the tenant's own value
replaces (``voxfarm tenants limits set``, stored on the tenant row; null there means "no limit"):

* ``submit_per_min``, ``speech_per_min``, ``read_per_min`` (``RATE_LIMIT_*``): requests per minute
  per route class: ``speech`` is POST /v1/audio/speech, ``read`` every GET, ``submit`` every other
  write.  Checked before the view runs (api/limits.py), a token bucket in a ``LimitStore``.
* ``open_streams`` (``MAX_OPEN_STREAMS``): concurrent speech streams, each holding a lease that
  the stream renews while it sends and gives back when it ends (a crashed API's lapses).
* ``queued_audio_s`` (``MAX_QUEUED_AUDIO_S``): the planned audio-seconds of the tenant's pending and
  running chunks, plus the request's own.
* ``monthly_audio_s`` (``MONTHLY_AUDIO_S``): audio-seconds rendered this calendar month (UTC, as
  GET /v1/usage counts them), plus what is queued, plus the request's own.

The two audio limits are read from the chunk rows (the record of what is queued and rendered), in
the submit transaction once the request is planned and before anything is stored, under the
tenant's row lock, so concurrent submits cannot both take the same room; a batch is checked as a
whole.  Refusals are 429 ``LimitExceeded`` with ``Retry-After``; a request whose own audio exceeds
a limit is a 413 (no wait would let it in).  Imports the kernel and core.tenants.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from voxfarm.core.clock import utcnow
from voxfarm.core.errors import InvalidInput, LimitExceeded, NotFound
from voxfarm.core.models import Chunk, Tenant
from voxfarm.core.settings import Settings
from voxfarm.core.statuses import ChunkStatus
from voxfarm.core.tenants.accounts import lock_tenant
from voxfarm.core.tenants.limit_store import EPS_S, LimitStore, LimitStoreUnavailable

log = logging.getLogger(__name__)

WINDOW_S = 60.0
STREAM_RETRY_S = 5  # a stream slot frees when some stream ends: a hint to look again soon
QUEUE_RETRY_S = (1, 60)  # the audio over the cap, within these bounds: a re-check, not a promise
RATE_CLASSES = {"submit": "submit_per_min", "speech": "speech_per_min", "read": "read_per_min"}
SETTINGS = {"submit_per_min": "rate_limit_submit_per_min", "speech_per_min": "rate_limit_speech_per_min",
            "read_per_min": "rate_limit_read_per_min", "open_streams": "max_open_streams",
            "queued_audio_s": "max_queued_audio_s", "monthly_audio_s": "monthly_audio_s"}
NAMES = tuple(SETTINGS)
_COUNTS = {"submit_per_min": 1, "speech_per_min": 1, "read_per_min": 1, "open_streams": 0}  # whole, >= this
_QUEUED = (ChunkStatus.pending, ChunkStatus.running)


class LimitStanding(BaseModel):
    limit: int | float | None = Field(description="null: no limit")
    source: str = Field(description="`tenant` (its own value) or `default` (the farm's setting)")
    used: int | float | None = Field(description="what counts against it now (null: not tracked without a limit)")
    remaining: int | float | None
    reset_s: float | None = Field(description="seconds until it is whole again (rates: the bucket refilled; "
                                              "monthly: the next month)")


def effective(settings: Settings, own: dict[str, Any] | None) -> dict[str, float | None]:
    own = own or {}
    return {name: own[name] if name in own else getattr(settings, SETTINGS[name]) for name in NAMES}


def check_values(values: dict[str, Any]) -> dict[str, float | int | None]:
    """A tenant's own limits, validated: known names, each None or a number (whole for counts)."""
    out: dict[str, float | int | None] = {}
    for name, value in values.items():
        if name not in SETTINGS:
            raise InvalidInput(f"unknown limit {name!r}; limits: {', '.join(NAMES)}", code="unknown_limit")
        if value is not None:
            least = _COUNTS.get(name, 0)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value < least or (name in _COUNTS and value != int(value)):
                kind = "a whole number" if name in _COUNTS else "a number"
                raise InvalidInput(f"{name} must be {kind} >= {least}, or none", code="invalid_limit")
            value = int(value) if name in _COUNTS else float(value)
        out[name] = value
    return out


def tenant_by_name(session: Session, name: str) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.name == name))
    if tenant is None:
        raise NotFound(f"no tenant {name!r} (voxfarm keys create --tenant {name} makes one)", code="tenant_not_found")
    return tenant


def set_tenant_limits(session: Session, tenant_name: str, values: dict[str, Any],
                      reset: tuple[str, ...] = ()) -> Tenant:
    """Set a tenant's own limits (None: no limit) and drop those in ``reset`` (back to the default)."""
    tenant = tenant_by_name(session, tenant_name)
    own = {**(tenant.limits or {}), **check_values(values)}
    for name in check_values(dict.fromkeys(reset)):
        own.pop(name, None)
    tenant.limits = own or None
    return tenant


def month_bounds(now: datetime) -> tuple[datetime, datetime]:
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start, (start + timedelta(days=32)).replace(day=1)


def queued_audio_s(session: Session, tenant_id: str) -> float:
    return float(session.scalar(select(func.coalesce(func.sum(Chunk.expected_s), 0.0))
                                .where(Chunk.tenant_id == tenant_id, Chunk.status.in_(_QUEUED))) or 0.0)


def rendered_audio_s(session: Session, tenant_id: str, since: datetime) -> float:
    """Audio delivered since ``since``: GET /v1/usage's ``audio_s`` (cache hits included)."""
    return float(session.scalar(select(func.coalesce(func.sum(Chunk.duration_s), 0.0)).where(
        Chunk.tenant_id == tenant_id, Chunk.status == ChunkStatus.done, Chunk.finished_at >= since)) or 0.0)


def _whole(seconds: float) -> int:
    return max(1, math.ceil(seconds - EPS_S))


def admit_audio(session: Session, settings: Settings, tenant_id: str, planned_s: float) -> None:
    """Refuse a request planned at ``planned_s`` audio-seconds that would pass the tenant's queued
    audio cap or monthly quota.  Runs in the submit transaction, before anything is stored."""
    tenant = session.get(Tenant, tenant_id)
    limits = effective(settings, tenant.limits if tenant is not None else None)
    cap, quota = limits["queued_audio_s"], limits["monthly_audio_s"]
    if cap is None and quota is None:
        return
    for name, value in (("queued_audio_s", cap), ("monthly_audio_s", quota)):
        if value is not None and planned_s > value:
            raise LimitExceeded(f"this request is {planned_s:.1f} s of audio; the {name} limit is {value:g} s, "
                                "so it can never be accepted: split it", code=f"over_{name}", status=413,
                                limit=name, limit_value=value, remaining=0, retry_after_s=0, reset_s=0)
    lock_tenant(session, tenant_id)  # the tenant's concurrent submits are checked one after another
    queued = queued_audio_s(session, tenant_id)
    if cap is not None and queued + planned_s > cap + EPS_S:
        over = queued + planned_s - cap
        raise LimitExceeded(f"{queued:.1f} s of audio are queued and this request adds {planned_s:.1f} s; the "
                            f"queued_audio_s limit is {cap:g} s: retry once {over:.1f} s have rendered",
                            code="queued_audio_limit", limit="queued_audio_s", limit_value=cap,
                            remaining=max(0.0, cap - queued),
                            retry_after_s=min(max(_whole(over), QUEUE_RETRY_S[0]), QUEUE_RETRY_S[1]), reset_s=0)
    if quota is not None:
        now = utcnow()
        start, end = month_bounds(now)
        used = rendered_audio_s(session, tenant_id, start)
        if used + queued + planned_s > quota + EPS_S:
            wait = (end - now).total_seconds()
            raise LimitExceeded(f"{used:.1f} s rendered this month and {queued:.1f} s queued, and this request adds "
                                f"{planned_s:.1f} s; the monthly_audio_s quota is {quota:g} s until {end:%Y-%m-%d}",
                                code="monthly_quota_exceeded", limit="monthly_audio_s", limit_value=quota,
                                remaining=max(0.0, quota - used - queued), retry_after_s=_whole(wait), reset_s=wait)


@dataclass(frozen=True)
class RateState:
    limit: int
    remaining: int
    reset_s: float

    def headers(self) -> dict[str, str]:
        return {"RateLimit-Limit": str(self.limit), "RateLimit-Remaining": str(self.remaining),
                "RateLimit-Reset": str(math.ceil(self.reset_s - EPS_S) if self.reset_s > EPS_S else 0)}


def _rate_state(limit: int, tat: float | None, now: float) -> RateState:
    ahead = max(0.0, (tat if tat is not None else now) - now)
    remaining = int((WINDOW_S - ahead) / (WINDOW_S / limit) + 1e-6)
    return RateState(limit, max(0, min(limit, remaining)), ahead)


@dataclass(frozen=True)
class StreamSlot:
    tenant_id: str
    id: str


class Limiter:
    """The request-rate and stream checks over one ``LimitStore`` (one per API process).  A store
    that cannot be reached lets requests through, logged: an outage of the limiter's Redis must not
    take the farm down with it."""

    def __init__(self, settings: Settings, store: LimitStore) -> None:
        self.settings, self.store = settings, store
        self.lease_s = settings.speech_stream_timeout_s + 60.0  # a stream may wait this long for a chunk
        self._warned = 0.0

    def _down(self, exc: Exception) -> None:
        if time.monotonic() - self._warned > 60:
            self._warned = time.monotonic()
            log.warning("limits: the limit store is unavailable, requests pass unchecked: %s", exc)

    def check_rate(self, tenant: Tenant, route_class: str) -> RateState | None:
        """Count one request of ``route_class`` (raises ``LimitExceeded``); None when unlimited."""
        name = RATE_CLASSES[route_class]
        limit = effective(self.settings, tenant.limits)[name]
        if limit is None:
            return None
        now, period = utcnow().timestamp(), WINDOW_S / limit
        try:
            allowed, tat = self.store.take(tenant.id, name, period, WINDOW_S, now)
        except LimitStoreUnavailable as exc:
            self._down(exc)
            return None
        state = _rate_state(int(limit), tat, now)
        if not allowed:
            wait = _whole(tat + period - WINDOW_S - now)
            raise LimitExceeded(f"more than {limit:g} {route_class} requests in a minute ({name}); retry in {wait} s",
                                code="rate_limited", limit=name, limit_value=limit, remaining=0,
                                retry_after_s=wait, reset_s=state.reset_s)
        return state

    def open_stream(self, tenant: Tenant) -> StreamSlot | None:
        limit = effective(self.settings, tenant.limits)["open_streams"]
        if limit is None:
            return None
        now, slot = utcnow().timestamp(), secrets.token_hex(8)
        try:
            opened, _live = self.store.open_stream(tenant.id, slot, int(limit), now + self.lease_s, now)
        except LimitStoreUnavailable as exc:
            self._down(exc)
            return None
        if not opened:
            raise LimitExceeded(f"{limit:g} speech streams are open, the open_streams limit; retry when one ends",
                                code="too_many_streams", limit="open_streams", limit_value=limit, remaining=0,
                                retry_after_s=STREAM_RETRY_S, reset_s=STREAM_RETRY_S)
        return StreamSlot(tenant.id, slot)

    def renew_stream(self, slot: StreamSlot) -> None:
        now = utcnow().timestamp()
        try:
            self.store.renew_stream(slot.tenant_id, slot.id, now + self.lease_s, now)
        except LimitStoreUnavailable as exc:
            self._down(exc)

    def close_stream(self, slot: StreamSlot) -> None:
        try:
            self.store.close_stream(slot.tenant_id, slot.id)
        except LimitStoreUnavailable as exc:
            self._down(exc)

    def standing(self, session: Session, tenant: Tenant) -> dict[str, LimitStanding]:
        """Each limit and where the tenant stands against it (GET /v1/usage)."""
        limits, own, now = effective(self.settings, tenant.limits), tenant.limits or {}, utcnow()
        ts = now.timestamp()

        def row(name: str, used: float | None, remaining: float | None, reset_s: float | None) -> LimitStanding:
            return LimitStanding(limit=limits[name], source="tenant" if name in own else "default",
                                 used=used, remaining=remaining, reset_s=reset_s)

        out: dict[str, LimitStanding] = {}
        for name in RATE_CLASSES.values():
            limit = limits[name]
            state = _rate_state(int(limit), self._quietly(self.store.bucket, tenant.id, name), ts) if limit else None
            out[name] = row(name, limit - state.remaining if state else None, state.remaining if state else None,
                            round(state.reset_s, 3) if state else None)
        streams = self._quietly(self.store.streams, tenant.id, ts) if limits["open_streams"] is not None else None
        out["open_streams"] = row("open_streams", streams, None if streams is None else
                                  max(0, limits["open_streams"] - streams), None)
        queued = round(queued_audio_s(session, tenant.id), 3)
        cap = limits["queued_audio_s"]
        out["queued_audio_s"] = row("queued_audio_s", queued, None if cap is None else round(max(0.0, cap - queued), 3),
                                    None)
        start, end = month_bounds(now)
        month, quota = round(rendered_audio_s(session, tenant.id, start), 3), limits["monthly_audio_s"]
        out["monthly_audio_s"] = row("monthly_audio_s", month, None if quota is None else
                                     round(max(0.0, quota - month - queued), 3), round((end - now).total_seconds(), 3))
        return out

    def _quietly(self, fn, *args):
        try:
            return fn(*args)
        except LimitStoreUnavailable as exc:
            self._down(exc)
            return None
