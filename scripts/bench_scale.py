"""Scale-out: throughput with 1, 2, 4 and 8 workers on one engine queue, in one run.

    python scripts/bench_scale.py [--workers 1,2,4,8] [--reps 3] [--seconds 25] [--cost 1.0,0.05]

Each worker is a real ``voxfarm worker --engine sim`` process (Celery threads pool, micro-batcher,
leases, heartbeats) over Redis and PostgreSQL with local-disk storage.  The ``sim`` engine sleeps
a modelled batch cost ``a + b*B`` instead of computing, so eight "GPU workers" fit on this 2-core
machine and the figure measures the farm around the model: claims, uploads, completions, the
broker.  The workload grows with the worker count (weak scaling: about ``--seconds`` of ideal
work per worker), every job one chunk, all queued before the clock starts.

Throughput is chunks / (last finished_at - first started_at), both recorded by the farm;
efficiency at N workers is throughput(N) / (N * throughput(1)), medians over ``--reps``.  The
machine's CPU use during each run is sampled (psutil) to name what limits the scaling.
Writes bench/scale.{json,md}.  Workers use 4 + 4 PostgreSQL connections each (8 x 30 would pass
PostgreSQL's default max_connections of 100), and a control worker runs the reconciler.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.bench_e2e import wait  # noqa: E402
from voxfarm.celery_config import CeleryPublisher, make_celery  # noqa: E402
from voxfarm.core.db import Database  # noqa: E402
from voxfarm.core.jobs.intake import submit_job  # noqa: E402
from voxfarm.core.jobs.schemas import JobCreate  # noqa: E402
from voxfarm.core.migrate import upgrade  # noqa: E402
from voxfarm.core.settings import BatchSettings, Settings  # noqa: E402
from voxfarm.core.state.outbox import unit_of_work  # noqa: E402
from voxfarm.core.storage import open_store  # noqa: E402
from voxfarm.core.tenants.accounts import get_or_create_tenant  # noqa: E402

BATCH = 16
TEXT = "Scale-out benchmark line {i}: a sentence of ordinary length for the farm to render."


def _fresh_db(admin_url: str) -> tuple[str, str]:
    from sqlalchemy import create_engine, text

    name = f"vf_scale_{secrets.token_hex(3)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return name, admin_url.rsplit("/", 1)[0] + f"/{name}"


def _drop_db(admin_url: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def run(n_workers: int, jobs: int, cost: tuple[float, float], redis_url: str, admin_url: str,
        window: int = 32) -> dict:
    import redis
    from sqlalchemy import func, select

    from voxfarm.core.models import Chunk

    redis.Redis.from_url(redis_url).flushdb()
    name, db_url = _fresh_db(admin_url)
    data = Path(tempfile.mkdtemp(prefix=f"scale-{n_workers}-"))
    settings = Settings(data_dir=data, broker_url=redis_url, database_url=db_url, engines=["sim"],
                        default_engine="sim", quality_gate=False, sim_batch_cost_s=cost, dispatch_window=window,
                        batch={"sim": BatchSettings(max_batch_size=BATCH, max_wait_ms=50)})
    upgrade(settings)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("VOXFARM_")},
           "VOXFARM_DATA_DIR": str(data), "VOXFARM_BROKER_URL": redis_url, "VOXFARM_DATABASE_URL": db_url,
           "VOXFARM_ENGINES": "sim", "VOXFARM_QUALITY_GATE": "false", "PYTHONPATH": str(ROOT),
           "VOXFARM_DISPATCH_WINDOW": str(window), "VOXFARM_DB_POOL_SIZE": "4", "VOXFARM_DB_MAX_OVERFLOW": "4",
           "VOXFARM_RECONCILE_INTERVAL_S": "5", "VOXFARM_LEASE_S": "20",
           "VOXFARM_SIM_BATCH_COST_S": json.dumps(list(cost)),
           "VOXFARM_BATCH": json.dumps({"sim": {"max_batch_size": BATCH, "max_wait_ms": 50}})}
    logs = [open(data / f"worker-{i}.log", "wb") for i in range(n_workers)]
    procs = [subprocess.Popen([sys.executable, "-m", "voxfarm", "worker", "--engine", "sim", "--name", f"sim{i}",
                               "--concurrency", str(2 * BATCH)], env=env, stdout=log, stderr=log,
                              start_new_session=True) for i, log in enumerate(logs)]
    # the farm's control worker: its reconciler re-sends what a transient failure left behind
    control_log = open(data / "control.log", "wb")
    procs.append(subprocess.Popen([sys.executable, "-m", "voxfarm", "worker", "--queues", "control", "--beat",
                                   "--name", "control"], env=env, stdout=control_log, stderr=control_log,
                                  start_new_session=True))
    db = Database(settings)
    try:
        wait(lambda: all(b" ready." in (data / f"worker-{i}.log").read_bytes() for i in range(n_workers)),
              120, "workers ready")
        store, publisher = open_store(settings), CeleryPublisher(make_celery(settings))
        with db.session() as s:
            tenant = get_or_create_tenant(s, "bench").id
        for start in range(0, jobs, 200):  # 200 jobs per transaction, published after each commit
            with unit_of_work(db, publisher) as s:
                for i in range(start, min(jobs, start + 200)):
                    submit_job(s, settings, store, tenant, JobCreate(text=TEXT.format(i=i), engine="sim"))
        psutil.cpu_percent(None)
        cpu = []

        def done() -> bool:
            cpu.append(psutil.cpu_percent(None))
            with db.session() as s:
                return s.scalar(select(func.count()).where(Chunk.status == "done")) == jobs

        wait(done, 900, "all chunks")
        with db.session() as s:
            first, last, mean_batch = s.execute(select(func.min(Chunk.started_at), func.max(Chunk.finished_at),
                                                       func.avg(Chunk.batch_size))).one()
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        db.dispose()
        _drop_db(admin_url, name)
    span = (last - first).total_seconds()
    a, b = cost
    return {"workers": n_workers, "chunks": jobs, "span_s": round(span, 2),
            "chunks_per_s": round(jobs / span, 2), "mean_batch": round(float(mean_batch), 2),
            "ideal_chunks_per_s": round(n_workers * BATCH / (a + b * BATCH), 2),
            "cpu_percent_median": round(statistics.median(cpu), 1) if cpu else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2,4,8")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=25.0, help="ideal work per worker per run")
    parser.add_argument("--cost", default="1.0,0.05", help="sim batch cost a,b: a + b*B seconds")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--out", default=str(ROOT / "bench" / "scale"))
    parser.add_argument("--dispatch-window", type=int, default=32, help="0: publish everything at submit")
    args = parser.parse_args()
    cost = tuple(float(x) for x in args.cost.split(","))
    per_worker = int(args.seconds * BATCH / (cost[0] + cost[1] * BATCH))
    samples: dict[int, list[dict]] = {}
    for rep in range(args.reps):  # interleaved, so a slow minute of the machine hits every N alike
        for n in (int(x) for x in args.workers.split(",")):
            row = run(n, per_worker * n, cost, args.redis, args.pg, args.dispatch_window)
            print(json.dumps({"rep": rep, **row}), flush=True)
            samples.setdefault(n, []).append(row)
    base = statistics.median(r["chunks_per_s"] for r in samples[min(samples)])
    rows = []
    for n, runs in sorted(samples.items()):
        thr = [r["chunks_per_s"] for r in runs]
        med = statistics.median(thr)
        rows.append({"workers": n, "chunks_per_s_min": min(thr), "chunks_per_s_median": med,
                     "chunks_per_s_max": max(thr), "ideal_chunks_per_s": runs[0]["ideal_chunks_per_s"],
                     "efficiency": round(med / (n * base), 3),
                     "mean_batch": statistics.median(r["mean_batch"] for r in runs),
                     "cpu_percent_median": statistics.median(r["cpu_percent_median"] for r in runs)})
    meta = {"engine": f"sim (sleeps {cost[0]} + {cost[1]}*B s per batch, max batch {BATCH})",
            "broker": "redis", "database": "postgresql", "storage": "local disk",
            "worker": f"celery threads pool, concurrency {2 * BATCH}", "reps": args.reps,
            "cpu_count": os.cpu_count(), "date": datetime.now().strftime("%Y-%m-%d")}
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows, "samples": samples}, indent=2))
    lines = ["# Scale-out: workers on one engine queue (sim engine, Redis + PostgreSQL)", "",
             "Generated by `scripts/bench_scale.py`. " + "; ".join(f"{k}: {v}" for k, v in meta.items()), "",
             "| workers | chunks/s min | median | max | ideal | efficiency vs linear | mean batch | machine CPU % |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['workers']} | {r['chunks_per_s_min']} | {r['chunks_per_s_median']} | "
                     f"{r['chunks_per_s_max']} | {r['ideal_chunks_per_s']} | {r['efficiency']} | "
                     f"{r['mean_batch']} | {r['cpu_percent_median']} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
