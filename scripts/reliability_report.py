"""Run the fault-injection scenarios N times each and write bench/reliability.md.

    python scripts/reliability_report.py [--runs 5] [--scenarios kill_mid_batch,postgres_restart]

Each run builds a fresh farm (private Redis, PostgreSQL behind a proxy, moto S3 behind a fault
proxy, API and worker processes on the deterministic ``tone`` engine, a verifying webhook
receiver), injects one fault while work is accepted and in flight, and applies the checker of
tests/faults/checker.py: final status per job against the expected one (all succeeded but the
poison job), result bytes against a fault-free reference render, renders per chunk from the
engine's own log, terminal events per job from the receiver's log.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scenarios", default=None)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "HF_HUB_OFFLINE": "1"})
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    from moto.server import ThreadedMotoServer
    from sqlalchemy import create_engine, text
    from tqdm import tqdm

    from tests.faults.harness import Farm
    from tests.faults.reference import Reference
    from tests.faults.scenarios import SCENARIOS

    names = args.scenarios.split(",") if args.scenarios else list(SCENARIOS)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    s3 = f"http://{host}:{port}"
    os.environ["AWS_ENDPOINT_URL"] = s3
    reference = Reference(Path(tempfile.mkdtemp(prefix="reference-")))
    admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
    results: dict[str, list[dict]] = {}
    with tqdm(total=len(names) * args.runs, desc="scenario runs", file=sys.stderr) as bar:
        for name in names:
            scenario = SCENARIOS[name]
            for run in range(args.runs):
                db = f"vf_rel_{secrets.token_hex(3)}"
                with admin.connect() as conn:
                    conn.execute(text(f'CREATE DATABASE "{db}"'))
                farm = Farm(Path(tempfile.mkdtemp(prefix=f"{name}-{run}-")),
                            pg_url=args.pg.rsplit("/", 1)[0] + f"/{db}",
                            s3_endpoint=s3, reference=reference)
                t0 = time.monotonic()
                try:
                    row = {**dataclasses.asdict(scenario(farm)), "error": None}
                except Exception as exc:  # noqa: BLE001 - a failed run is a result too
                    row = {"accepted": len(farm.accepted), "notes": [], "error": f"{type(exc).__name__}: {exc}"[:400]}
                finally:
                    farm.close()
                    with admin.connect() as conn:
                        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                          f"WHERE datname = '{db}'"))
                        conn.execute(text(f'DROP DATABASE IF EXISTS "{db}"'))
                row["run_s"] = round(time.monotonic() - t0, 1)
                results.setdefault(name, []).append(row)
                bar.update()
    reference.close()
    moto.stop()
    write(results, args.runs)


COLUMNS = ("succeeded", "failed", "canceled", "lost", "duplicated", "mismatched", "unexpected", "webhook_problems")


def write(results: dict[str, list[dict]], runs: int) -> None:
    out = ROOT / "bench" / "reliability"
    out.parent.mkdir(exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(results, indent=2))
    lines = ["# Reliability: fault-injection scenarios", "",
             f"Up to {runs} runs per scenario, each on a fresh farm (private Redis with AOF, PostgreSQL behind a "
             "proxy, moto S3 behind a fault proxy, API and supervised worker processes on the deterministic `tone` "
             "engine, 800 ms per batch; lease 4 s, heartbeat 1 s, reconcile every 1 s, max_attempts 3, "
             "infrastructure backoff capped at 4 s). Produced by `scripts/reliability_report.py`; the checker is "
             "`tests/faults/checker.py`.", "",
             "* Expected: every job `succeeded`, except the poison job (`failed`, `poison_chunk`).",
             "* succeeded / failed / canceled: final statuses. lost: not terminal after 180 s.",
             "* duplicated: a job with more than one result object or terminal event, or a chunk rendered more "
             "often than once plus once per worker death (counted from the engine's own render log).",
             "* mismatched: stored result bytes (read from S3 directly) differ from a fault-free reference render "
             "of the same request. unexpected: terminal in another status than expected.",
             "* webhook problems: no terminal event at the verifying receiver, or its type differs from the status.",
             "* recovery: from the end of the fault to the last terminal job.", "",
             "| scenario | runs | errored runs | accepted | " + " | ".join(c.replace("_", " ") for c in COLUMNS)
             + " | max renders/chunk | max deliveries/event | recovery s (min/median/max) |",
             "|---|" + "---:|" * (3 + len(COLUMNS) + 3)]
    totals = {c: 0 for c in ("accepted", *COLUMNS)}
    for name, rows in results.items():
        ok = [r for r in rows if r["error"] is None]
        sums = {c: sum(r[c] for r in ok) for c in COLUMNS}
        accepted = sum(r["accepted"] for r in rows)
        rec = sorted(r["recovery_s"] for r in ok)
        rec_s = f"{rec[0]} / {rec[len(rec) // 2]} / {rec[-1]}" if rec else "-"
        renders = max((r["max_renders_per_chunk"] for r in ok), default="-")
        deliveries = max((r["max_deliveries_per_event"] for r in ok), default="-")
        totals["accepted"] += accepted
        for c in COLUMNS:
            totals[c] += sums[c]
        lines.append(f"| {name} | {len(rows)} | {len(rows) - len(ok)} | {accepted} | "
                     + " | ".join(str(sums[c]) for c in COLUMNS) + f" | {renders} | {deliveries} | {rec_s} |")
    lines += ["", "Total: " + ", ".join(f"{totals[c]} {c.replace('_', ' ')}" for c in ("accepted", *COLUMNS))
              + f". Generated {time.strftime('%Y-%m-%d')}.", ""]
    errors = [f"* {name} run {i + 1}: {r['error']}" for name, rows in results.items() for i, r in enumerate(rows)
              if r["error"]]
    notes = sorted({f"* {name}: {n}" for name, rows in results.items() for r in rows for n in r.get("notes", [])})
    if errors:
        lines += ["Errored runs:", "", *errors, ""]
    if notes:
        lines += ["Notes from the checker:", "", *notes[:40], ""]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
