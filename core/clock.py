"""One clock for the whole core, so tests and the reconciler agree on what "now" is.

Tests that need time to pass without sleeping install a ``ManualClock`` (``with use(clock):``);
every ``utcnow()`` in the process, request threads included, then reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

_source: Callable[[], datetime] | None = None


def utcnow() -> datetime:
    return _source() if _source is not None else datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told: ``clock.advance(6)``."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@contextmanager
def use(source: Callable[[], datetime]) -> Iterator[Callable[[], datetime]]:
    """Make ``source`` the process's clock for the duration of the block."""
    global _source
    previous, _source = _source, source
    try:
        yield source
    finally:
        _source = previous


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
