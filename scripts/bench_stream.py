"""Streaming latency of POST /v1/audio/speech behind a bulk backlog, with and without priority lanes.

    python scripts/bench_stream.py [--reps 3] [--backlog 100] [--redis URL] [--pg ADMIN_URL]

A real farm (gunicorn API, one espeak worker, one control worker, Redis, PostgreSQL, local disk) runs twice, side by
side in one run: ``lanes`` (the default policy) and ``fifo`` (``INTERACTIVE_PRIORITY`` above every
job's priority, so speech requests queue behind bulk work like everything else).  Each round
queues a bulk job of ``--backlog`` one-sentence chunks on the same engine, then sends 1, 4 or 16
concurrent 3-sentence requests through the official ``openai`` SDK (streamed mp3) and records,
per request, the time to the first audio byte and to the last byte.  Writes
bench/stream-cpu.{json,md}: raw samples plus p50/p99 and min/median/max over repetitions.
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
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.bench_e2e import _ok, free_port, wait  # noqa: E402

TEXT = ("The farm answers this request first. It streams the words while the rest is rendered. "
        "Then the bulk work carries on.")
BACKLOG_LINE = "Bulk line number {i} waits in the queue."


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 3)


def one_stream(client) -> dict:
    t0 = time.perf_counter()
    first = None
    size = 0
    with client.audio.speech.with_streaming_response.create(model="tts-1", voice="alloy", input=TEXT,
                                                            response_format="mp3") as resp:
        for data in resp.iter_bytes():
            if data and first is None:
                first = time.perf_counter() - t0
            size += len(data)
    return {"first_byte_s": round(first, 4), "last_byte_s": round(time.perf_counter() - t0, 4), "bytes": size}


def run_farm(label: str, env_extra: dict, args, redis_url: str, db_url: str | None) -> list[dict]:
    import redis
    from openai import OpenAI

    from voxfarm.core.migrate import upgrade
    from voxfarm.core.settings import Settings

    redis.Redis.from_url(redis_url).flushdb()
    data = Path(tempfile.mkdtemp(prefix=f"bench-stream-{label}-"))
    settings = Settings(data_dir=data, broker_url=redis_url, database_url=db_url)
    if db_url:
        from sqlalchemy import create_engine, text

        eng = create_engine(db_url)
        with eng.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public;"))
        eng.dispose()
    upgrade(settings)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("VOXFARM_")}, "PYTHONPATH": str(ROOT),
           "VOXFARM_DATA_DIR": str(data), "VOXFARM_BROKER_URL": redis_url, "VOXFARM_ENGINES": "espeak",
           "VOXFARM_CHUNK_TARGET_S": json.dumps({"espeak": 0.5}), **env_extra}
    if db_url:
        env["VOXFARM_DATABASE_URL"] = db_url
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    logs = open(data / "procs.log", "wb")  # noqa: SIM115 - the farm's processes write to it until the end
    procs = [subprocess.Popen([sys.executable, "-m", "voxfarm", "api", "--port", str(port), "--workers", "2",
                               "--threads", "16"], env={**env, "VOXFARM_PUBLIC_URL": url}, stdout=logs,
                              stderr=logs, start_new_session=True),
             # the production shape: a render worker on both lanes, and a control worker that
             # stitches (a stitch on the render worker would hold its threads and its CPU)
             subprocess.Popen([sys.executable, "-m", "voxfarm", "worker", "--engine", "espeak", "--name", "bench"],
                              env=env, stdout=logs, stderr=logs, start_new_session=True),
             subprocess.Popen([sys.executable, "-m", "voxfarm", "worker", "--name", "bench-control"],
                              env=env, stdout=logs, stderr=logs, start_new_session=True)]
    rows = []
    try:
        wait(lambda: _ok(f"{url}/healthz"), 60, "api")
        wait(lambda: (data / "procs.log").read_bytes().count(b" ready.") >= 2, 60, "workers")
        key = subprocess.run([sys.executable, "-m", "voxfarm", "keys", "create", "--tenant", "bench"], env=env,
                             capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {key}"
        client = OpenAI(api_key=key, base_url=f"{url}/v1", max_retries=0, timeout=600)
        one_stream(client)  # warm-up: first imports, first ffmpeg spawn
        backlog = " ".join(BACKLOG_LINE.format(i=i) for i in range(args.backlog))
        for concurrency in (1, 4, 16):
            for rep in range(args.reps):
                bulk = http.post(f"{url}/v1/jobs", json={"text": backlog}).json()
                with ThreadPoolExecutor(concurrency) as pool:
                    samples = list(pool.map(lambda _: one_stream(client), range(concurrency)))
                bulk_url = f"{url}/v1/jobs/{bulk['id']}"
                wait(lambda u=bulk_url: http.get(u).json()["status"] == "succeeded", 600, "the backlog")
                rows.append({"config": label, "concurrency": concurrency, "rep": rep,
                             "backlog_chunks": bulk["progress"]["total"], "samples": samples})
                print(label, concurrency, rep, [s["first_byte_s"] for s in samples], flush=True)
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)
    return rows


def summarize(rows: list[dict]) -> list[dict]:
    out = []
    for label in dict.fromkeys(r["config"] for r in rows):
        for c in (1, 4, 16):
            reps = [r for r in rows if r["config"] == label and r["concurrency"] == c]
            first = [s["first_byte_s"] for r in reps for s in r["samples"]]
            last = [s["last_byte_s"] for r in reps for s in r["samples"]]
            p50_by_rep = [statistics.median(s["first_byte_s"] for s in r["samples"]) for r in reps]
            out.append({"config": label, "concurrency": c, "requests": len(first),
                        "first_p50_s": pct(first, 0.5), "first_p99_s": pct(first, 0.99),
                        "last_p50_s": pct(last, 0.5), "last_p99_s": pct(last, 0.99),
                        "first_p50_per_rep_min_med_max": [round(min(p50_by_rep), 3),
                                                          round(statistics.median(p50_by_rep), 3),
                                                          round(max(p50_by_rep), 3)]})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--backlog", type=int, default=100)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15",
                        help="a database number the tests never use (they take 1-14)")
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
                        help="admin URL; a scratch database is created and dropped ('' for SQLite)")
    args = parser.parse_args()
    db_url, admin, name = None, None, None
    if args.pg:
        from sqlalchemy import create_engine, text

        name = f"vf_bench_{secrets.token_hex(3)}"
        admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        db_url = args.pg.rsplit("/", 1)[0] + f"/{name}"
    try:
        rows = (run_farm("lanes", {}, args, args.redis, db_url) +
                run_farm("fifo", {"VOXFARM_INTERACTIVE_PRIORITY": "101"}, args, args.redis, db_url))
    finally:
        if admin is not None:
            from sqlalchemy import text

            with admin.connect() as conn:
                conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    summary = summarize(rows)
    for row in summary:
        fifo = next(s for s in summary if s["config"] == "fifo" and s["concurrency"] == row["concurrency"])
        row["first_p50_fifo_over_lanes"] = round(fifo["first_p50_s"] / row["first_p50_s"], 2)
    meta = {"engine": "espeak", "database": "postgresql" if db_url else "sqlite", "broker": "redis",
            "storage": "local disk", "api": "gunicorn 2 workers x 16 threads",
            "workers": "1 espeak (16 threads, batch 8) + 1 control",
            "format": "mp3 (streamed)", "input": f"{len(TEXT)} chars, 3 sentences",
            "backlog": f"{args.backlog} one-sentence chunks, queued just before each round",
            "reps": args.reps, "cpu_count": os.cpu_count(), "date": time.strftime("%Y-%m-%d")}
    out = ROOT / "bench" / "stream-cpu"
    out.parent.mkdir(exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"meta": meta, "summary": summary, "rows": rows}, indent=2))
    lines = ["# Streaming /v1/audio/speech behind a bulk backlog (espeak, CPU)", "",
             "| " + " | ".join(f"{k}: {v}" for k, v in meta.items()) + " |", "",
             ("`lanes`: the default policy (speech in the interactive lane). `fifo`: the same farm with "
              "`VOXFARM_INTERACTIVE_PRIORITY=101`, so speech waits behind the backlog. Times are seconds "
              "from sending the request, measured by the client."), "",
             ("| config | concurrency | requests | first byte p50 | first byte p99 | last byte p50 | last byte p99 "
              "| first-byte p50 per rep (min/med/max) | fifo/lanes (first p50) |"),
             "|---|---:|---:|---:|---:|---:|---:|---|---:|"]
    for r in summary:
        mmm = "/".join(str(v) for v in r["first_p50_per_rep_min_med_max"])
        lines.append(f"| {r['config']} | {r['concurrency']} | {r['requests']} | {r['first_p50_s']} | "
                     f"{r['first_p99_s']} | {r['last_p50_s']} | {r['last_p99_s']} | {mmm} | "
                     f"{r['first_p50_fifo_over_lanes'] if r['config'] == 'lanes' else ''} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
