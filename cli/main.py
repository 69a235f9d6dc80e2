"""``voxfarm``: run the farm (up, api, worker), administer it (migrate, keys, workers,
reconcile, sweep) and use it (submit, status, book, voices).

Every command builds one Settings object from the environment plus its flags and passes it on.
The run commands import their subsystem inside the command, not to dodge a cycle: an API-only
install has no worker libraries (onnxruntime, torch), a worker-only one no gunicorn, and
``voxfarm submit`` or ``--help`` need neither.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile

import click

from voxfarm.cli import admin, client, jobs, tenants, usage
from voxfarm.cli.batch import batch as batch_command
from voxfarm.cli.models import models
from voxfarm.cli.up import EXIT_BOOT_FAILED, up
from voxfarm.core.settings import load_settings
from voxfarm.core.state.outbox import CONTROL_QUEUE, WEBHOOK_QUEUE


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def main(verbose: bool) -> None:
    """voxfarm: a voice render farm."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command()
@admin.data_dir_option
def migrate(data_dir: str | None) -> None:
    """Apply database migrations (creates the embedded database if needed)."""
    from voxfarm.core.migrate import database_label, upgrade

    settings = load_settings(data_dir=data_dir)
    upgrade(settings)
    click.echo(f"database at head: {database_label(settings)}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn worker processes")
@click.option("--threads", default=8, show_default=True, type=int)
def api(host: str, port: int, workers: int, threads: int) -> None:
    """Serve the intake API under gunicorn."""
    # Several gunicorn processes answer /metrics in turn: each must report every process's counts,
    # so prometheus_client's multiprocess mode is on (it must be set before the library loads).
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="voxfarm-metrics-")
    from gunicorn.app.base import BaseApplication
    from prometheus_client import multiprocess

    from voxfarm.api.app import create_app

    class _App(BaseApplication):
        def load_config(self):
            for key, value in {"bind": f"{host}:{port}", "workers": workers, "threads": threads,
                               "worker_class": "gthread", "timeout": 120, "graceful_timeout": 20,
                               "accesslog": "-", "loglevel": "info",
                               "child_exit": lambda _server, w: multiprocess.mark_process_dead(w.pid)}.items():
                self.cfg.set(key, value)

        def load(self):
            return create_app()

    _App().run()


@main.command()
@click.option("--engine", default=None, help="Engine this worker pins (omit for a control-only worker).")
@click.option("--queues", default=None,
              help="Comma-separated queues (default: tts.<engine>.interactive,tts.<engine>).")
@click.option("--concurrency", default=None, type=int, help="Threads (default 2 x max batch size).")
@click.option("--beat", is_flag=True, help="Also run the periodic reconciler (one per farm).")
@click.option("--name", default=None, help="Stable worker name: a restart reclaims its own leases.")
def worker(engine: str | None, queues: str | None, concurrency: int | None, beat: bool, name: str | None) -> None:
    """Run a Celery worker that pins one engine and micro-batches its queue."""
    from voxfarm.core.engines.registry import ENGINES, served_engines
    from voxfarm.core.jobs.lanes import engine_queues
    from voxfarm.worker.app import app, boot, configure

    settings = load_settings()
    if engine and engine not in ENGINES:
        raise click.BadParameter(f"unknown engine {engine!r}", param_hint="--engine")
    if engine and engine not in served_engines(settings):  # it would report ready and never get a job
        logging.getLogger("voxfarm.worker").warning(
            "engine %s is not among the engines this farm serves (VOXFARM_ENGINES=%s): the API refuses %s jobs "
            "(engine_not_served) until its VOXFARM_ENGINES lists %s; /readyz warns while this worker is up",
            engine, ",".join(settings.engines), engine, engine)
    queue_list = queues.split(",") if queues else (engine_queues(engine) if engine else [CONTROL_QUEUE, WEBHOOK_QUEUE])
    if concurrency is None:
        concurrency = 2 * ENGINES[engine].batch(settings).max_batch_size if engine else 4
    name = name or settings.worker_name or f"{engine or 'control'}@{os.uname().nodename}"
    rt = configure(settings, engine, queues=queue_list, concurrency=concurrency, name=name, beat=beat)
    try:  # before Celery starts: a worker that cannot serve never takes a message
        boot()
    except Exception as exc:  # noqa: BLE001 - any reason is fatal here; say it and exit non-zero
        logging.getLogger("voxfarm.worker").critical("worker boot failed: %s cannot start: %s: %s", name,
                                                     type(exc).__name__, exc, exc_info=True)
        click.echo(f"voxfarm worker {name}: cannot start ({'engine ' + engine if engine else 'control'}): "
                   f"{type(exc).__name__}: {exc}", err=True)
        rt.begin_shutdown()
        rt.stop()
        sys.exit(EXIT_BOOT_FAILED)
    argv = ["worker", "-P", "threads", "-c", str(concurrency), "-Q", ",".join(queue_list), "-n", name,
            "--without-mingle", "--without-gossip", "--loglevel", "INFO"]
    if beat:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        argv += ["-B", "-s", str(settings.data_dir.resolve() / "celerybeat-schedule")]
    app.worker_main(argv)


@main.command()
@admin.data_dir_option
def reconcile(data_dir: str | None) -> None:
    """Run one reconciler pass now (re-send lost work, relay the outbox)."""
    from voxfarm.celery_config import CeleryPublisher, make_celery
    from voxfarm.core.db import Database
    from voxfarm.core.upkeep.reconcile import reconcile as run

    settings = admin.admin_settings(data_dir)
    publisher = CeleryPublisher(make_celery(settings))
    report = run(Database(settings), publisher, settings, publisher.queue_depth)
    click.echo(" ".join(f"{k}={v}" for k, v in report.as_dict().items()))


@main.command()
@click.option("--dry-run", is_flag=True, help="Only list the folders that would be removed.")
@click.option("--grace", default=None, type=float, help="Skip ids younger than this many seconds (settings).")
@admin.data_dir_option
def sweep(dry_run: bool, grace: float | None, data_dir: str | None) -> None:
    """Remove job and voice objects that no database row points to (left by a crash)."""
    from voxfarm.core.db import Database
    from voxfarm.core.storage import open_store
    from voxfarm.core.upkeep.sweep import sweep_orphans

    settings = admin.admin_settings(data_dir)
    report = sweep_orphans(Database(settings), open_store(settings), dry_run=dry_run,
                           grace_s=settings.sweep_grace_s if grace is None else grace)
    for job_id in report.removed_jobs:
        click.echo(f"{'would remove' if dry_run else 'removed'} job {job_id}")
    for voice_id in report.removed_voices:
        click.echo(f"{'would remove' if dry_run else 'removed'} voice {voice_id}")
    click.echo(f"examined={report.examined} too_young={report.too_young} objects_removed={report.objects_removed}")


main.add_command(admin.keys)
main.add_command(tenants.tenants)
main.add_command(admin.workers)
main.add_command(batch_command)
main.add_command(jobs.submit)
main.add_command(jobs.status)
main.add_command(jobs.download)
main.add_command(jobs.cancel)
main.add_command(jobs.book)
main.add_command(client.voices)
main.add_command(up)
main.add_command(usage.usage)
main.add_command(models)


if __name__ == "__main__":
    main()
