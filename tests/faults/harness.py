"""Fault-injection harness: a whole farm of real processes, with handles to break each dependency.

* Redis: a private ``redis-server`` on a free port (AOF on), so it can really be killed,
  restarted and flushed without touching the machine's shared instance.
* PostgreSQL: the real server behind a TCP proxy; "restarting" it severs every connection and
  refuses new ones for a while -- what clients see of a restart (the data is durable either way).
* S3: moto behind an HTTP proxy that can answer 500 InternalError for a while.
* Webhooks: a real receiver verifying every request; the tenant's default endpoint points at it.

Jobs render on the deterministic ``tone`` engine, which sleeps per batch (so a batch can be killed
on the engine) and logs every render; ``check()`` (tests/faults/checker.py) judges each job's final
status, result bytes (against a fault-free reference render), render count and webhook events.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import boto3

from tests.faults.checker import Outcome, check
from tests.faults.proxies import PrivateRedis, S3FaultProxy, TcpProxy
from tests.faults.reference import Reference
from tests.webhooks.receiver import Receiver
from voxfarm.core.settings import BatchSettings, Settings

from helpers import ApiClient, Proc, create_key, start_api, start_worker, wait_for

# infra_retry_cap_s: outages here last seconds, not hours; 4 s keeps recovery visible in the figures
FAST = dict(lease_s=4, heartbeat_s=1, reconcile_interval_s=1, requeue_after_s=3, resend_grace_s=2,
            max_attempts=3, webhook_schedule_s="0,0.5,1,1,2,2,3,3", webhook_jitter=0, infra_retry_cap_s=4,
            tone_batch_ms=800)


class Supervisor:
    """Restart a worker whenever it dies (as systemd or Kubernetes would), until stopped."""

    def __init__(self, start) -> None:
        self._start = start
        self.proc: Proc = start()
        self.restarts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.5):
            if not self.proc.alive():
                self.restarts += 1
                self.proc = self._start()

    def stop(self) -> None:
        # join first: a restart in progress (start waits for "ready") would otherwise put a fresh
        # worker in self.proc after it was stopped, and that worker outlived the test (seen: 34 left)
        self._stop.set()
        self._thread.join(timeout=180)
        self.proc.stop()


class Farm:
    def __init__(self, tmp: Path, *, pg_url: str | None, s3_endpoint: str, reference: Reference,
                 engine: str = "tone", appendonly: bool = True, **overrides) -> None:
        self.tmp = tmp
        self.reference = reference
        self.render_log = tmp / "renders.log"  # the tone engine's own record of every render
        self.redis = PrivateRedis(tmp / "redis", appendonly=appendonly)
        self.pg_proxy = None
        db_url = None
        if pg_url:
            from urllib.parse import urlsplit

            parts = urlsplit(pg_url.replace("postgresql+psycopg", "postgresql"))
            self.pg_proxy = TcpProxy(parts.hostname, parts.port or 5432)
            db_url = pg_url.replace(f"{parts.hostname}:{parts.port or 5432}", f"127.0.0.1:{self.pg_proxy.port}")
        self.s3_direct = s3_endpoint
        self.s3 = S3FaultProxy(s3_endpoint)
        bucket = f"faults-{os.urandom(4).hex()}"
        boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
        self.bucket = bucket
        self.engine = engine
        env = {**FAST, "tone_render_log": str(self.render_log), **overrides}
        self.env = env
        self.settings_max_attempts = int(env["max_attempts"])
        self.settings = Settings(
            data_dir=tmp / "var", database_url=db_url, broker_url=self.redis.url,
            storage_url=f"s3://{bucket}/farm", outbound_allowlist=["127.0.0.1/32"], engines=[engine],
            default_engine=engine, batch={engine: BatchSettings(max_batch_size=4, max_wait_ms=300)})
        from voxfarm.core.migrate import upgrade

        if db_url:
            from sqlalchemy import create_engine, text

            eng = create_engine(db_url)
            with eng.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public;"))
            eng.dispose()
        upgrade(self.settings)
        self._saved_endpoint = os.environ.get("AWS_ENDPOINT_URL")
        os.environ["AWS_ENDPOINT_URL"] = self.s3.url  # children inherit the faulty path (restored in close)
        self.api, self.url = start_api(self.settings, tmp, **env)
        self.client = ApiClient(self.url, create_key(self.settings, "faults"))
        secret = self.client.get("/v1/webhooks/secret").json()["secret"]
        self.receiver = Receiver([secret])
        assert self.client.put("/v1/webhooks/endpoint", json={"url": self.receiver.url}).status_code == 200
        self.workers: list[Supervisor] = []
        self.accepted: list[str] = []
        self.bodies: dict[str, dict] = {}  # job id -> the request body (for the reference render)
        self.expected: dict[str, str] = {}  # job id -> expected final status (default succeeded)

    def worker(self, name: str = "w1", *, control: bool = True, concurrency: int | None = None,
               supervised: bool = True, **extra) -> Supervisor | Proc:
        queues = f"tts.{self.engine}" + (",control,webhooks" if control else "")

        def start():
            return start_worker(self.settings, self.tmp, engine=self.engine, name=name, queues=queues,
                                beat=control, concurrency=concurrency, **{**self.env, **extra})

        if not supervised:
            return start()
        sup = Supervisor(start)
        self.workers.append(sup)
        return sup

    def body(self, text: str, seed: int = 0) -> dict:
        return {"text": text, "engine": self.engine, "params": {"seed": seed}}

    def submit(self, n: int, text: str = "Reliability sentence number {i} for the checker.",
               expect: str = "succeeded") -> list[str]:
        ids = []
        for i in range(n):
            payload = self.body(text.format(i=i), seed=i)
            resp = self.client.post("/v1/jobs", json=payload)
            assert resp.status_code == 202, resp.text
            ids.append(self.record(resp.json()["id"], payload, expect))
        return ids

    def record(self, job_id: str, body: dict, expect: str = "succeeded") -> str:
        self.accepted.append(job_id)
        self.bodies[job_id], self.expected[job_id] = body, expect
        return job_id

    def worker_deaths(self) -> int:
        return sum(sup.restarts for sup in self.workers)

    def statuses(self) -> dict[str, str]:
        return {j: self.client.get(f"/v1/jobs/{j}").json()["status"] for j in self.accepted}

    def wait_terminal(self, timeout: float = 180) -> float:
        start = time.monotonic()
        try:
            wait_for(lambda: all(s in ("succeeded", "failed", "canceled") for s in self.statuses().values()),
                     timeout=timeout, interval=0.5, what="every accepted job terminal")
        except TimeoutError:
            pass
        return time.monotonic() - start

    def check(self, recovery_s: float) -> Outcome:
        return check(self, recovery_s)

    def close(self) -> None:
        for sup in self.workers:
            sup.stop()
        self.api.stop()
        Proc.kill_all()
        self.receiver.stop()
        self.s3.stop()
        if self._saved_endpoint is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = self._saved_endpoint
        if self.pg_proxy:
            self.pg_proxy.down()
        self.redis.kill()
