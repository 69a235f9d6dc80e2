"""broker_fs: the embedded broker delivers every message whole, under concurrent bursts.

Stock kombu 5 filesystem transport, same load, same machine: consumers took empty message files
(``JSONDecodeError``), two of three crashed and messages were lost (see the report in the module
docstring of broker_fs.py).  These tests use real processes on one broker folder.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path

from kombu import Connection

from voxfarm.core.settings import Settings

from helpers import ROOT, settings_env, wait_for

TRANSPORT = "voxfarm.broker_fs:Transport"
PRODUCERS, CONSUMERS, PER_PRODUCER = 4, 3, 1500


def _options(folder: Path) -> dict:
    return {"data_folder_in": str(folder / "queue"), "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"), "control_folder": str(folder / "control"),
            "store_processed": False, "polling_interval": 0}


def _produce(folder: Path, producer: int) -> None:
    with Connection("filesystem://", transport=TRANSPORT, transport_options=_options(folder)) as conn:
        queue = conn.SimpleQueue("burst")
        for i in range(PER_PRODUCER):  # ~2 kB each, as fast as the disk takes them
            queue.put({"producer": producer, "i": i, "pad": "x" * 2000})
        queue.close()


def _consume(folder: Path, out: Path) -> None:
    got = []
    try:
        with Connection("filesystem://", transport=TRANSPORT,
                        transport_options=_options(folder)) as conn:
            queue = conn.SimpleQueue("burst")
            while True:
                try:
                    message = queue.get(block=True, timeout=0.5)
                except queue.Empty:
                    if (folder / "producers-done").exists():
                        break
                    continue
                got.append([message.payload["producer"], message.payload["i"]])
                message.ack()
    finally:
        out.write_text(json.dumps(got))


def test_concurrent_producers_and_consumers_get_every_message_exactly_once(tmp_path):
    for sub in ("queue", "processed"):
        (tmp_path / sub).mkdir()
    ctx = mp.get_context("spawn")
    consumers = [ctx.Process(target=_consume, args=(tmp_path, tmp_path / f"c{k}.json")) for k in range(CONSUMERS)]
    producers = [ctx.Process(target=_produce, args=(tmp_path, p)) for p in range(PRODUCERS)]
    for proc in consumers + producers:
        proc.start()
    for proc in producers:
        proc.join(300)
    (tmp_path / "producers-done").touch()
    for proc in consumers:
        proc.join(300)
    assert [p.exitcode for p in producers + consumers] == [0] * (PRODUCERS + CONSUMERS)
    got = [tuple(x) for k in range(CONSUMERS) for x in json.loads((tmp_path / f"c{k}.json").read_text())]
    assert len(got) == len(set(got)) == PRODUCERS * PER_PRODUCER
    assert set(got) == {(p, i) for p in range(PRODUCERS) for i in range(PER_PRODUCER)}
    assert not [n for n in os.listdir(tmp_path / "queue") if not n.endswith(".exchange")]  # no leftovers


def _send_burst(data_dir: str, first: int, count: int, log: str) -> None:
    os.environ["VOXFARM_DATA_DIR"] = data_dir
    from broker_probe_app import probe

    for n in range(first, first + count):  # a mix of immediate, ETA'd and self-retrying tasks
        probe.apply_async(args=[n, n % 3, log], countdown=(n % 4) * 0.25 or None)


def test_a_celery_worker_survives_bursts_of_publishes_retries_and_etas(tmp_path):
    settings = Settings(data_dir=tmp_path / "var")
    log = tmp_path / "done.log"
    env = {**settings_env(settings), "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"}
    worker_log = open(tmp_path / "worker.log", "wb")
    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "broker_probe_app", "worker", "-P", "threads",
                               "-c", "8", "-Q", "probe", "--without-mingle", "--without-gossip", "-l", "INFO"],
                              cwd=ROOT / "tests", env=env, stdout=worker_log, stderr=subprocess.STDOUT)
    try:
        sys.path.insert(0, str(ROOT / "tests"))
        os.environ["VOXFARM_DATA_DIR"] = str(settings.data_dir)
        ctx = mp.get_context("spawn")
        senders = [ctx.Process(target=_send_burst, args=(str(settings.data_dir), k * 200, 200, str(log)))
                   for k in range(3)]
        for proc in senders:
            proc.start()
        for proc in senders:
            proc.join(300)
        assert [p.exitcode for p in senders] == [0, 0, 0]
        wait_for(lambda: log.exists() and len(log.read_text().split()) >= 600 or worker.poll() is not None,
                 timeout=300, interval=0.5, what="600 probe tasks done")
        time.sleep(1)  # a duplicate would land right after the last original
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
        done = [int(n) for n in log.read_text().split()]
        assert sorted(done) == list(range(600))  # each task finished exactly once, retries included
    finally:
        os.environ.pop("VOXFARM_DATA_DIR", None)
        worker.terminate()
        worker.wait(60)
        worker_log.close()
    assert "Unrecoverable error" not in (tmp_path / "worker.log").read_text()
