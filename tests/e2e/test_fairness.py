"""Fair dispatch through a real worker: a tenant's deep backlog delays another tenant's few lines
by at most a window of chunks, and a tenant's high-priority job overtakes its own bulk.

The bound is computed from the settings (window + the worker's threads + one batch), and the
order is read from the chunk records' ``finished_at``; with holding off (``dispatch_window=0``)
the same scenario puts the newcomer behind the whole backlog, which the last test shows.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from voxfarm.core.settings import BatchSettings

from helpers import ApiClient, create_key, start_api, start_worker, wait_for

BATCH, THREADS, WINDOW = 4, 8, 16
BACKLOG = " ".join(f"Backlog sentence number {i} carries ordinary words for the farm." for i in range(400))


def _t(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _finished(client, job_id) -> list[datetime]:
    return [_t(c["finished_at"]) for c in client.get(f"/v1/jobs/{job_id}/chunks").json()["chunks"]]


def _run(prod_settings, tmp_path, window: int):
    settings = prod_settings.model_copy(update={
        "engines": ["sim"], "default_engine": "sim", "quality_gate": False, "dispatch_window": window,
        "sim_batch_cost_s": (0.05, 0.01), "batch": {"sim": BatchSettings(max_batch_size=BATCH, max_wait_ms=20)}})
    env = {"dispatch_window": window, "sim_batch_cost_s": "[0.05, 0.01]", "quality_gate": "false"}
    api, url = start_api(settings, tmp_path, **env)
    bulk, small = ApiClient(url, create_key(settings, "bulk")), ApiClient(url, create_key(settings, "small"))
    worker = start_worker(settings, tmp_path, engine="sim", name="fair", concurrency=THREADS, **env)
    control = start_worker(settings, tmp_path, engine=None, name="control", queues="control", **env)
    try:
        big = bulk.post("/v1/jobs", json={"text": BACKLOG, "engine": "sim", "priority": -10}).json()
        assert big["progress"]["total"] >= 100, big
        # the backlog is rendering before the others arrive
        wait_for(lambda: bulk.get(f"/v1/jobs/{big['id']}").json()["progress"]["done"] >= 10, timeout=120,
                 what="backlog rendering")
        lines = [small.post("/v1/jobs", json={"text": f"Small tenant line {i}.", "engine": "sim"}).json()["id"]
                 for i in range(10)]
        urgent = bulk.post("/v1/jobs", json={"text": "Urgent words. " * 20, "engine": "sim", "priority": 50}).json()
        done_small = [small.wait(j, timeout=600) for j in lines]
        bulk.wait(urgent["id"], timeout=600)
        bulk.wait(big["id"], timeout=900)
        backlog_done = _finished(bulk, big["id"])
        urgent_last = max(_finished(bulk, urgent["id"]))
    finally:
        worker.stop()
        control.stop()
        api.stop()
    assert all(j["status"] == "succeeded" for j in done_small)
    small_first = min(_t(j["created_at"]) for j in done_small)
    small_last = max(_t(j["render"]["finished_at"]) for j in done_small)
    # the backlog chunks that finished while the newcomer was waiting
    overtook = [t for t in backlog_done if small_first < t <= small_last]
    return backlog_done, overtook, small_first, urgent_last


def test_a_deep_backlog_delays_another_tenant_by_at_most_a_window(prod_settings, tmp_path):
    backlog_done, overtook, small_first, urgent_last = _run(prod_settings, tmp_path, WINDOW)
    # the backlog's window (in the broker or held by the worker's threads), the chunks the worker's
    # threads had already taken when the first line arrived, and the batch the last line shares with
    # backlog chunks (they finish at the same instant).  Without holding it is ~all 380 (last test).
    bound = WINDOW + THREADS + BATCH
    assert len(overtook) <= bound, (len(overtook), bound, len(backlog_done))
    # the same tenant's priority-50 job went ahead of its own priority -10 backlog
    assert sum(small_first < t <= urgent_last for t in backlog_done) <= bound + 10, len(backlog_done)


@pytest.mark.slow
def test_without_holding_the_newcomer_waits_behind_the_backlog(prod_settings, tmp_path):
    backlog_done, overtook, small_first, _ = _run(prod_settings, tmp_path, 0)
    waiting = [t for t in backlog_done if t > small_first]  # backlog still owed when the newcomer came
    assert len(overtook) > 0.9 * len(waiting)
