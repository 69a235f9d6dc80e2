"""``voxfarm batch`` against a real farm (API + a ``sim`` worker + a control worker).

Every file is checked against the database's result sha256 and by decoding it; a rerun's
downloads are counted from the files themselves (inode and mtime unchanged), not from the CLI's
own summary.  An invalid prompt refuses the whole batch: no job row is created.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import soundfile as sf
from sqlalchemy import func, select

from voxfarm.core.db import Database
from voxfarm.core.models import Job, WebhookEvent
from voxfarm.core.settings import BatchSettings

from helpers import ROOT, create_key, settings_env, start_api, start_worker

ENV = {"sim_batch_cost_s": "[0.02, 0.002]", "quality_gate": "false"}


@pytest.fixture
def farm(prod_settings, tmp_path):
    settings = prod_settings.model_copy(update={
        "engines": ["sim"], "default_engine": "sim", "quality_gate": False, "sim_batch_cost_s": (0.02, 0.002),
        "batch": {"sim": BatchSettings(max_batch_size=16, max_wait_ms=20)}})
    api, url = start_api(settings, tmp_path, **ENV)
    worker = start_worker(settings, tmp_path, engine="sim", name="sim", concurrency=16, **ENV)
    control = start_worker(settings, tmp_path, engine=None, name="control", queues="control", concurrency=4, **ENV)
    try:
        yield settings, url, create_key(settings, "bulk")
    finally:
        worker.stop()
        control.stop()
        api.stop()


def _run(settings, url, key, config: Path) -> subprocess.CompletedProcess:
    env = settings_env(settings)
    return subprocess.run([sys.executable, "-m", "voxfarm", "batch", str(config), "--url", url, "--key", key,
                           "--poll", "0.3"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)


def _jobs(settings) -> dict[str, str]:
    db = Database(settings)
    with db.session() as s:
        rows = {j.id: j.result_sha256 for j in s.scalars(select(Job))}
    db.dispose()
    return rows


def _snapshot(out: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.iterdir()}


def _check(settings, out: Path, names: list[str], prompts: list[str]) -> None:
    shas = _jobs(settings)
    for name, prompt in zip(names, prompts, strict=True):
        audio = out / f"{name}.wav"
        meta = json.loads((out / f"{name}.json").read_text())
        assert meta["prompt"] == prompt and meta["file"] == audio.name
        digest = hashlib.sha256(audio.read_bytes()).hexdigest()
        assert shas[meta["job_id"]] == digest  # what the farm stored is what is on disk
        assert sf.info(str(audio)).duration > 0


def test_inline_config_then_a_rerun_downloads_nothing(farm, tmp_path):
    settings, url, key = farm
    prompts = ["Hello from the farm.", "A second sample, slower.", "Third and last."]
    config = tmp_path / "gen.json"
    config.write_text(json.dumps({
        "generation": {"engine": "sim", "seed": -1},
        "input": {"type": "config", "samples": [{"prompt": p} for p in prompts]},
        "output": {"output_dir": "renders", "file_format": "wav", "file_naming": "prompt", "save_metadata": True}}))
    first = _run(settings, url, key, config)
    assert first.returncode == 0, first.stderr[-3000:]
    out = tmp_path / "renders"
    names = ["0000_hello_from_the_farm", "0001_a_second_sample_slower", "0002_third_and_last"]
    _check(settings, out, names, prompts)
    seeds = {json.loads((out / f"{n}.json").read_text())["seed"] for n in names}
    assert len(seeds) == 1 and seeds.pop() >= 0  # -1 picked one seed, recorded in every sidecar
    before, jobs = _snapshot(out), len(_jobs(settings))
    again = _run(settings, url, key, config)
    assert again.returncode == 0, again.stderr[-3000:]
    assert _snapshot(out) == before and len(_jobs(settings)) == jobs  # nothing downloaded, nothing resubmitted
    (out / f"{names[1]}.wav").write_bytes(b"corrupt")
    assert _run(settings, url, key, config).returncode == 0
    _check(settings, out, names, prompts)  # a damaged file is fetched again


def test_prompts_file_of_200_lines(farm, tmp_path):
    settings, url, key = farm
    # a tenant endpoint, so batch.completed events get recorded (nothing consumes the webhooks queue)
    assert requests.put(f"{url}/v1/webhooks/endpoint", json={"url": "http://127.0.0.1:9/hook"},
                        headers={"Authorization": f"Bearer {key}"}).status_code == 200
    prompts = [f"Line {i} of the dubbing script." for i in range(200)]
    (tmp_path / "script.txt").write_text("\n".join(prompts) + "\n")
    config = tmp_path / "gen.json"
    config.write_text(json.dumps({
        "generation": {"engine": "sim", "seed": 3}, "input": {"type": "file", "prompts_file": "script.txt"},
        "output": {"output_dir": str(tmp_path / "out"), "file_format": "wav", "file_naming": "index"}}))
    result = _run(settings, url, key, config)
    assert result.returncode == 0, result.stderr[-3000:]
    _check(settings, tmp_path / "out", [f"{i:04d}" for i in range(200)], prompts)
    assert len(_jobs(settings)) == 200
    batch_id = json.loads((tmp_path / "out" / ".voxfarm-batch.json").read_text())["batch_id"]
    state = requests.get(f"{url}/v1/batches/{batch_id}", headers={"Authorization": f"Bearer {key}"}).json()
    assert state["status"] == "completed" and state["counts"]["succeeded"] == 200
    db = Database(settings)
    with db.session() as s:  # 16 render threads and 4 finalizers raced to end the last jobs: one event
        assert s.scalar(select(func.count()).select_from(WebhookEvent)
                        .where(WebhookEvent.type == "batch.completed", WebhookEvent.job_id == batch_id)) == 1
    db.dispose()
    before = _snapshot(tmp_path / "out")
    assert _run(settings, url, key, config).returncode == 0
    assert _snapshot(tmp_path / "out") == before


def test_an_invalid_item_refuses_the_batch_and_creates_nothing(farm, tmp_path):
    settings, url, key = farm
    config = tmp_path / "gen.json"
    config.write_text(json.dumps({
        "generation": {"engine": "sim"},
        "input": {"type": "config", "samples": [{"prompt": "Fine."}, {"prompt": "Bad.", "params": {"speed": 2}}]},
        "output": {"output_dir": "o"}}))
    result = _run(settings, url, key, config)
    assert result.returncode != 0 and "item 1" in result.stderr and "unsupported_param" in result.stderr
    assert _jobs(settings) == {}
