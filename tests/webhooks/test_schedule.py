"""Retry timing (webhooks/schedule.py): after attempt n the next waits ``schedule[n]``, jitter stays
within its band, the schedule ends, and ``Retry-After`` is read in both of its forms."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from voxfarm.webhooks.schedule import MAX_RETRY_AFTER_S, next_delay, retry_after

SCHEDULE = [0, 5, 300, 1800, 7200]


def test_after_attempt_n_the_next_waits_schedule_n():
    assert [next_delay(n, SCHEDULE, 0.0) for n in range(1, 5)] == [5, 300, 1800, 7200]


def test_the_schedule_ends():
    assert next_delay(len(SCHEDULE), SCHEDULE, 0.0) is None
    assert next_delay(len(SCHEDULE) + 3, SCHEDULE, 0.0) is None


def test_jitter_stays_within_its_band():
    rng = random.Random(7)
    delays = [next_delay(2, SCHEDULE, 0.1, rng) for _ in range(200)]
    assert all(270 <= d <= 330 for d in delays) and len(set(delays)) > 100


@pytest.mark.parametrize(("value", "want"), [("120", 120.0), (" 7 ", 7.0), ("99999999", MAX_RETRY_AFTER_S),
                                             (None, None), ("", None), ("soon", None)])
def test_retry_after_seconds(value, want):
    assert retry_after(value) == want


def test_retry_after_http_date():
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90.0
    assert retry_after(format_datetime(now - timedelta(seconds=90), usegmt=True), now) == 0.0  # in the past
