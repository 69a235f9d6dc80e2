"""Intake rate: items/s through POST /v1/batches, through single POST /v1/jobs, and raw Celery
publishing of the same number of messages, side by side in one run.

    python scripts/bench_intake.py [--items 2000] [--reps 3] [--clients 8]

The API is the real ``voxfarm api`` (gunicorn, 1 process, 8 threads) over PostgreSQL and Redis on
this machine, local-disk storage, engine espeak (no worker runs: intake only).  A 202 from either
route means committed *and* published (the unit of work relays after the commit, before it
answers).  Two API processes run: one with the default fair-dispatch window (chunks beyond a
tenant's window are accepted and held in the database, published as workers free slots) and one
with ``dispatch_window=0`` (every chunk published at submit), so the comparison holds either way.
Raw Celery is ``send_task`` of N ``voxfarm.render_chunk`` messages, once with a fresh producer per
message and once through one producer (CeleryPublisher.publish_many).  Every rep uses a new tenant.
Writes bench/intake.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
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

from scripts.bench_scale import _drop_db, _fresh_db, _wait  # noqa: E402
from voxfarm.celery_config import CeleryPublisher, make_celery  # noqa: E402
from voxfarm.core.db import Database  # noqa: E402
from voxfarm.core.migrate import upgrade  # noqa: E402
from voxfarm.core.settings import Settings  # noqa: E402
from voxfarm.core.tenants.accounts import create_key  # noqa: E402

RETRIES: list[int] = []  # single-job requests sent again (0: connection reset, 503: database busy)
TEXT = "Intake benchmark line {i}: one ordinary sentence for the farm to render."


def _api(settings: Settings, tmp: Path, window: int) -> tuple[subprocess.Popen, str]:
    import socket

    with socket.socket() as sock:  # a port the kernel just handed out, not a guess
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXFARM_")}
    env.update({"VOXFARM_DATA_DIR": str(settings.data_dir), "VOXFARM_DATABASE_URL": settings.database_url,
                "VOXFARM_BROKER_URL": settings.broker_url, "VOXFARM_ENGINES": "espeak",
                "VOXFARM_DISPATCH_WINDOW": str(window), "PYTHONPATH": str(ROOT)})
    log = open(tmp / f"api-{window}.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "voxfarm", "api", "--port", str(port), "--workers", "1",
                             "--threads", "8"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def up():
        try:
            return requests.get(url + "/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    try:
        _wait(up, 60, "api")
    except TimeoutError:
        proc.terminate()
        raise
    return proc, url


def _session(key: str) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {key}"
    return s


def run_batch(url: str, key: str, n: int) -> float:
    body = {"defaults": {"engine": "espeak"}, "items": [{"text": TEXT.format(i=i)} for i in range(n)]}
    s = _session(key)
    start = time.perf_counter()
    resp = s.post(url + "/v1/batches", json=body, timeout=600)
    elapsed = time.perf_counter() - start
    assert resp.status_code == 202 and resp.json()["total"] == n, resp.text[:500]
    return elapsed


def run_single(url: str, key: str, n: int, clients: int) -> float:
    sessions = [_session(key) for _ in range(clients)]
    retries: list[int] = []

    def post(i: int) -> int:
        body = {"engine": "espeak", "text": TEXT.format(i=i)}
        for attempt in range(6):
            try:
                code = sessions[i % clients].post(url + "/v1/jobs", json=body, timeout=120).status_code
            except requests.ConnectionError:
                # gunicorn closes keep-alive connections idle past 2 s; under load a reused one can
                # be reset before the request lands: send again (a rare duplicate only helps this path)
                code = 0
            if code != 503 and code != 0 or attempt == 5:
                return code
            retries.append(code)  # 503: the shared PostgreSQL ran out of connections; a client retries
            time.sleep(0.2)
        return code

    with ThreadPoolExecutor(clients) as pool:
        start = time.perf_counter()
        codes = list(pool.map(post, range(n)))
        elapsed = time.perf_counter() - start
    assert codes.count(202) == n, {c: codes.count(c) for c in set(codes)}
    RETRIES.extend(retries)
    return elapsed


def run_celery(app, n: int, shared_producer: bool) -> float:
    messages = [("voxfarm.render_chunk", [f"chk_bench{i}"], "bench-raw") for i in range(n)]
    start = time.perf_counter()
    if shared_producer:
        CeleryPublisher(app).publish_many(messages)
    else:
        for task, args, queue in messages:
            app.send_task(task, args=args, queue=queue, routing_key=queue)
    return time.perf_counter() - start


def _stats(values: list[float]) -> dict:
    return {"min": round(min(values), 1), "median": round(statistics.median(values), 1),
            "max": round(max(values), 1), "samples": [round(v, 1) for v in values]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--pg", default=os.environ.get("BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--redis", default=f"redis://127.0.0.1:6379/{11 + secrets.randbelow(4)}")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="vf-intake-"))
    name, db_url = _fresh_db(args.pg)
    settings = Settings(data_dir=tmp / "var", database_url=db_url, broker_url=args.redis, engines=["espeak"])
    upgrade(settings)
    db = Database(settings)
    apis = {w: _api(settings, tmp, w) for w in (settings.dispatch_window, 0)}
    app = make_celery(settings, name="bench-intake")
    import redis

    broker = redis.Redis.from_url(args.redis)
    rates: dict[str, list[float]] = {}

    def key() -> str:
        with db.session() as s:
            return create_key(s, f"bench-{secrets.token_hex(4)}").key

    try:
        run_batch(apis[0][1], key(), 50)  # warm both APIs and the broker connection
        run_batch(apis[settings.dispatch_window][1], key(), 50)
        run_celery(app, 50, True)
        for rep in range(args.reps):
            for window, (_, url) in apis.items():
                tag = f"window {window}" if window else "window 0 (all published)"
                rates.setdefault(f"POST /v1/batches, {tag}", []).append(args.items / run_batch(url, key(), args.items))
                rates.setdefault(f"POST /v1/jobs x{args.clients} clients, {tag}", []).append(
                    args.items / run_single(url, key(), args.items, args.clients))
            rates.setdefault("Celery send_task, producer per message", []).append(
                args.items / run_celery(app, args.items, False))
            rates.setdefault("Celery send_task, one producer (publish_many)", []).append(
                args.items / run_celery(app, args.items, True))
            broker.flushdb()
            print(f"rep {rep + 1}: " + ", ".join(f"{k}: {v[-1]:.0f}/s" for k, v in rates.items()), flush=True)
    finally:
        for proc, _ in apis.values():
            proc.terminate()
            proc.wait(30)
        broker.flushdb()
        db.dispose()
        _drop_db(args.pg, name)
    stats = {k: _stats(v) for k, v in rates.items()}
    raw = stats["Celery send_task, one producer (publish_many)"]["median"]
    conditions = (f"{platform.node()}, {os.cpu_count()} CPU cores (shared with other work), PostgreSQL and Redis on "
                  f"127.0.0.1; {args.items} one-sentence items per rep, {args.reps} reps; API: voxfarm api "
                  f"(gunicorn 1 process x 8 threads); single jobs from {args.clients} concurrent clients; "
                  f"engine espeak, no worker running; dispatch_window {settings.dispatch_window} holds chunks "
                  "beyond a tenant's window in the database (accepted, published as workers free slots), "
                  "window 0 publishes every chunk before answering")
    out = ROOT / "bench"
    out.mkdir(exist_ok=True)
    conditions += (f"; {len(RETRIES)} single-job requests were retried ({RETRIES.count(503)} x 503 database busy, "
                   f"{RETRIES.count(0)} x connection reset), their waits included in that path's time")
    (out / "intake.json").write_text(json.dumps({"conditions": conditions, "items": args.items,
                                                 "items_per_s": stats}, indent=2))
    lines = ["# Intake: items/s through the batch API, single jobs and raw Celery (one run)", "",
             f"Conditions: {conditions}.", "", "| path | min | median | max | median / raw publish_many |",
             "|---|---|---|---|---|"]
    for k, v in stats.items():
        lines.append(f"| {k} | {v['min']} | {v['median']} | {v['max']} | {v['median'] / raw:.2f}x |")
    lines += ["", "Raw samples (items/s) are in bench/intake.json. Produced by `python scripts/bench_intake.py`."]
    (out / "intake.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
