"""Where the limiter keeps its counters: Redis in distributed mode, the database in the embedded
stack.  Both give the same two atomic operations, so any number of API processes enforce one
limit together:

* a request-rate bucket (GCRA, a token bucket kept as one number per tenant and route class: its
  *theoretical arrival time* ``tat``).  A request at ``now`` moves it to
  ``max(tat, now) + period`` (``period`` = window / limit) and is allowed when that lies at most
  ``window`` ahead of ``now``; a refused request changes nothing.  Redis runs the step as one Lua
  script; the database as one conditional ``UPDATE ... RETURNING``.
* open-stream slots: a set of leases per tenant.  Opening one drops expired leases, counts the rest
  and adds one only under the limit, in one Lua script or under the tenant's row lock.

Times are Unix seconds from the core clock (core/clock.py), so API hosts need synchronized clocks
(NTP) and tests can move time without sleeping.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from voxfarm.core.db import Database
from voxfarm.core.models.tenancy import LimitState
from voxfarm.core.settings import Settings
from voxfarm.core.tenants.accounts import lock_tenant

EPS_S = 1e-3  # float slack (Redis keeps times as text with microseconds): a request 1 ms early passes


class LimitStoreUnavailable(Exception):
    """The store could not be reached; the limiter lets the request through (and logs)."""


class LimitStore(Protocol):
    def take(self, tenant_id: str, name: str, period_s: float, window_s: float, now: float) -> tuple[bool, float]:
        """One GCRA step: (allowed, the bucket's tat after the step)."""

    def bucket(self, tenant_id: str, name: str) -> float | None:
        """The bucket's tat, or None if it was never used (or has lapsed)."""

    def open_stream(self, tenant_id: str, slot: str, limit: int, until: float, now: float) -> tuple[bool, int]:
        """Add a lease ending at ``until`` if fewer than ``limit`` are live: (opened, live leases)."""

    def renew_stream(self, tenant_id: str, slot: str, until: float, now: float) -> None: ...

    def close_stream(self, tenant_id: str, slot: str) -> None: ...

    def streams(self, tenant_id: str, now: float) -> int: ...


def open_limit_store(settings: Settings, db: Database) -> LimitStore:
    """Redis when the farm's broker is Redis (distributed mode), else the database."""
    url = settings.resolved_broker_url
    if url.startswith(("redis://", "rediss://")):
        return RedisLimitStore(url)
    return DatabaseLimitStore(db)


class DatabaseLimitStore:
    """The embedded stack's store: rows of ``limit_state``, one per bucket and per open stream."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _row(tenant_id: str, key: str):
        return (LimitState.tenant_id == tenant_id) & (LimitState.key == key)

    def take(self, tenant_id: str, name: str, period_s: float, window_s: float, now: float) -> tuple[bool, float]:
        key = f"rate:{name}"
        start = case((LimitState.value > now, LimitState.value), else_=now)
        step = (update(LimitState).where(self._row(tenant_id, key), start + period_s - now <= window_s + EPS_S)
                .values(value=start + period_s).returning(LimitState.value)
                .execution_options(synchronize_session=False))
        with self.db.session() as s:
            tat = s.scalar(step)
            if tat is None:
                current = s.scalar(select(LimitState.value).where(self._row(tenant_id, key)))
                if current is not None:
                    return False, max(current, now)
                insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
                s.execute(insert(LimitState).values(tenant_id=tenant_id, key=key, value=now)
                          .on_conflict_do_nothing())
                tat = s.scalar(step)  # the first request of this bucket (or a racer's second)
                if tat is None:
                    return False, max(s.scalar(select(LimitState.value).where(self._row(tenant_id, key))), now)
            return True, tat

    def bucket(self, tenant_id: str, name: str) -> float | None:
        with self.db.session() as s:
            return s.scalar(select(LimitState.value).where(self._row(tenant_id, f"rate:{name}")))

    def open_stream(self, tenant_id: str, slot: str, limit: int, until: float, now: float) -> tuple[bool, int]:
        streams = (LimitState.tenant_id == tenant_id) & LimitState.key.startswith("stream:")
        with self.db.session() as s:
            lock_tenant(s, tenant_id)  # two opens of one tenant cannot both take the last slot
            s.execute(delete(LimitState).where(streams, LimitState.value <= now))
            live = s.scalar(select(func.count()).select_from(LimitState).where(streams)) or 0
            if live >= limit:
                return False, live
            s.add(LimitState(tenant_id=tenant_id, key=f"stream:{slot}", value=until))
            return True, live + 1

    def renew_stream(self, tenant_id: str, slot: str, until: float, now: float) -> None:
        with self.db.session() as s:
            s.execute(update(LimitState).where(self._row(tenant_id, f"stream:{slot}")).values(value=until))

    def close_stream(self, tenant_id: str, slot: str) -> None:
        with self.db.session() as s:
            s.execute(delete(LimitState).where(self._row(tenant_id, f"stream:{slot}")))

    def streams(self, tenant_id: str, now: float) -> int:
        with self.db.session() as s:
            return s.scalar(select(func.count()).select_from(LimitState).where(
                LimitState.tenant_id == tenant_id, LimitState.key.startswith("stream:"), LimitState.value > now)) or 0


# KEYS[1] the bucket; ARGV now, period, window, slack.  Times travel as text ("%.6f"): a Lua number
# returned to Redis would be truncated to an integer.
_TAKE = """
local now, period, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
if tat < now then tat = now end
local new = tat + period
if new - now > window + tonumber(ARGV[4]) then return {0, string.format('%.6f', tat)} end
redis.call('SET', KEYS[1], string.format('%.6f', new), 'PX', math.ceil((new - now) * 1000) + 1000)
return {1, string.format('%.6f', new)}
"""
# KEYS[1] the tenant's stream leases (a sorted set scored by expiry); ARGV now, until, slot, limit, ttl ms
_OPEN = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local live = redis.call('ZCARD', KEYS[1])
if live >= tonumber(ARGV[4]) then return {0, live} end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {1, live + 1}
"""


class RedisLimitStore:
    """Distributed mode: the broker's Redis, keys under ``voxfarm:limits:<tenant id>:``."""

    def __init__(self, url: str) -> None:
        import redis  # the api extra brings it (celery[redis]); an embedded-only install never gets here

        self._errors = (redis.RedisError, OSError)
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2,
                                           health_check_interval=30)
        self._take = self.client.register_script(_TAKE)
        self._open = self.client.register_script(_OPEN)

    @staticmethod
    def _key(tenant_id: str, what: str) -> str:
        return f"voxfarm:limits:{tenant_id}:{what}"

    def _call(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except self._errors as exc:
            raise LimitStoreUnavailable(str(exc)) from exc

    def take(self, tenant_id: str, name: str, period_s: float, window_s: float, now: float) -> tuple[bool, float]:
        allowed, tat = self._call(self._take, keys=[self._key(tenant_id, f"rate:{name}")],
                                  args=[f"{now:.6f}", repr(period_s), repr(window_s), repr(EPS_S)])
        return bool(allowed), float(tat)

    def bucket(self, tenant_id: str, name: str) -> float | None:
        value = self._call(self.client.get, self._key(tenant_id, f"rate:{name}"))
        return None if value is None else float(value)

    def open_stream(self, tenant_id: str, slot: str, limit: int, until: float, now: float) -> tuple[bool, int]:
        ttl_ms = max(1000, int((until - now) * 1000) + 1000)
        opened, live = self._call(self._open, keys=[self._key(tenant_id, "streams")],
                                  args=[f"{now:.6f}", f"{until:.6f}", slot, limit, ttl_ms])
        return bool(opened), int(live)

    def renew_stream(self, tenant_id: str, slot: str, until: float, now: float) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.zadd(self._key(tenant_id, "streams"), {slot: until}, xx=True)
        pipe.pexpire(self._key(tenant_id, "streams"), max(1000, int((until - now) * 1000) + 1000))
        self._call(pipe.execute)

    def close_stream(self, tenant_id: str, slot: str) -> None:
        self._call(self.client.zrem, self._key(tenant_id, "streams"), slot)

    def streams(self, tenant_id: str, now: float) -> int:
        return int(self._call(self.client.zcount, self._key(tenant_id, "streams"), f"({now:.6f}", "+inf"))
