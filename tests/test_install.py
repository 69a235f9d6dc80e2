"""The documented installs run the farm: each extra set goes into a clean venv (no test extras,
normal dependency resolution, a copy of the checkout so no in-tree build state helps), and
the venv's own ``voxfarm`` runs the API and an espeak worker against Redis.

This is what a new user does (``pip install '.[api,worker]'``); a dependency that only the
test extras or the development venv happen to provide (kombu's Redis transport needs
``packaging``, declared by ``celery[redis]``) makes these tests fail.  pip's wheel cache makes
a venv about 20 s after the first one; each is built once per session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import soundfile as sf

from helpers import ROOT, free_port, wait_for

# the installs the README documents: everything on one host, and the API and worker hosts apart
EXTRA_SETS = ("api,worker", "api", "worker")
_SKIP_IN_COPY = shutil.ignore_patterns(".git", ".venv", "var", "out", "build", "dist", "*.egg-info",
                                       "__pycache__", "tests", "bench", "models", ".device", ".whl")


@pytest.fixture(scope="session")
def source_copy(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("src") / "voxfarm"
    shutil.copytree(ROOT, dest, ignore=_SKIP_IN_COPY)
    return dest


@pytest.fixture(scope="session")
def venvs(tmp_path_factory, source_copy):
    """extras -> a venv with ``pip install '<checkout>[extras]'``, built on first use."""
    built: dict[str, Path] = {}

    def get(extras: str) -> Path:
        if extras not in built:
            venv = tmp_path_factory.mktemp("venv-" + extras.replace(",", "-"))
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                                  f"{source_copy}[{extras}]"], capture_output=True, text=True)
            assert pip.returncode == 0, pip.stderr[-3000:]
            built[extras] = venv
        return built[extras]

    return get


def _env(data_dir: Path, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VOXFARM_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(VOXFARM_DATA_DIR=str(data_dir), VOXFARM_BROKER_URL=redis_url, PYTHONUNBUFFERED="1")
    return env


def _run(venv: Path, *args: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / "voxfarm"), *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120)


class _Started:
    def __init__(self, venv: Path, args: list[str], env: dict, cwd: Path, log: Path) -> None:
        self.log_path = log
        self._fh = open(log, "wb")
        self.popen = subprocess.Popen([str(venv / "bin" / "voxfarm"), *args], env=env, cwd=cwd,
                                      stdout=self._fh, stderr=subprocess.STDOUT, start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, 9)
        self.popen.wait(timeout=30)
        self._fh.close()


def _farm_renders(api_venv: Path, worker_venv: Path, tmp_path: Path, redis_url: str) -> None:
    """Migrate, start a worker and the API from the given venvs (cwd outside the checkout, so
    nothing is imported from it), and render one job with espeak."""
    env = _env(tmp_path / "var", redis_url)
    migrated = _run(api_venv, "migrate", env=env, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env["VOXFARM_PUBLIC_URL"] = url
    procs = []
    try:
        worker = _Started(worker_venv, ["worker", "--engine", "espeak", "--queues", "tts.espeak,control,webhooks"],
                          env, tmp_path, tmp_path / "worker.log")
        procs.append(worker)
        wait_for(lambda: " ready." in worker.log() or worker.popen.poll() is not None, timeout=120,
                 what="worker")
        assert worker.popen.poll() is None, worker.log()[-3000:]
        api = _Started(api_venv, ["api", "--port", str(port), "--workers", "1"], env, tmp_path,
                       tmp_path / "api.log")
        procs.append(api)

        def ready():
            if api.popen.poll() is not None:
                return True
            try:
                return requests.get(f"{url}/readyz", timeout=2)
            except requests.RequestException:
                return None

        resp = wait_for(ready, timeout=60, what="api")
        assert resp is not True, api.log()[-3000:]
        assert resp.status_code == 200, (resp.text, api.log()[-3000:])
        assert resp.json()["checks"]["broker"] == "ok"
        created = _run(api_venv, "keys", "create", "--tenant", "install", env=env, cwd=tmp_path)
        assert created.returncode == 0, created.stderr[-3000:]
        headers = {"Authorization": f"Bearer {created.stdout.strip().splitlines()[-1]}"}
        job = requests.post(f"{url}/v1/jobs", json={"text": "A clean install renders this sentence."},
                            headers=headers, timeout=30).json()

        def finished():
            body = requests.get(f"{url}/v1/jobs/{job['id']}", headers=headers, timeout=10).json()
            return body if body["status"] in ("succeeded", "failed", "canceled") else None

        done = wait_for(finished, timeout=120, interval=0.3, what="job")
        assert done["status"] == "succeeded", (done, worker.log()[-3000:])
        audio = requests.get(f"{url}/v1/jobs/{job['id']}/audio", headers=headers, timeout=30)
        (tmp_path / "out.wav").write_bytes(audio.content)
        info = sf.info(str(tmp_path / "out.wav"))
        assert info.samplerate == 22_050 and 1.0 < info.duration < 6.0
    finally:
        for proc in procs:
            proc.stop()


def test_api_and_worker_extras_run_distributed_mode(venvs, tmp_path, redis_url):
    if redis_url is None:
        pytest.skip("needs Redis (fails instead under CI=true)")
    venv = venvs("api,worker")
    _farm_renders(venv, venv, tmp_path, redis_url)


def test_api_host_and_worker_host_installs_apart(venvs, tmp_path, redis_url):
    if redis_url is None:
        pytest.skip("needs Redis (fails instead under CI=true)")
    api_venv, worker_venv = venvs("api"), venvs("worker")
    # what each host must not carry: the API has no engine library, the worker host no web stack
    assert not list((api_venv / "lib").glob("python3*/site-packages/espeakng_loader"))
    assert not list((worker_venv / "lib").glob("python3*/site-packages/flask"))
    _farm_renders(api_venv, worker_venv, tmp_path, redis_url)
