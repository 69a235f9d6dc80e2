from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from voxfarm.core.clock import utcnow
from voxfarm.core.errors import Conflict, InvalidInput
from voxfarm.core.jobs import idempotency as idem
from voxfarm.core.models import IdempotencyKey


def test_replay_conflict_and_mismatch(db):
    assert idem.begin(db, "t1", "POST /v1/jobs", "k", "h1", 3600) is None
    with pytest.raises(Conflict):  # still in progress
        idem.begin(db, "t1", "POST /v1/jobs", "k", "h1", 3600)
    with db.session() as s:
        idem.complete(s, "t1", "POST /v1/jobs", "k", 202, {"id": "job_1"})
    replay = idem.begin(db, "t1", "POST /v1/jobs", "k", "h1", 3600)
    assert replay.status == 202 and replay.body == {"id": "job_1"}
    with pytest.raises(InvalidInput):
        idem.begin(db, "t1", "POST /v1/jobs", "k", "other-body", 3600)
    assert idem.begin(db, "t2", "POST /v1/jobs", "k", "h1", 3600) is None  # keys are per tenant


def test_expired_and_abandoned_keys_are_reusable(db):
    assert idem.begin(db, "t", "s", "k", "h", 3600) is None
    idem.abandon(db, "t", "s", "k")
    assert idem.begin(db, "t", "s", "k", "h2", 3600) is None  # validation failures are not stored
    with db.session() as s:
        idem.complete(s, "t", "s", "k", 201, {})
        s.execute(update(IdempotencyKey).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert idem.begin(db, "t", "s", "k", "h3", 3600) is None


def test_abandoning_never_forgets_a_completed_response(db):
    """A late abandon (the view failed after the resource committed) keeps the stored response."""
    assert idem.begin(db, "t", "s", "k", "h", 3600) is None
    with db.session() as s:
        idem.complete(s, "t", "s", "k", 202, {"id": "job_1"})
    idem.abandon(db, "t", "s", "k")
    replay = idem.begin(db, "t", "s", "k", "h", 3600)
    assert replay is not None and replay.body == {"id": "job_1"}


def test_a_marker_left_by_a_crash_is_taken_over(db):
    assert idem.begin(db, "t", "s", "k", "h", 3600) is None
    with db.session() as s:
        s.execute(update(IdempotencyKey).values(created_at=utcnow() - timedelta(seconds=idem.STALE_S + 1)))
    assert idem.begin(db, "t", "s", "k", "h", 3600) is None


@pytest.mark.parametrize("bad", ["", "x" * 256, "naïve", "tab\tkey"])
def test_key_format(bad):
    with pytest.raises(InvalidInput):
        idem.validate_key(bad)
