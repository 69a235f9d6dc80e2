"""Fault injection for the fault suite (tests/faults), installed as wrappers at the entry points
only when ``VOXFARM_FAULT`` is set; the production paths themselves carry no fault code.

* ``crash_after_commit`` (API): the process dies at its first publish, which comes right after a
  commit -- the rows are committed, their messages never reach the broker, and the reconciler
  must relay them (scenario f).
* ``poison:<marker>`` (worker): an engine call whose batch holds a text containing the marker
  kills its process with SIGKILL, as an out-of-memory kill would (scenario: poison input).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Sequence
from typing import Any

from voxfarm.core.state.outbox import Publisher

CRASH_EXIT_CODE = 70  # EX_SOFTWARE: what the harness sees from the crashed API


class CrashingPublisher:
    """The API's publisher, except that publishing ends the process (readiness probes still pass
    through to the real one, so the harness sees a healthy API until the first accepted job)."""

    def __init__(self, inner: Publisher) -> None:
        self.inner = inner

    def publish_many(self, messages: Sequence[tuple[str, list[Any], str]]) -> None:
        os._exit(CRASH_EXIT_CODE)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def publisher(inner: Publisher, fault: str | None) -> Publisher:
    return CrashingPublisher(inner) if fault == "crash_after_commit" else inner


def engine_call(generate: Callable[[list], list], fault: str | None) -> Callable[[list], list]:
    """``generate`` (an engine's ``generate_batch``), or a wrapper that kills the process first
    when a request's text carries the poison marker."""
    if not (fault or "").startswith("poison:"):
        return generate
    marker = fault[len("poison:"):]

    def poisoned(requests: list) -> list:
        if any(marker in r.text for r in requests):
            os.kill(os.getpid(), signal.SIGKILL)
        return generate(requests)

    return poisoned
