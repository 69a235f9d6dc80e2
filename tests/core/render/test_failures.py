"""core/render/failures.py: which errors are outages (never attempts), and the capped, jittered backoff."""

from __future__ import annotations

import errno
import random

from sqlalchemy.exc import OperationalError

from voxfarm.core.errors import ChecksumMismatch, StorageError
from voxfarm.core.render.failures import infra_delay, is_infrastructure


def test_outages_are_infrastructure_and_engine_errors_are_not():
    assert is_infrastructure(StorageError("object storage error: InternalError"))
    assert is_infrastructure(OperationalError("SELECT 1", {}, Exception("server closed the connection")))
    assert is_infrastructure(ConnectionRefusedError())
    assert is_infrastructure(OSError(errno.ENOSPC, "No space left on device"))
    try:  # wrapped: what a caller raises ``from`` an outage is still an outage
        raise RuntimeError("upload failed") from StorageError("unreachable")
    except RuntimeError as exc:
        assert is_infrastructure(exc)
    for engine_error in (RuntimeError("CUDA error: device-side assert"), ValueError("bad text"),
                         FileNotFoundError("model.safetensors"), OSError(errno.EACCES, "denied"),
                         ChecksumMismatch("stored bytes differ")):
        assert not is_infrastructure(engine_error), engine_error


def test_extra_types_count_as_infrastructure():
    class BrokerDown(Exception):
        pass

    assert not is_infrastructure(BrokerDown())
    assert is_infrastructure(BrokerDown(), (BrokerDown,))


def test_backoff_grows_exponentially_is_capped_and_jittered():
    rng = random.Random(7)
    delays = [infra_delay(n, 30.0, rng=rng) for n in range(12)]
    assert all(0.75 * min(30.0, 2.0 ** n) <= d <= min(30.0, 2.0 ** n) for n, d in enumerate(delays)), delays
    assert max(delays) <= 30.0 and delays[3] > delays[0]
    assert len({round(infra_delay(10, 30.0, rng=rng), 6) for _ in range(20)}) > 10  # jitter spreads retries
    assert infra_delay(10_000, 60.0, rng=rng) <= 60.0  # no overflow for a very long outage
