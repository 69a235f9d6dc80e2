"""The micro-batcher on its own: a plain queue.Queue, no broker, no engine."""

from __future__ import annotations

import queue
import threading
import time

import pytest

from voxfarm.worker.batcher import (
    BatcherClosed,
    Dropped,
    ItemFailed,
    MicroBatcher,
    Pending,
    collect,
    select,
    validate,
)


def echo(items):
    time.sleep(0.02)
    return [i * 10 for i in items]


@pytest.mark.parametrize("size,wait", [(0, 5), (-1, 5), (2.5, 5), (True, 5), (4, -1), (4, float("nan")),
                                       (4, float("inf")), ("8", 5)])
def test_settings_are_validated(size, wait):
    with pytest.raises(ValueError):
        validate(size, wait)


def test_forty_queued_requests_make_five_batches_of_eight():
    batcher = MicroBatcher(echo, max_batch_size=8, max_wait_ms=50)
    futures = [batcher.submit(i) for i in range(40)]  # queued before the loop starts
    batcher.start()
    results = [f.result(5) for f in futures]
    batcher.close()
    assert list(batcher.batches) == [8, 8, 8, 8, 8]
    assert [r.result for r in results] == [i * 10 for i in range(40)]
    assert {r.batch_size for r in results} == {8}


def test_a_lone_request_waits_at_most_max_wait():
    batcher = MicroBatcher(echo, max_batch_size=8, max_wait_ms=30).start()
    t0 = time.monotonic()
    assert batcher.submit(1).result(2).batch_size == 1
    assert time.monotonic() - t0 < 0.5
    batcher.close()


def test_collect_fills_from_a_plain_queue():
    q: queue.Queue = queue.Queue()
    for i in range(3):
        q.put(Pending(i, None))
    buffer: list = []
    collect(q, buffer, max_batch_size=8, max_wait_ms=20, stop=threading.Event())
    assert [p.request for p in buffer] == [0, 1, 2]


def test_select_keeps_the_oldest_and_groups_by_key_and_length():
    buffer = [Pending(r, None, arrived=i) for i, r in
              enumerate([("a", 50), ("b", 10), ("a", 48), ("a", 5), ("a", 52), ("a", 200)])]
    chosen = select(buffer, 3, group_key=lambda r: r[0], length=lambda r: r[1])
    assert [p.request for p in chosen] == [("a", 48), ("a", 50), ("a", 52)]  # oldest + nearest lengths
    assert [p.request for p in buffer] == [("b", 10), ("a", 5), ("a", 200)]  # the rest waits


def test_incompatible_requests_never_share_a_batch():
    seen = []

    def run(items):
        seen.append({k for k, _ in items})
        return list(items)

    batcher = MicroBatcher(run, max_batch_size=8, max_wait_ms=20, group_key=lambda r: r[0])
    futures = [batcher.submit((k, i)) for i in range(6) for k in ("x", "y")]
    batcher.start()
    for f in futures:
        f.result(5)
    batcher.close()
    assert all(len(group) == 1 for group in seen)


def test_one_poisonous_item_fails_alone():
    def run(items):
        if "bad" in items:
            raise RuntimeError("engine crashed on this batch")
        return [f"ok:{i}" for i in items]

    batcher = MicroBatcher(run, max_batch_size=4, max_wait_ms=20)
    futures = [batcher.submit(x) for x in ["a", "bad", "c", "d"]]
    batcher.start()
    assert [futures[i].result(5).result for i in (0, 2, 3)] == ["ok:a", "ok:c", "ok:d"]
    with pytest.raises(RuntimeError):
        futures[1].result(5)
    batcher.close()


def test_item_level_errors_reach_only_their_caller():
    batcher = MicroBatcher(lambda items: [("err" if i == 2 else None, i) for i in items], max_batch_size=4,
                           max_wait_ms=10, is_error=lambda r: r[0])
    futures = [batcher.submit(i) for i in range(4)]
    batcher.start()
    with pytest.raises(ItemFailed):
        futures[2].result(5)
    assert futures[3].result(5).result == (None, 3)
    batcher.close()


def test_admit_drops_items_at_the_batch_boundary():
    batcher = MicroBatcher(lambda items: list(items), max_batch_size=4, max_wait_ms=10,
                           admit=lambda items: {i for i, x in enumerate(items) if x != "canceled"})
    futures = [batcher.submit(x) for x in ["a", "canceled", "b"]]
    batcher.start()
    with pytest.raises(Dropped):
        futures[1].result(5)
    assert futures[2].result(5).batch_size == 2
    batcher.close()


def test_close_finishes_the_running_batch_and_hands_back_the_rest():
    started = threading.Event()

    def slow(items):
        started.set()
        time.sleep(0.3)
        return list(items)

    batcher = MicroBatcher(slow, max_batch_size=2, max_wait_ms=500).start()
    # the wait lets both running items form one batch (with 0 a loaded box can start item 0 alone)
    running = [batcher.submit(i) for i in range(2)]
    started.wait(2)
    waiting = [batcher.submit(i) for i in range(2, 6)]
    batcher.close(timeout=5)
    assert [f.result(1).result for f in running] == [0, 1]  # in flight: finished
    for f in waiting:
        with pytest.raises(BatcherClosed):
            f.result(1)
    with pytest.raises(BatcherClosed):
        batcher.submit(99)


def test_with_two_in_flight_the_next_batch_reaches_the_engine_before_the_first_ends():
    """max_in_flight=2 (a step-level engine): batch 2 starts while batch 1 is still running; with the
    default of 1 it could not (batch 1 waits for batch 2's start and gives up after 10 s)."""
    started, overlapped = threading.Event(), []

    def engine(items):
        if 0 in items:  # batch 1: hold the engine until batch 2 has reached it
            overlapped.append(started.wait(10))
        else:
            started.set()
        return [i * 10 for i in items]

    with pytest.raises(ValueError):
        MicroBatcher(engine, max_batch_size=2, max_wait_ms=0, max_in_flight=0)
    batcher = MicroBatcher(engine, max_batch_size=2, max_wait_ms=0, max_in_flight=2)
    futures = [batcher.submit(i) for i in range(4)]
    batcher.start()
    assert [f.result(20).result for f in futures] == [0, 10, 20, 30]
    batcher.close()
    assert overlapped == [True] and sorted(batcher.batches) == [2, 2]


def test_select_leads_with_urgent_requests_then_fills_with_bulk():
    buffer = [Pending(r, None, arrived=i) for i, r in
              enumerate([("bulk", 1), ("bulk", 2), ("urgent", 3), ("bulk", 4), ("urgent", 5)])]
    chosen = select(buffer, 3, group_key=lambda r: None, length=lambda r: 0,
                    urgent=lambda r: r[0] == "urgent")
    assert sorted(p.request[1] for p in chosen) == [1, 3, 5]  # both urgent ones, then the oldest bulk
    assert [p.request[1] for p in buffer] == [2, 4]


def test_urgent_requests_overtake_a_bulk_backlog_without_starving_it():
    """12 bulk requests are waiting when 8 urgent ones arrive (a worker holds 2 x batch size
    messages, within the batcher's look-ahead): the urgent ones run first, yet the oldest bulk
    request is anchored once it has been passed over ``max_bulk_skips`` times."""
    batches = []

    def run(items):
        batches.append(list(items))
        return list(items)

    batcher = MicroBatcher(run, max_batch_size=4, max_wait_ms=0, urgent=lambda r: r.startswith("u"),
                           max_bulk_skips=1)
    bulk = [batcher.submit(f"b{i}") for i in range(12)]
    urgent = [batcher.submit(f"u{i}") for i in range(8)]
    batcher.start()
    for f in bulk + urgent:
        f.result(5)
    batcher.close()
    order = [r for batch in batches for r in batch]
    assert max(order.index(f"u{i}") for i in range(8)) < 12, order  # FIFO: positions 12-19
    assert all(r.startswith("u") for r in batches[0])
    # b0 leads the second batch although urgent requests were still waiting: bulk is not starved
    assert "b0" in batches[1] and any(r.startswith("u") for r in batches[2])
    assert sorted(order) == sorted(f"b{i}" for i in range(12)) + sorted(f"u{i}" for i in range(8))
