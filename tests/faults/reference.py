"""The fault suite's independent reference: sha256 of a fault-free render of the same request.

A separate embedded farm (SQLite, local disk, filesystem broker: none of the components the faulty
farm breaks) renders each distinct request once, on the deterministic ``tone`` engine; the harness
downloads the audio and hashes the bytes itself.  A faulty farm's result must equal it byte for
byte: a result from another request, a truncated upload, or a render that a fault corrupted all
differ.  The reference farm is started on first use and shared by every scenario of a session.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from voxfarm.core.migrate import upgrade
from voxfarm.core.settings import BatchSettings, Settings

from helpers import ApiClient, Proc, create_key, start_api, start_worker


class Reference:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._cache: dict[str, str] = {}
        self._procs: list[Proc] = []
        self.client: ApiClient | None = None

    @staticmethod
    def _key(body: dict) -> str:
        return json.dumps(body, sort_keys=True)

    def _start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        settings = Settings(data_dir=self.workdir / "var", engines=["tone"], default_engine="tone",
                            batch={"tone": BatchSettings(max_batch_size=8, max_wait_ms=20)})
        upgrade(settings)
        api, url = start_api(settings, self.workdir)
        worker = start_worker(settings, self.workdir, engine="tone", name="reference",
                              queues="tts.tone,control,webhooks", beat=True)
        self._procs = [api, worker]
        Proc.running = [p for p in Proc.running if p not in self._procs]  # outlives each test's cleanup
        self.client = ApiClient(url, create_key(settings, "reference"))

    def sha256(self, bodies: list[dict]) -> list[str]:
        """The reference sha256 of each request body (rendered once per distinct body)."""
        todo = {self._key(b): b for b in bodies if self._key(b) not in self._cache}
        if todo:
            if self.client is None:
                self._start()
            ids = {}
            for key, body in todo.items():
                resp = self.client.post("/v1/jobs", json=body)
                assert resp.status_code == 202, resp.text
                ids[key] = resp.json()["id"]
            for key, job_id in ids.items():
                job = self.client.wait(job_id, timeout=300)
                assert job["status"] == "succeeded", job
                audio = self.client.get(f"/v1/jobs/{job_id}/audio", allow_redirects=True)
                assert audio.status_code == 200, audio.text
                self._cache[key] = hashlib.sha256(audio.content).hexdigest()
        return [self._cache[self._key(b)] for b in bodies]

    def close(self) -> None:
        for proc in self._procs:
            proc.stop(timeout=20)
        self._procs = []
