"""End-to-end throughput and latency through the real farm: REST API -> Redis -> Celery worker
(espeak) -> storage -> job row.  Batched (max_batch_size=8) vs unbatched (max_batch_size=1),
side by side in one run, same jobs.

    python scripts/bench_e2e.py [--jobs 300] [--redis redis://127.0.0.1:6379/15] [--pg URL]

Writes bench/e2e-espeak.{json,md}: jobs/s, and p50/p99 of queue-to-done latency (the job's
finished_at - created_at, both recorded by the farm).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(what)


def run_config(label: str, batch: int, args, redis_url: str, db_url: str | None) -> dict:
    import redis

    from voxfarm.core.migrate import upgrade
    from voxfarm.core.settings import Settings

    redis.Redis.from_url(redis_url).flushdb()
    data = Path(tempfile.mkdtemp(prefix=f"bench-{label}-"))
    settings = Settings(data_dir=data, broker_url=redis_url, database_url=db_url)
    if db_url:
        from sqlalchemy import create_engine, text

        eng = create_engine(db_url)
        with eng.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public;"))
        eng.dispose()
    upgrade(settings)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("VOXFARM_")},
           "VOXFARM_DATA_DIR": str(data), "VOXFARM_BROKER_URL": redis_url, "PYTHONPATH": str(ROOT),
           "VOXFARM_ENGINES": "espeak",
           "VOXFARM_BATCH": json.dumps({"espeak": {"max_batch_size": batch, "max_wait_ms": 20}})}
    if db_url:
        env["VOXFARM_DATABASE_URL"] = db_url
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    logs = open(data / "procs.log", "wb")
    procs = [subprocess.Popen([sys.executable, "-m", "voxfarm", "api", "--port", str(port), "--workers", "2"],
                              env={**env, "VOXFARM_PUBLIC_URL": url}, stdout=logs, stderr=logs,
                              start_new_session=True),
             subprocess.Popen([sys.executable, "-m", "voxfarm", "worker", "--engine", "espeak", "--name", "bench",
                               "--concurrency", "16"], env=env, stdout=logs, stderr=logs, start_new_session=True)]
    try:
        wait(lambda: _ok(f"{url}/healthz"), 60, "api")
        wait(lambda: b" ready." in (data / "procs.log").read_bytes(), 60, "worker")
        key = subprocess.run([sys.executable, "-m", "voxfarm", "keys", "create", "--tenant", "bench"], env=env,
                             capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        texts = [f"Benchmark sentence number {i}: the farm renders it and stores the result." for i in range(args.jobs)]
        t0 = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(lambda t: session.post(f"{url}/v1/jobs", json={"text": t}).json()["id"], texts))
        submitted = time.monotonic() - t0

        def all_done():
            done = []
            cursor = None
            while True:
                params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
                page = session.get(f"{url}/v1/jobs", params=params).json()
                done += page["data"]
                cursor = page["next_cursor"]
                if not cursor:
                    break
            finished = [j for j in done if j["status"] in ("succeeded", "failed")]
            return done if len(finished) == len(ids) else None

        jobs = wait(all_done, 900, "all jobs")
        wall = time.monotonic() - t0
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)
    ok = [j for j in jobs if j["status"] == "succeeded"]
    lat = sorted((_t(j["render"]["finished_at"]) - _t(j["created_at"])) for j in ok)
    first_created = min(_t(j["created_at"]) for j in ok)
    last_done = max(_t(j["render"]["finished_at"]) for j in ok)
    sizes = [j["render"]["batch_size"] for j in ok]
    return {"config": label, "max_batch_size": batch, "jobs": len(ids), "succeeded": len(ok),
            "submit_s": round(submitted, 2), "wall_s": round(wall, 2),
            "jobs_per_s": round(len(ok) / (last_done - first_created), 2),
            "latency_p50_s": round(lat[len(lat) // 2], 3), "latency_p99_s": round(lat[int(len(lat) * 0.99) - 1], 3),
            "mean_batch_size": round(sum(sizes) / len(sizes), 2)}


def _ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _t(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
                        help="admin URL; a scratch database is created and dropped ('' for SQLite)")
    args = parser.parse_args()
    db_url, admin = None, None
    if args.pg:
        from sqlalchemy import create_engine, text

        name = f"vf_bench_{secrets.token_hex(3)}"
        admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        db_url = args.pg.rsplit("/", 1)[0] + f"/{name}"
    try:
        rows = [run_config("batched", 8, args, args.redis, db_url),
                run_config("unbatched", 1, args, args.redis, db_url)]
    finally:
        if admin is not None:
            from sqlalchemy import text

            with admin.connect() as conn:
                conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    rows[0]["throughput_vs_unbatched"] = round(rows[0]["jobs_per_s"] / rows[1]["jobs_per_s"], 2)
    out = ROOT / "bench" / "e2e-espeak"
    out.parent.mkdir(exist_ok=True)
    meta = {"engine": "espeak", "database": "postgresql" if db_url else "sqlite", "broker": "redis",
            "storage": "local disk", "api": "gunicorn 2 workers", "worker_threads": 16,
            "cpu_count": os.cpu_count(), "date": time.strftime("%Y-%m-%d")}
    out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    lines = ["# End-to-end through Redis + Celery (espeak)", "",
             "| " + " | ".join(f"{k}: {v}" for k, v in meta.items()) + " |", "",
             "| config | max_batch_size | jobs | jobs/s | p50 queue-to-done s | p99 s | mean batch |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['config']} | {r['max_batch_size']} | {r['succeeded']}/{r['jobs']} | {r['jobs_per_s']} | "
                     f"{r['latency_p50_s']} | {r['latency_p99_s']} | {r['mean_batch_size']} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
