"""`voxfarm up` in trouble (#30): a taken port is named before anything starts; a `kill -9` of `up`
takes its worker and API with it; when ready it says what to do next; a Ctrl-C mid-job says it
finishes the current batch and logs the hand-back as one INFO line, not a warning per message.
And a distributed worker whose engine the API does not serve says so at boot."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest
import requests

from tests.cli.test_cli import _env, voxfarm

from helpers import ROOT, free_port, wait_for


class _Up:
    def __init__(self, tmp, *args: str, **env_extra: str) -> None:
        self.env = {**_env(tmp), **env_extra}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / f"up-{self.port}.log"
        self.proc = subprocess.Popen([sys.executable, "-m", "voxfarm", "up", "--port", str(self.port), *args],
                                     env=self.env, cwd=ROOT, stdout=open(self.log_path, "w"),
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self) -> None:
        wait_for(lambda: "voxfarm is ready at" in self.log() or self.proc.poll() is not None, timeout=180,
                 what="voxfarm up")
        assert self.proc.poll() is None, self.log()[-3000:]

    def children(self) -> list[psutil.Process]:
        return psutil.Process(self.proc.pid).children(recursive=True)

    def kill_all(self) -> None:
        for p in [*self.children(), psutil.Process(self.proc.pid)] if self.proc.poll() is None else []:
            p.kill()


@pytest.fixture
def ups():
    started: list[_Up] = []
    yield started
    for up in started:
        try:
            up.kill_all()
        except psutil.NoSuchProcess:
            pass


def test_a_taken_port_is_named_before_anything_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        proc = voxfarm("up", "--port", str(port), env=_env(tmp_path), timeout=60)
    assert proc.returncode == 1 and time.monotonic() - started < 30
    assert f"port {port} on 127.0.0.1 is in use" in proc.stderr and "--port" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "var").exists()  # nothing was started


def test_kill_9_of_up_takes_its_worker_and_api_with_it(tmp_path, ups):
    up = _Up(tmp_path, "--engine", "espeak", VOXFARM_ENGINES="espeak")
    ups.append(up)
    up.wait_ready()
    log = up.log()
    # what a newcomer does next: the URL, a key, the docs
    assert f"voxfarm is ready at {up.url}" in log and "voxfarm keys create --tenant" in log
    assert f"{up.url}/openapi.json" in log
    children = up.children()
    assert len(children) >= 3, children  # the worker, gunicorn's master and its worker
    up.proc.kill()  # SIGKILL: no handler runs in `up`
    up.proc.wait(timeout=10)
    gone, alive = psutil.wait_procs(children, timeout=60)
    survivors = [" ".join(p.cmdline()) for p in alive]
    for p in alive:  # never leave them behind, even when the guarantee is broken
        p.kill()
    assert not survivors, survivors
    with socket.socket() as s:  # the port is free for the next `voxfarm up`
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", up.port))


def test_ctrl_c_mid_job_finishes_the_batch_and_hands_back_quietly(tmp_path, ups):
    # the tone engine (a test engine) holds each batch of 8 on the engine for 4 s
    up = _Up(tmp_path, "--engine", "tone", VOXFARM_ENGINES="tone", VOXFARM_TONE_BATCH_MS="4000")
    ups.append(up)
    up.wait_ready()
    key = voxfarm("keys", "create", "--tenant", "t", env=up.env).stdout.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {key}"}
    text = "\n\n".join(f"Paragraph {i} has words enough to be a chunk of its own." for i in range(40))
    job = requests.post(f"{up.url}/v1/jobs", json={"text": text}, headers=headers, timeout=30).json()
    assert job["progress"]["total"] >= 20, job
    wait_for(lambda: _on_engine(up, job, headers), timeout=60, what="a batch on the engine")
    time.sleep(1.0)  # the batch window is 20 ms: the first batch is on the engine for 4 s now
    started = time.monotonic()
    up.proc.send_signal(signal.SIGINT)
    up.proc.wait(timeout=90)
    took = time.monotonic() - started
    log = up.log()
    assert up.proc.returncode == 0, log[-3000:]
    assert "voxfarm up: stopping; the worker finishes its current batch" in log
    assert re.search(r"finishing the current batch \(\d+ chunks\)\.\.\.", log), log[-3000:]
    assert len(re.findall(r"INFO .*handed \d+ waiting chunks back to the queue", log)) == 1, log[-3000:]
    assert "rejected" not in log.lower() and "Traceback" not in log and "WARNING celery" not in log, log[-3000:]
    assert took < 40, took


def _on_engine(up: _Up, job: dict, headers: dict) -> bool:
    chunks = requests.get(f"{up.url}/v1/jobs/{job['id']}/chunks", headers=headers, timeout=10).json()["chunks"]
    return any(c["status"] == "running" for c in chunks)


def test_a_worker_whose_engine_the_api_does_not_serve_warns_at_boot(tmp_path):
    env = {**_env(tmp_path), "VOXFARM_ENGINES": "espeak"}
    assert voxfarm("migrate", env=env).returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "voxfarm", "worker", "--engine", "piper"], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first = "".join(proc.stdout.readline() for _ in range(3))
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert "engine piper is not among the engines this farm serves (VOXFARM_ENGINES=espeak)" in first, first
    assert "engine_not_served" in first
