"""Retry timing: the Standard Webhooks / Svix schedule, jitter, and ``Retry-After``."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER_S = 24 * 3600.0


def next_delay(attempt: int, schedule: list[float], jitter: float, rng: random.Random | None = None) -> float | None:
    """Seconds to wait after failed attempt ``attempt`` (1-based), or None when exhausted.

    ``schedule[0]`` is the first attempt's delay (0: immediately), so after attempt n the next
    one waits ``schedule[n]``.
    """
    if attempt >= len(schedule):
        return None
    base = schedule[attempt]
    spread = (rng or random).uniform(-jitter, jitter) if jitter else 0.0
    return max(0.0, base * (1.0 + spread))


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Parse a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - (now or datetime.now(UTC))).total_seconds()), MAX_RETRY_AFTER_S)
