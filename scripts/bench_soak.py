"""Memory soak: many unique jobs and a long book through `voxfarm up`, every process's memory sampled.

    python scripts/bench_soak.py                      # embedded and PostgreSQL + Redis, 2,000 jobs each
    python scripts/bench_soak.py --modes embedded --jobs 400 --book-minutes 10 --max-minutes 20

Each mode starts the stack as a user does (`voxfarm up`, piper with its bundled voice; ``prod`` points
it at PostgreSQL and Redis on 127.0.0.1 with a fresh database), makes a key, then:

* submits ``--jobs`` unique one-sentence jobs through the REST API, at most ``--window`` unfinished
  at a time, and records each process's RSS, USS and PSS (psutil) after 25, 200, 300, 1,000 and
  ``--jobs`` jobs (and every ``--sample-every`` seconds for the peak);
* renders one Markdown book of ``--book-minutes`` of expected audio (chapters of about 5 minutes)
  and records the peak of every process while it renders and stitches;
* breaks the first checkpoint's memory down by mapping (the largest files and anonymous memory of
  each process) to say what the stack's resident memory is made of.

A phase that runs past ``--max-minutes`` stops where it is and says so.  Results go to
``bench/soak.json`` and ``bench/soak.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINTS = (25, 200, 300, 1000)
WORDS = ("amber harbour lantern meadow quiet river silver thunder violet willow orchard pebble "
         "sparrow timber canyon glacier").split()


def _roles(tree: list[psutil.Process], up_pid: int) -> dict[int, str]:
    roles = {}
    for p in tree:
        try:
            cmd = " ".join(p.cmdline())
        except psutil.Error:
            continue
        if p.pid == up_pid:
            roles[p.pid] = "up (upkeep)"
        elif " worker " in f" {cmd} ":
            roles[p.pid] = "worker (piper)"
        elif " api " in f" {cmd} ":
            roles[p.pid] = "api (gunicorn worker)" if p.ppid() != up_pid else "api (gunicorn master)"
        else:
            roles[p.pid] = p.name()  # ffmpeg and other short-lived children
    return roles


def snapshot(up_pid: int, full: bool = True) -> dict[str, dict[str, float]]:
    """Per role: rss (and uss, pss) in MiB."""
    root = psutil.Process(up_pid)
    tree = [root, *root.children(recursive=True)]
    roles = _roles(tree, up_pid)
    out: dict[str, dict[str, float]] = {}
    for p in tree:
        try:
            info = p.memory_full_info() if full else p.memory_info()
        except psutil.Error:
            continue
        role = roles.get(p.pid, p.name())
        row = out.setdefault(role, {"rss": 0.0, "uss": 0.0, "pss": 0.0, "n": 0})
        row["rss"] += info.rss / 2**20
        row["n"] += 1
        if full:
            row["uss"] += info.uss / 2**20
            row["pss"] += info.pss / 2**20
    return {k: {m: round(v, 1) for m, v in r.items()} for k, r in out.items()}


def breakdown(up_pid: int, top: int = 6) -> dict[str, list[tuple[str, float]]]:
    """The largest resident mappings of each long-lived process (MiB)."""
    root = psutil.Process(up_pid)
    tree = [root, *root.children(recursive=True)]
    roles = _roles(tree, up_pid)
    out = {}
    for p in tree:
        role = roles.get(p.pid, "")
        if not role or role in out or role.startswith(("ffmpeg", "sh")):
            continue
        try:
            maps = p.memory_maps(grouped=True)
        except psutil.Error:
            continue
        sized = {}
        for m in maps:
            name = m.path or "[anon]"
            key = name if name.startswith("[") else Path(name).name
            if ".so" in key and "python3" in name and "site-packages" not in name:
                key = "python stdlib extensions"
            sized[key] = sized.get(key, 0) + m.rss / 2**20
        out[role] = sorted(((k, round(v, 1)) for k, v in sized.items()), key=lambda kv: -kv[1])[:top]
    return out


class Sampler:
    """Peak RSS per role, sampled every ``every`` seconds in a thread."""

    def __init__(self, up_pid: int, every: float) -> None:
        self.up_pid, self.every, self.peak = up_pid, every, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                snap = snapshot(self.up_pid, full=False)
            except psutil.Error:
                continue
            total = sum(r["rss"] for r in snap.values())
            for role, row in [*snap.items(), ("total", {"rss": total})]:
                self.peak[role] = max(self.peak.get(role, 0.0), row["rss"])

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


class Stack:
    def __init__(self, mode: str, work: Path, pg: str, redis: str) -> None:
        self.work, self.port = work, _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("VOXFARM_")}
        self.env.update(VOXFARM_DATA_DIR=str(work / "var"), PYTHONUNBUFFERED="1")
        if mode == "prod":
            self.env.update(VOXFARM_DATABASE_URL=_fresh_database(pg), VOXFARM_BROKER_URL=redis)
        self.log = open(work / "up.log", "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "voxfarm", "up", "--port", str(self.port)],
                                     env=self.env, cwd=work, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 300
        while "voxfarm is ready" not in (work / "up.log").read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the stack did not start: {(work / 'up.log').read_text()[-2000:]}")
            time.sleep(1)
        key = subprocess.run([sys.executable, "-m", "voxfarm", "keys", "create", "--tenant", "soak"], env=self.env,
                             cwd=work, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {key}"

    def submit(self, body: dict) -> str:
        resp = self.http.post(f"{self.url}/v1/jobs", json=body, timeout=120)
        resp.raise_for_status()
        return resp.json()["id"]

    def status(self, job_id: str) -> dict:
        return self.http.get(f"{self.url}/v1/jobs/{job_id}", timeout=60).json()

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fresh_database(admin_url: str) -> str:
    from sqlalchemy import create_engine, text

    name = f"voxfarm_soak_{os.getpid()}_{int(time.time())}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def sentence(i: int) -> str:
    words = [WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(4 + i % 5)]
    return f"Soak job {i}: the {' '.join(words)}."


def run_jobs(stack: Stack, n: int, window: int, deadline: float, checkpoints: list[int]) -> dict:
    done, failed, open_ids, submitted = 0, 0, [], 0
    marks: dict[int, dict] = {}
    started = time.monotonic()
    while done + failed < n:
        while submitted < n and len(open_ids) < window:
            open_ids.append(stack.submit({"text": sentence(submitted)}))
            submitted += 1
        still = []
        # one request per poll: the newest jobs with their status (a GET per open job would load the API)
        listed = {j["id"]: j["status"] for j in stack.http.get(f"{stack.url}/v1/jobs?limit=100", timeout=60)
                  .json()["data"]}
        for job_id in open_ids:
            status = listed.get(job_id) or stack.status(job_id)["status"]
            if status == "succeeded":
                done += 1
            elif status in ("failed", "canceled"):
                failed += 1
            else:
                still.append(job_id)
            finished = done + failed
            if finished in checkpoints and finished not in marks:
                time.sleep(2)  # settle: the finished jobs' objects released
                marks[finished] = snapshot(stack.proc.pid)
        open_ids = still
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)
    wall = time.monotonic() - started
    if done + failed not in marks:  # where it stopped (the time limit may come before the last checkpoint)
        time.sleep(2)
        marks[done + failed] = snapshot(stack.proc.pid)
    return {"done": done, "failed": failed, "wall_s": round(wall, 1), "jobs_per_s": round((done + failed) / wall, 2),
            "stopped_early": done + failed < n, "checkpoints": {str(k): v for k, v in sorted(marks.items())}}


def book_text(minutes: float, chars_per_s: float = 14.0) -> tuple[str, int]:
    chars = int(minutes * 60 * chars_per_s)
    chapters, out, para = max(1, round(minutes / 5)), [], 0
    per_chapter = chars // chapters
    for c in range(chapters):
        out.append(f"# Chapter {c + 1}\n")
        size = 0
        while size < per_chapter:
            p = " ".join(f"{sentence(para * 10 + k)[10:]}" for k in range(6))
            out.append(p + "\n")
            size += len(p)
            para += 1
    return "\n".join(out), chapters


def run_book(stack: Stack, minutes: float, deadline: float, every: float) -> dict:
    text, chapters = book_text(minutes)
    started = time.monotonic()
    with Sampler(stack.proc.pid, every) as sampler:
        job_id = stack.submit({"text": text, "text_format": "markdown", "output": {"format": "m4b"}})
        job = stack.status(job_id)
        while job["status"] not in ("succeeded", "failed", "canceled") and time.monotonic() < deadline:
            time.sleep(2)
            job = stack.status(job_id)
    wall = time.monotonic() - started
    result = job.get("result") or {}
    return {"minutes_asked": minutes, "chapters": chapters, "chunks": job["progress"]["total"],
            "status": job["status"], "done": job["progress"]["done"], "wall_s": round(wall, 1),
            "audio_s": result.get("duration_s"), "peak_rss_mib": {k: round(v, 1) for k, v in sampler.peak.items()},
            "after": snapshot(stack.proc.pid)}


def run_mode(mode: str, args) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"soak-{mode}-"))
    stack = Stack(mode, work, args.pg, args.redis)
    try:
        ready = snapshot(stack.proc.pid)
        maps = breakdown(stack.proc.pid)
        checkpoints = sorted({c for c in CHECKPOINTS if c < args.jobs} | {args.jobs})
        jobs = run_jobs(stack, args.jobs, args.window, time.monotonic() + args.max_minutes * 60, checkpoints)
        book = run_book(stack, args.book_minutes, time.monotonic() + args.max_minutes * 60, args.sample_every) \
            if args.book_minutes > 0 else None
    finally:
        stack.stop()
    return {"mode": mode, "ready": ready, "mappings": maps, "jobs": jobs, "book": book}


def _total(snap: dict, metric: str = "rss") -> float:
    return round(sum(r.get(metric, 0.0) for r in snap.values()), 1)


def write_markdown(results: list[dict], path: Path, args) -> None:
    lines = ["# Memory soak: `voxfarm up` under many jobs and a long book", "",
             f"`python scripts/bench_soak.py {' '.join(sys.argv[1:])}` on {os.cpu_count()} CPUs "
             f"({time.strftime('%Y-%m-%d')}). Piper with its bundled voice; every process of the stack "
             "sampled with psutil (RSS; USS = memory only this process holds; PSS = shared pages split).", ""]
    for r in results:
        jobs = r["jobs"]
        lines += [f"## {r['mode']}", "",
                  f"{jobs['done']} jobs succeeded, {jobs['failed']} failed, in {jobs['wall_s']} s "
                  f"({jobs['jobs_per_s']} jobs/s){' (stopped early: time limit)' if jobs['stopped_early'] else ''}.",
                  "", "| after | " + " | ".join(sorted(r["ready"])) + " | total RSS | total USS |",
                  "|---|" + "---|" * (len(r["ready"]) + 2)]
        rows = [("ready", r["ready"]), *((f"{k} jobs", v) for k, v in jobs["checkpoints"].items()),
                *([("after the book", r["book"]["after"])] if r["book"] else [])]
        for label, snap in rows:
            cells = [f"{snap.get(role, {}).get('rss', 0):.0f} / {snap.get(role, {}).get('uss', 0):.0f}"
                     for role in sorted(r["ready"])]
            lines.append(f"| {label} | " + " | ".join(cells) + f" | {_total(snap):.0f} | {_total(snap, 'uss'):.0f} |")
        lines += ["", "(cells: RSS / USS MiB)", ""]
        marks = jobs["checkpoints"]
        if "200" in marks and str(jobs["done"] + jobs["failed"]) in marks:
            a, b = _total(marks["200"]), _total(marks[str(jobs["done"] + jobs["failed"])])
            lines.append(f"Total RSS after 200 jobs {a:.0f} MiB, after {jobs['done'] + jobs['failed']}: {b:.0f} MiB "
                         f"({(b - a) / a * 100:+.1f} %).")
            lines.append("")
        if r["book"]:
            bk = r["book"]
            lines += [f"Book: {bk['minutes_asked']} min asked, {bk['chapters']} chapters, {bk['chunks']} chunks, "
                      f"{bk['status']} ({bk['done']}/{bk['chunks']}), {bk['audio_s']} s of audio in {bk['wall_s']} s; "
                      "peak RSS MiB: " + ", ".join(f"{k} {v:.0f}" for k, v in bk["peak_rss_mib"].items()), ""]
        lines += ["What each process holds when ready (largest resident mappings, MiB):", ""]
        for role, maps in r["mappings"].items():
            lines.append(f"* {role}: " + ", ".join(f"{k} {v}" for k, v in maps))
        lines.append("")
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--modes", default="embedded,prod")
    ap.add_argument("--jobs", type=int, default=2000)
    ap.add_argument("--window", type=int, default=16, help="unfinished jobs at a time")
    ap.add_argument("--book-minutes", type=float, default=120.0, help="expected audio of the long book")
    ap.add_argument("--max-minutes", type=float, default=30.0, help="per phase (jobs, book) and mode")
    ap.add_argument("--sample-every", type=float, default=2.0)
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/11")
    ap.add_argument("--out", default=str(ROOT / "bench" / "soak"))
    args = ap.parse_args()
    results = []
    for mode in args.modes.split(","):
        print(f"soak: {mode} ...", flush=True)
        results.append(run_mode(mode, args))
        Path(args.out + ".json").write_text(json.dumps(results, indent=2))
        write_markdown(results, Path(args.out + ".md"), args)
        print(f"soak: {mode} done: {json.dumps(results[-1]['jobs'])[:400]}", flush=True)


if __name__ == "__main__":
    main()
