"""The total-queue checker (after Jepsen's): outcomes judged from records the harness keeps itself.

For every accepted job the scenario states the final status it expects (``succeeded``, except a
poison job's ``failed``).  The checker then counts, per job:

* **lost**: not terminal when the scenario gave up waiting;
* **unexpected**: terminal, but not in the expected status (a transient fault that failed a job);
* **mismatched**: succeeded, but the bytes stored in S3 (read directly, not through the farm) do not
  hash to the reference: a fault-free render of the same request (tests/faults/reference.py);
* **duplicated**: more than one result object, more than one distinct terminal event (webhook-id)
  for the job, or a chunk rendered more often than the faults can explain -- once, plus once per
  worker death the harness saw (the engine's own render log, tests read it; a poison chunk may use
  all its attempts);
* **webhook problems**: no terminal event delivered to the verifying receiver, or its type is not
  ``job.<final status>``.

Deliveries per event (webhook-id) are counted too: at-least-once delivery may repeat one event.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field

import boto3

TERMINAL = ("succeeded", "failed", "canceled")


@dataclass
class Outcome:
    accepted: int
    succeeded: int
    failed: int
    canceled: int
    lost: int
    duplicated: int
    mismatched: int
    unexpected: int
    webhook_problems: int
    max_deliveries_per_event: int
    max_renders_per_chunk: int
    worker_deaths: int
    recovery_s: float
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.mismatched or self.unexpected or self.webhook_problems)


def _renders(path) -> Counter:
    counts: Counter = Counter()
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                counts[json.loads(line)["text_sha256"]] += 1
    return counts


def _terminal_events(receiver, job_ids: set[str]) -> dict[str, dict[str, list]]:
    """job id -> webhook-id -> the verified deliveries of that terminal event."""
    out: dict[str, dict[str, list]] = {}
    for r in list(receiver.requests):
        if not r.verified or r.json.get("type", "").removeprefix("job.") not in TERMINAL:
            continue
        job_id = r.json["data"]["id"]
        if job_id in job_ids:
            out.setdefault(job_id, {}).setdefault(r.headers["webhook-id"], []).append(r.json)
    return out


def check(farm, recovery_s: float, *, webhook_wait_s: float = 30) -> Outcome:
    jobs = {j: farm.client.get(f"/v1/jobs/{j}").json() for j in farm.accepted}
    status = {j: job["status"] for j, job in jobs.items()}
    counts = Counter(status.values())
    notes: list[str] = []
    unexpected = [j for j, s in status.items() if s in TERMINAL and s != farm.expected.get(j, "succeeded")]
    for j in unexpected:
        notes.append(f"{j}: {status[j]} ({(jobs[j].get('error') or {}).get('code')}), expected "
                     f"{farm.expected.get(j, 'succeeded')}")

    s3 = boto3.client("s3", endpoint_url=farm.s3_direct)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=farm.bucket, Prefix="farm/tenants/")
    stored = [o["Key"] for page in pages for o in page.get("Contents", [])]
    succeeded = [j for j, s in status.items() if s == "succeeded"]
    references = dict(zip(succeeded, farm.reference.sha256([farm.bodies[j] for j in succeeded]), strict=True))
    duplicated: set[str] = set()
    mismatched = 0
    for j in succeeded:
        keys = [k for k in stored if f"/jobs/{j}/audio." in k]
        if len(keys) > 1:
            duplicated.add(j)
            notes.append(f"{j}: {len(keys)} result objects")
        body = s3.get_object(Bucket=farm.bucket, Key=keys[0])["Body"].read() if keys else b""
        if hashlib.sha256(body).hexdigest() != references[j]:
            mismatched += 1
            notes.append(f"{j}: stored result differs from the fault-free reference")

    deaths = farm.worker_deaths()
    renders = _renders(farm.render_log)
    max_renders = 0
    for j in farm.accepted:
        n = renders[hashlib.sha256(farm.bodies[j]["text"].encode()).hexdigest()]
        max_renders = max(max_renders, n)
        bound = farm.settings_max_attempts if farm.expected.get(j) == "failed" else 1 + deaths
        if n > bound:
            duplicated.add(j)
            notes.append(f"{j}: rendered {n} times with {deaths} worker deaths")

    terminal = {j for j, s in status.items() if s in TERMINAL}
    deadline = time.monotonic() + webhook_wait_s  # webhooks may trail the jobs by a retry or two
    while True:
        events = _terminal_events(farm.receiver, terminal)
        if all(j in events for j in terminal) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    webhook_problems = 0
    max_deliveries = 0
    for j in terminal:
        got = events.get(j, {})
        if len(got) > 1:
            duplicated.add(j)
            notes.append(f"{j}: {len(got)} distinct terminal events")
        types = {d[0]["type"] for d in got.values()}
        if types != {f"job.{status[j]}"}:
            webhook_problems += 1
            notes.append(f"{j}: final status {status[j]}, terminal events {sorted(types) or 'none'}")
        max_deliveries = max([max_deliveries, *(len(d) for d in got.values())])
    return Outcome(len(jobs), counts["succeeded"], counts["failed"], counts["canceled"],
                   len(jobs) - len(terminal), len(duplicated), mismatched, len(unexpected), webhook_problems,
                   max_deliveries, max_renders, deaths, round(recovery_s, 1), notes)
