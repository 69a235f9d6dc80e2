"""Run the fault-injection scenarios N times each and write bench/reliability.md.

    python scripts/reliability_report.py [--runs 5] [--scenarios kill_mid_batch,postgres_restart]

Each run builds a fresh farm (private Redis, PostgreSQL behind a proxy, moto S3 behind a fault
proxy, API and worker processes, a verifying webhook receiver), injects one fault while work is
accepted and in flight, and applies the total-queue checker: jobs accepted, lost (not terminal),
duplicated results (more than one stored result, or one whose sha256 differs from the record),
terminal jobs without a delivered webhook, and the time from the fault to the last terminal job.
"""

from __future__ import annotations

import argparse
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

    from scripts.make_tiny_dia import make_tiny_dia
    from tests.faults.harness import Farm
    from tests.faults.scenarios import SCENARIOS

    names = args.scenarios.split(",") if args.scenarios else list(SCENARIOS)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    s3 = f"http://{host}:{port}"
    os.environ["AWS_ENDPOINT_URL"] = s3
    tiny = make_tiny_dia(Path(tempfile.mkdtemp()) / "dia-tiny")
    admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
    results: dict[str, list[dict]] = {}
    with tqdm(total=len(names) * args.runs, desc="scenario runs", file=sys.stderr) as bar:
        for name in names:
            scenario, engine = SCENARIOS[name]
            for run in range(args.runs):
                db = f"vf_rel_{secrets.token_hex(3)}"
                with admin.connect() as conn:
                    conn.execute(text(f'CREATE DATABASE "{db}"'))
                farm = Farm(Path(tempfile.mkdtemp(prefix=f"{name}-{run}-")), pg_url=args.pg.rsplit("/", 1)[0] + f"/{db}",
                            s3_endpoint=s3, engine=engine, tiny_dia=tiny)
                t0 = time.monotonic()
                try:
                    outcome = scenario(farm)
                    row = {"accepted": outcome.accepted, "lost": outcome.lost, "duplicated": outcome.duplicated,
                           "webhooks_missing": outcome.webhooks_missing, "recovery_s": outcome.recovery_s,
                           "statuses": outcome.statuses, "notes": outcome.notes, "error": None}
                except Exception as exc:  # noqa: BLE001 - a failed run is a result too
                    row = {"accepted": len(farm.accepted), "lost": None, "duplicated": None, "webhooks_missing": None,
                           "recovery_s": None, "statuses": {}, "notes": [], "error": f"{type(exc).__name__}: {exc}"[:400]}
                finally:
                    farm.close()
                    with admin.connect() as conn:
                        conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'"))
                        conn.execute(text(f'DROP DATABASE IF EXISTS "{db}"'))
                row["run_s"] = round(time.monotonic() - t0, 1)
                results.setdefault(name, []).append(row)
                bar.update()
    moto.stop()
    write(results, args.runs)


def write(results: dict[str, list[dict]], runs: int) -> None:
    out = ROOT / "bench" / "reliability"
    out.parent.mkdir(exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(results, indent=2))
    lines = ["# Reliability: fault-injection scenarios", "",
             f"Each scenario was run {runs} times on a fresh farm (real Redis, PostgreSQL, S3 protocol server, API and "
             "worker processes). Lost = accepted jobs not terminal after 180 s; duplicated = succeeded jobs without "
             "exactly one stored result matching their recorded sha256; webhooks missing = terminal jobs whose event "
             "never reached the verifying receiver; recovery = from the fault to the last terminal job.", "",
             "| scenario | runs | failed runs | jobs accepted | lost | duplicated results | webhooks missing | "
             "max recovery s | notes |", "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    totals = {"accepted": 0, "lost": 0, "duplicated": 0}
    for name, rows in results.items():
        ok = [r for r in rows if r["error"] is None]
        accepted = sum(r["accepted"] for r in rows)
        lost = sum(r["lost"] or 0 for r in ok)
        dup = sum(r["duplicated"] or 0 for r in ok)
        hooks = sum(r["webhooks_missing"] or 0 for r in ok)
        rec = max((r["recovery_s"] for r in ok), default=None)
        notes = "; ".join(sorted({n for r in rows for n in r["notes"]}))[:300]
        errors = "; ".join(r["error"] for r in rows if r["error"])[:200]
        totals["accepted"] += accepted
        totals["lost"] += lost
        totals["duplicated"] += dup
        lines.append(f"| {name} | {len(rows)} | {len(rows) - len(ok)} | {accepted} | {lost} | {dup} | {hooks} | "
                     f"{rec} | {errors or notes} |")
    lines += ["", f"Total: {totals['accepted']} jobs accepted, {totals['lost']} lost, "
                  f"{totals['duplicated']} duplicated results. Generated {time.strftime('%Y-%m-%d')}."]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
