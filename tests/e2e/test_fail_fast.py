"""Fail fast: a worker whose engine cannot load exits non-zero with the reason before it takes any
message, and ``voxfarm up`` stops with that reason instead of serving jobs that could never run.

Real processes (``python -m cli``), the embedded stack (SQLite, filesystem broker), the Dia engine
pointed at a model directory that does not exist.  The process timeouts are generous limits for a
loaded machine, not timed assertions.
"""

from __future__ import annotations

import subprocess
import sys

from voxfarm.celery_config import CeleryPublisher, make_celery
from voxfarm.core.settings import Settings
from voxfarm.core.state.outbox import RENDER_TASK

from helpers import ROOT, free_port, settings_env


def _queued(settings: Settings, queue: str) -> int:
    return sum(1 for p in (settings.broker_dir / "queue").iterdir() if p.name.endswith(f".{queue}.msg"))


def test_a_worker_pointed_at_a_missing_model_exits_non_zero_before_taking_a_message(settings, tmp_path):
    missing = tmp_path / "no-such-model-dir"
    settings.engines = ["espeak", "dia"]
    CeleryPublisher(make_celery(settings)).publish_many([(RENDER_TASK, ["chunk_waiting"], "tts.dia")])
    assert _queued(settings, "tts.dia") == 1
    env = settings_env(settings, dia_model=str(missing))
    done = subprocess.run([sys.executable, "-m", "voxfarm", "worker", "--engine", "dia", "--name", "dia-missing"],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    out = done.stdout + done.stderr
    assert done.returncode == 3, out[-3000:]
    assert "cannot start" in out and str(missing) in out, out[-3000:]
    assert " ready." not in out  # Celery never started consuming
    assert _queued(settings, "tts.dia") == 1  # the message is still there for a worker that can serve it


def test_voxfarm_up_stops_with_the_reason_when_its_worker_cannot_boot(tmp_path):
    missing = tmp_path / "missing-dia-weights"
    settings = Settings(data_dir=tmp_path / "var")
    env = settings_env(settings, dia_model=str(missing))
    done = subprocess.run([sys.executable, "-m", "voxfarm", "up", "--engine", "dia",
                           "--data-dir", str(tmp_path / "var"), "--port", str(free_port())],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    out = done.stdout + done.stderr
    assert done.returncode == 3, out[-3000:]
    assert str(missing) in out and "embedded worker exited with status 3" in out, out[-3000:]
