"""What this worker process's live tasks hold right now: the chunk and finalize leases that the
heartbeat renews.  A task that died (an unexpected error) drops out, so its lease lapses."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class HeldWork:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.chunks: set[str] = set()
        self.jobs: set[str] = set()

    def snapshot(self) -> tuple[list[str], list[str]]:
        with self._lock:
            return list(self.chunks), list(self.jobs)

    @contextmanager
    def hold(self, kind: set[str], key: str) -> Iterator[bool]:
        """Yields False (and holds nothing) when a task here already holds ``key``: a duplicate
        message while it works, which the caller skips."""
        with self._lock:
            if key in kind:
                taken = False
            else:
                kind.add(key)
                taken = True
        try:
            yield taken
        finally:
            if taken:
                with self._lock:
                    kind.discard(key)
