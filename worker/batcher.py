"""A process-local micro-batcher: many callers' requests, one ``generate_batch`` call.

Each Celery task (one per chunk, on a threads pool) submits its request and blocks on a Future;
one batcher thread collects requests until ``max_batch_size`` are waiting or ``max_wait_ms`` has
passed since the first one arrived, then runs them together.  Celery keeps its per-task
semantics -- each task acks, retries and fails on its own -- because only the forward pass is
shared.

Selection cuts padding: a batched decoder runs until its longest item finishes, so the batcher
keeps a small look-ahead buffer and, anchored on the oldest request (no starvation), fills the
batch with the waiting requests of the same ``group_key`` whose expected lengths are closest.

Overlap: with ``max_in_flight`` > 1 (engines that batch at the step level, e.g. Dia's continuous
loop), a formed batch is handed to a small pool and the batcher goes on collecting, so the next
batch's requests reach the engine while the previous one still runs and take freed slots there.

Priority lanes (core/jobs/lanes.py): with ``urgent`` given, the anchor is the oldest *urgent* request
(an interactive job's chunk) and urgent peers fill the batch first; after ``max_bulk_skips``
batches that passed the oldest bulk request over, it is anchored anyway, so bulk never starves.

Failure isolation: if the batch call raises, every item is retried alone, so one poisonous input
fails only its own Future.  At a batch boundary ``admit`` can drop items whose job was canceled.
``close()`` lets the batch in flight finish and fails everything still buffered with
``BatcherClosed`` so the tasks can hand their messages back to the broker.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
log = logging.getLogger(__name__)


class BatcherClosed(Exception):
    """The batcher is shutting down; the request was not run (hand it back)."""


class Dropped(Exception):
    """``admit`` refused the request at the batch boundary (e.g. its job was canceled)."""


class ItemFailed(Exception):
    """The engine reported an error for this item alone."""


@dataclass
class Pending(Generic[T]):
    request: T
    future: Future
    arrived: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Outcome(Generic[R]):
    result: R
    batch_size: int


RECENT_BATCHES = 1024

def validate(max_batch_size: Any, max_wait_ms: Any) -> tuple[int, float]:
    if isinstance(max_batch_size, bool) or not isinstance(max_batch_size, int) or max_batch_size < 1:
        raise ValueError(f"max_batch_size must be a positive int, got {max_batch_size!r}")
    if isinstance(max_wait_ms, bool) or not isinstance(max_wait_ms, int | float) \
            or not math.isfinite(max_wait_ms) or max_wait_ms < 0:
        raise ValueError(f"max_wait_ms must be a finite number >= 0, got {max_wait_ms!r}")
    return max_batch_size, float(max_wait_ms)


def collect(q: queue.Queue, buffer: list, max_batch_size: int, max_wait_ms: float,
            stop: threading.Event, idle_poll_s: float = 0.05) -> None:
    """Move requests from ``q`` into ``buffer`` until it holds ``max_batch_size`` or the oldest
    has waited ``max_wait_ms``.  Returns with an empty buffer only if ``stop`` is set."""
    while not buffer:
        if stop.is_set():
            return
        try:
            buffer.append(q.get(timeout=idle_poll_s))
        except queue.Empty:
            continue
    deadline = buffer[0].arrived + max_wait_ms / 1000.0
    while len(buffer) < max_batch_size:
        remaining = deadline - time.monotonic()
        try:
            buffer.append(q.get(timeout=remaining) if remaining > 0 else q.get_nowait())
        except queue.Empty:
            break
    # drain whatever else is already waiting (look-ahead for length matching), bounded
    while len(buffer) < 4 * max_batch_size:
        try:
            buffer.append(q.get_nowait())
        except queue.Empty:
            break


def select(buffer: list[Pending], max_batch_size: int, group_key: Callable[[Any], Hashable],
           length: Callable[[Any], float], urgent: Callable[[Any], bool] | None = None) -> list[Pending]:
    """Take the oldest request (the oldest urgent one, when ``urgent`` is given and any is
    waiting) plus the closest-length requests of its group, urgent ones first (removed from
    ``buffer``), returned urgent ones first (oldest first), the rest sorted by expected length."""
    is_urgent = urgent or (lambda r: False)
    anchor = next((p for p in buffer if is_urgent(p.request)), buffer[0])
    key = group_key(anchor.request)
    anchor_len = length(anchor.request)
    peers = [p for p in buffer if p is not anchor and group_key(p.request) == key]
    peers.sort(key=lambda p: (not is_urgent(p.request), abs(length(p.request) - anchor_len), p.arrived))
    chosen = [anchor, *peers[: max_batch_size - 1]]
    ids = {id(p) for p in chosen}
    buffer[:] = [p for p in buffer if id(p) not in ids]
    # urgent first, oldest first (an interactive request's first chunk leads: an item-by-item
    # engine renders and releases it before its batch-mates), then by expected length
    return sorted(chosen, key=lambda p: (0, p.arrived, 0.0) if is_urgent(p.request) else (1, 0.0, length(p.request)))


class MicroBatcher(Generic[T, R]):
    def __init__(self, run_batch: Callable[[list[T]], Sequence[R]], *, max_batch_size: int,
                 max_wait_ms: float, group_key: Callable[[T], Hashable] = lambda r: None,
                 length: Callable[[T], float] = lambda r: 0.0,
                 is_error: Callable[[R], str | None] = lambda r: None,
                 admit: Callable[[list[T]], set[int]] | None = None,
                 on_batch: Callable[[int, float], None] | None = None,
                 q: queue.Queue | None = None, name: str = "batcher", max_in_flight: int = 1,
                 urgent: Callable[[T], bool] | None = None, max_bulk_skips: int = 4) -> None:
        self.max_batch_size, self.max_wait_ms = validate(max_batch_size, max_wait_ms)
        if isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) or max_in_flight < 1:
            raise ValueError(f"max_in_flight must be a positive int, got {max_in_flight!r}")
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._pool = ThreadPoolExecutor(max_in_flight, thread_name_prefix=name) if max_in_flight > 1 else None
        self.urgent, self.max_bulk_skips = urgent, max_bulk_skips
        self._skipped: Pending | None = None  # the oldest bulk request passed over, and how often
        self._skips = 0
        self.run_batch, self.group_key, self.length = run_batch, group_key, length
        self.is_error, self.admit, self.on_batch = is_error, admit, on_batch
        self.queue: queue.Queue = q if q is not None else queue.Queue()
        self._buffer: list[Pending] = []
        self._stop = threading.Event()
        self._closed = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.name, self.on_engine = name, 0  # requests in a batch call now (what a shutdown waits for)
        # sizes of the most recent batches (for stats and tests); bounded, a worker runs for weeks
        self.batches: deque[int] = deque(maxlen=RECENT_BATCHES)

    def start(self) -> MicroBatcher[T, R]:
        self._thread.start()
        return self

    def submit(self, request: T) -> Future:
        with self._lock:
            if self._closed:
                raise BatcherClosed("batcher is closed")
            fut: Future = Future()
            self.queue.put(Pending(request, fut))
        return fut

    def close(self, timeout: float | None = None) -> None:
        """Stop accepting work, let the running batch finish, hand everything else back."""
        with self._lock:
            self._closed = True
            running = self.on_engine
        if running:  # a Ctrl-C waits for this: say so, not nothing for seconds
            log.info("%s: finishing the current batch (%d chunks)...", self.name, running)
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=True)  # batches in flight finish, as the one on the engine does
        handed = self._fail_buffered()
        if handed:  # expected at every warm shutdown: one line, not a warning per message
            log.info("%s: handed %d waiting chunks back to the queue; they render after the restart",
                     self.name, handed)

    def _fail_buffered(self) -> int:
        leftovers, self._buffer = self._buffer, []
        while True:
            try:
                leftovers.append(self.queue.get_nowait())
            except queue.Empty:
                break
        for p in leftovers:
            if not p.future.done():
                p.future.set_exception(BatcherClosed("handed back at shutdown"))
        return len(leftovers)

    def _loop(self) -> None:
        while not self._stop.is_set():
            collect(self.queue, self._buffer, self.max_batch_size, self.max_wait_ms, self._stop)
            if self._stop.is_set() or not self._buffer:
                break
            items = self._select()
            if self._pool is None:
                self._flush(items)
                continue
            self._slots.acquire()  # at most max_in_flight batches on the engine
            self._pool.submit(self._flush_and_release, items)

    def _flush_and_release(self, items: list[Pending]) -> None:
        try:
            self._flush(items)
        finally:
            self._slots.release()

    def _select(self) -> list[Pending]:
        oldest = self._buffer[0]
        starved = self._skipped is oldest and self._skips >= self.max_bulk_skips
        chosen = select(self._buffer, self.max_batch_size, self.group_key, self.length,
                        None if starved else self.urgent)
        if any(p is oldest for p in chosen):
            self._skipped, self._skips = None, 0
        else:
            self._skips = self._skips + 1 if self._skipped is oldest else 1
            self._skipped = oldest
        return chosen

    def _flush(self, items: list[Pending]) -> None:
        if self.admit is not None:
            try:
                keep = self.admit([p.request for p in items])
            except Exception:  # noqa: BLE001 - if the check itself fails, render anyway
                keep = set(range(len(items)))
            for i, p in enumerate(items):
                if i not in keep:
                    p.future.set_exception(Dropped("dropped at the batch boundary"))
            items = [p for i, p in enumerate(items) if i in keep]
        if not items:
            return
        started = time.monotonic()
        with self._lock:
            self.on_engine += len(items)
        done, held = 0, None  # results seen so far; the last one waits for the batch's bookkeeping
        try:
            for result in self.run_batch([p.request for p in items]):
                if done >= len(items):
                    raise RuntimeError(f"engine returned more than {len(items)} results")
                if done < len(items) - 1:  # resolved as soon as it exists: a streamed chunk goes out now
                    self._resolve(items[done], result, len(items))
                held, done = result, done + 1
            if done != len(items):
                raise RuntimeError(f"engine returned {done} results for {len(items)} requests")
        except Exception:  # noqa: BLE001 - isolate the culprit: retry the unresolved items one by one
            for p in items:
                if not p.future.done():
                    self._settle_one(p, 1)
            return
        finally:
            with self._lock:
                self.on_engine -= len(items)
        self.batches.append(len(items))
        if self.on_batch:
            self.on_batch(len(items), time.monotonic() - started)
        self._resolve(items[-1], held, len(items))

    def _settle_one(self, p: Pending, size: int) -> None:
        try:
            results = list(self.run_batch([p.request]))
            self.batches.append(1)
            self._resolve(p, results[0], size)
        except Exception as exc:  # noqa: BLE001
            p.future.set_exception(exc)

    def _resolve(self, p: Pending, result: R, size: int) -> None:
        error = self.is_error(result)
        if error:
            p.future.set_exception(ItemFailed(error))
        else:
            p.future.set_result(Outcome(result, size))
