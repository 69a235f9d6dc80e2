"""How a render or finalize task ends when it does not simply succeed, and how errors are sorted.

The runtime raises these; the Celery tasks (worker/tasks/) translate them: ``HandBack`` requeues
the message, ``RetryLater`` retries it after ``countdown`` seconds.  ``is_outage`` sorts an error
into infrastructure (no attempt used, backoff) or the engine's (an attempt), see core/render/failures.py.
"""

from __future__ import annotations

from contextlib import contextmanager

from kombu.exceptions import OperationalError as BrokerError

from voxfarm.core.errors import StorageError
from voxfarm.core.render.failures import is_infrastructure

# Boot runs before the worker consumes (cli worker), so a task never waits for it in practice;
# the bound only guarantees that nothing blocks forever if that order is ever broken.
BOOT_WAIT_S = 120.0
# A batch on the engine normally takes seconds (Dia's longest chunk, 3072 tokens, is about 35 s at
# the 86 frames/s of real time); a task that waited this long for its item gives up and counts an
# attempt, as for a hung engine, rather than holding its thread forever.
BATCH_WAIT_S = 1800.0


def is_outage(exc: BaseException) -> bool:
    """Storage, database or broker trouble (the broker's exception types are kombu's)."""
    return is_infrastructure(exc, (BrokerError,))


@contextmanager
def storage_errors():
    """Errors of the object store are outages, whatever the backend (S3 wraps its own already);
    a missing object stays FileNotFoundError (a cache miss)."""
    try:
        yield
    except (FileNotFoundError, StorageError):
        raise
    except OSError as exc:
        raise StorageError(f"object storage error: {exc}") from exc


class HandBack(Exception):
    """The worker is shutting down before this chunk rendered: requeue the message."""


class RetryLater(Exception):
    def __init__(self, reason: str, countdown: float) -> None:
        super().__init__(reason)
        self.countdown = countdown


