"""The ``voxfarm`` command line: keys, migrate, and the embedded stack driven by submit/status/workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
import soundfile as sf

from helpers import ROOT, free_port, wait_for


def voxfarm(*args: str, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "voxfarm", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def _env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXFARM_")}
    env["VOXFARM_DATA_DIR"] = str(tmp_path / "var")
    env["PYTHONPATH"] = str(ROOT)
    return env


def test_keys_create_list_revoke(tmp_path):
    env = _env(tmp_path)
    assert voxfarm("migrate", env=env).returncode == 0
    created = voxfarm("keys", "create", "--tenant", "acme", env=env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("vf_") and len(key) > 50 and " " not in key  # the key alone on its last line
    prefix = key.split("_")[1]
    listed = voxfarm("keys", "list", env=env).stdout
    assert prefix in listed and "acme" in listed and key not in listed  # never shown again
    assert voxfarm("keys", "revoke", prefix, env=env).returncode == 0
    assert "revoked" in voxfarm("keys", "list", "--tenant", "acme", env=env).stdout
    bad = voxfarm("keys", "create", "--tenant", "Not A Name!", env=env)
    assert bad.returncode != 0 and "tenant names" in bad.stderr
    assert voxfarm("keys", "revoke", "nope", env=env).returncode != 0


def test_embedded_up_submit_status_workers(tmp_path):
    env = _env(tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    stack = subprocess.Popen([sys.executable, "-m", "voxfarm", "up", "--port", str(port), "--data-dir",
                              str(tmp_path / "var")], env=env, cwd=ROOT, stdout=open(tmp_path / "up.log", "w"),
                             stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: _ready(url), timeout=90, what="voxfarm up")
        key = voxfarm("keys", "create", "--tenant", "cli", env=env).stdout.strip().splitlines()[-1]
        out = tmp_path / "hello.wav"
        sub = voxfarm("submit", "Hello from the command line.", "--url", url, "--key", key, "-o", str(out), env=env)
        assert sub.returncode == 0, sub.stderr[-2000:]
        assert sub.stdout.strip().splitlines()[-1] == str(out.resolve())
        duration = sf.info(str(out)).duration
        assert duration > 1.0 and duration < 5.0
        listed = requests.get(f"{url}/v1/jobs", headers={"Authorization": f"Bearer {key}"}).json()["data"]
        status = voxfarm("status", listed[0]["id"], "--url", url, "--key", key, env=env)
        assert json.loads(status.stdout)["status"] == "succeeded"
        workers = voxfarm("workers", env=env).stdout
        # the embedded stack speaks with piper and its bundled voice unless told otherwise
        assert json.loads(status.stdout)["engine"] == "piper"
        assert "engine=piper" in workers and "device=cpu" in workers and "batch=8/20ms" in workers
        failing = voxfarm("submit", "", "--url", url, "--key", key, env=env)
        assert failing.returncode != 0 and "empty_text" in failing.stderr
    finally:
        stack.send_signal(signal.SIGINT)
        try:
            stack.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)
    assert stack.returncode == 0, (tmp_path / "up.log").read_text()[-2000:]
    time.sleep(0.5)
    stopped = voxfarm("workers", "--all", env=env).stdout
    assert "down" in stopped  # the warm shutdown marked the worker stopped


def _ready(url: str) -> bool:
    try:
        return requests.get(f"{url}/readyz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def test_sweep_lists_then_removes_an_orphaned_job_folder(tmp_path):
    from voxfarm.core.db import Database
    from voxfarm.core.ids import new_id
    from voxfarm.core.settings import Settings
    from voxfarm.core.storage import keys, open_store
    from voxfarm.core.tenants.accounts import get_or_create_tenant

    env = _env(tmp_path)
    assert voxfarm("migrate", env=env).returncode == 0
    settings = Settings(data_dir=tmp_path / "var")
    db = Database(settings)
    with db.session() as s:
        tenant = get_or_create_tenant(s, "acme").id
    db.dispose()
    orphan = new_id("job", now_ms=int(time.time() * 1000) - 2 * 3600 * 1000)  # two hours old, no row
    store = open_store(settings)
    store.put_bytes(keys.job_file(tenant, orphan, "source.epub"), b"epub")
    dry = voxfarm("sweep", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert f"would remove job {orphan}" in dry.stdout and store.exists(keys.job_file(tenant, orphan, "source.epub"))
    done = voxfarm("sweep", env=env)
    assert f"removed job {orphan}" in done.stdout and "objects_removed=1" in done.stdout
    assert not store.exists(keys.job_file(tenant, orphan, "source.epub"))
