"""Failure accounting: which errors use a chunk's render attempts, and how long the rest wait.

* **Attempts** (``max_attempts``, then the job fails ``poison_chunk``) are spent only by the
  engine: an error it raises or reports for an item, a failed quality gate, or a worker that died
  holding the lease (the lease lapses and the next claim counts).
* **Infrastructure errors** -- object storage, the database, the broker, a connection refused or
  timed out -- say nothing about the input.  They hand the chunk back *without* counting, back off
  (``infra_delay``) and retry for as long as the outage lasts.  Only ``infra_deadline_s`` of
  continuous failure for one job ends it, as ``infrastructure_unavailable``.

Classification is by type, so this module names only what ``core`` may import; the worker adds
the broker's exception types (kombu) through ``extra``.
"""

from __future__ import annotations

import errno
import random

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from voxfarm.core.errors import ChecksumMismatch, StorageError

INFRASTRUCTURE_UNAVAILABLE = "infrastructure_unavailable"

# errnos of a local disk or network mount that is unwell, not of a bad input
_INFRA_ERRNOS = {errno.ENOSPC, errno.EIO, errno.EROFS, errno.EDQUOT, errno.ESTALE, errno.EAGAIN,
                 errno.ECONNREFUSED, errno.ECONNRESET, errno.ETIMEDOUT, errno.EHOSTUNREACH,
                 errno.ENETUNREACH, errno.EPIPE}


def is_infrastructure(exc: BaseException, extra: tuple[type[BaseException], ...] = ()) -> bool:
    """True when ``exc`` (or what it was raised from) is an outage of something the farm depends
    on rather than a property of the work: storage, database, broker, network."""
    seen = 0
    while exc is not None and seen < 5:  # follow ``raise ... from`` a few links
        if isinstance(exc, ChecksumMismatch):  # stored bytes differ from the record: not an outage
            return False
        if isinstance(exc, (StorageError, OperationalError, DBAPIError, PoolTimeout, *extra)):
            return True
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return True
        if isinstance(exc, OSError) and exc.errno in _INFRA_ERRNOS:
            return True
        exc, seen = exc.__cause__, seen + 1
    return False


def infra_delay(failures: int, cap_s: float, *, base_s: float = 1.0, jitter: float = 0.25,
                rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number ``failures + 1`` of work blocked by an outage:
    ``base * 2**failures`` capped at ``cap_s``, minus up to ``jitter`` of it at random so that the
    hundreds of chunks an outage stalls do not all come back in the same instant.  With the default
    30 s cap the sequence is about 1, 2, 4, 8, 16, 30, 30, ... s."""
    delay = min(cap_s, base_s * 2.0 ** min(max(failures, 0), 30))
    return max(0.05, delay * (1.0 - jitter * (rng or random).random()))
