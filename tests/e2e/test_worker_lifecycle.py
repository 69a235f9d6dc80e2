"""Issue 4 section 5 and issue 3 cancel semantics, with a real Dia worker process.

* Warm shutdown (SIGTERM) lets the batch on the engine finish and hands the buffered requests
  back to the broker without charging them an attempt.
* Canceling a running job ends it ``canceled`` at once; the batch it was in finishes, and its
  result is dropped at the batch boundary (nothing stored, nothing reported).
"""

from __future__ import annotations

import re
import signal
import time

import pytest

from voxfarm.core.settings import BatchSettings

from helpers import ApiClient, create_key, start_api, start_worker, wait_for

LONG = {"max_new_tokens": 500}  # ~3 s per batch of 4 on two CPU cores with the tiny model


@pytest.fixture
def farm(prod_settings, tiny_dia, tmp_path):
    settings = prod_settings.model_copy(update={
        "engines": ["espeak", "dia"], "dia_model": str(tiny_dia), "quality_gate": False,
        "batch": {"dia": BatchSettings(max_batch_size=4, max_wait_ms=200)}})
    env = {"dia_model": str(tiny_dia), "quality_gate": "false"}
    api, url = start_api(settings, tmp_path, **env)
    return settings, env, ApiClient(url, create_key(settings, "acme"))


def _submit(client, n, params=LONG):
    return [client.post("/v1/jobs", json={"text": f"Line {i} of the shutdown test.", "engine": "dia",
                                          "params": {**params, "seed": i}}).json()["id"] for i in range(n)]


def test_warm_shutdown_finishes_the_batch_and_hands_back_the_rest(farm, tmp_path):
    settings, env, client = farm
    ids = _submit(client, 12)
    worker = start_worker(settings, tmp_path, engine="dia", name="dia-w", concurrency=12, **env)
    # 12 claimed: 4 on the engine, 8 buffered in the batcher
    wait_for(lambda: sum(client.get(f"/v1/jobs/{j}").json()["status"] == "running" for j in ids) >= 12,
             timeout=120, interval=0.1, what="every job claimed")
    worker.popen.send_signal(signal.SIGTERM)
    t0 = time.monotonic()
    worker.popen.wait(timeout=120)
    stopped_in = time.monotonic() - t0
    jobs = [client.get(f"/v1/jobs/{j}").json() for j in ids]
    finished = [j for j in jobs if j["status"] == "succeeded"]
    assert len(finished) >= 1 and len(finished) <= 8, [j["status"] for j in jobs]  # the batch in flight completed
    assert all(j["render"]["batch_size"] >= 1 for j in finished)
    # the hand-back is one INFO line (worker/batcher.py), not a Celery warning with a traceback per message
    assert re.search(r"INFO .*handed \d+ waiting chunks back to the queue", worker.log()) or len(finished) == 12
    assert "Reject" not in worker.log() and "rejected" not in worker.log()
    handed_back = [j for j in jobs if j["status"] != "succeeded"]
    assert handed_back and all(j["status"] in ("queued", "running") for j in handed_back)
    restarted = start_worker(settings, tmp_path, engine="dia", name="dia-w", concurrency=12, **env)
    done = [client.wait(j, timeout=300) for j in ids]
    restarted.stop()
    assert [j["status"] for j in done] == ["succeeded"] * 12
    # handing back cost nothing: every job rendered on its first counted attempt
    assert {j["render"]["attempts"] for j in done} == {1}
    assert stopped_in < 60


def test_cancel_a_running_job_drops_its_result_at_the_batch_boundary(farm, tmp_path):
    settings, env, client = farm
    [victim, *others] = _submit(client, 4)
    worker = start_worker(settings, tmp_path, engine="dia", name="dia-c", concurrency=8, **env)
    wait_for(lambda: client.get(f"/v1/jobs/{victim}").json()["status"] == "running", timeout=120,
             interval=0.05, what="the victim running")
    canceled = client.post(f"/v1/jobs/{victim}/cancel")
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    done = [client.wait(j, timeout=300) for j in others]
    assert [j["status"] for j in done] == ["succeeded"] * 3  # its batch-mates were not harmed
    time.sleep(1)
    job = client.get(f"/v1/jobs/{victim}").json()
    worker.stop()
    assert job["status"] == "canceled" and job["result"] is None
    assert client.get(f"/v1/jobs/{victim}/audio").json()["error"]["code"] == "result_not_ready"
    assert client.post(f"/v1/jobs/{others[0]}/cancel").status_code == 409  # already succeeded
