"""The client commands a new user reaches for (#30), against one embedded stack on its defaults
(piper and its bundled voice): one-line errors, --voice on a pre-made voice, every format the API
writes, book --param, status -o and download, Ctrl-C that leaves the job running, and progress
that a log can read."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from tests.cli.test_cli import _env, voxfarm

from helpers import ROOT, free_port, wait_for

SENTENCE = "The lighthouse keeper counted the ships."


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """`voxfarm up` on its defaults, a key, and the env the client commands run with."""
    tmp = tmp_path_factory.mktemp("client")
    env = _env(tmp)
    env.pop("VOXFARM_ENGINES", None)  # the product default, not the suite's espeak
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(tmp / "up.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "voxfarm", "up", "--port", str(port)], env=env, cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: "voxfarm is ready at" in (tmp / "up.log").read_text() or proc.poll() is not None,
                 timeout=180, what="voxfarm up")
        assert proc.poll() is None, (tmp / "up.log").read_text()[-3000:]
        key = voxfarm("keys", "create", "--tenant", "newuser", env=env).stdout.strip().splitlines()[-1]
        env.update(VOXFARM_URL=url, VOXFARM_API_KEY=key)
        yield env, tmp
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def _job(env, job_id: str) -> dict:
    return requests.get(f"{env['VOXFARM_URL']}/v1/jobs/{job_id}",
                        headers={"Authorization": f"Bearer {env['VOXFARM_API_KEY']}"}, timeout=10).json()


def test_a_missing_text_file_is_one_line(tmp_path):
    proc = voxfarm("submit", f"@{tmp_path / 'nope.txt'}", "--url", "http://127.0.0.1:9", env=_env(tmp_path))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    missing = tmp_path / "nope.txt"
    assert proc.stderr.strip().splitlines() == [f"Error: cannot read {missing}: No such file or directory"]


def test_voice_picks_a_premade_voice_and_every_format_is_written(stack):
    env, tmp = stack
    magic = {"opus": b"OggS", "m4a": b"ftyp"}
    for fmt in ("wav", "opus", "aac", "m4a", "pcm", "mp3_v0"):
        out = tmp / f"joe.{fmt}"
        args = ["submit", SENTENCE, "--voice", "en_US-joe-medium", "--format", fmt, "-o", str(out)]
        proc = voxfarm(*args, env=env, timeout=180)
        assert proc.returncode == 0, proc.stderr[-2000:]
        data = out.read_bytes()
        assert len(data) > 2000, fmt
        if fmt in magic:
            assert magic[fmt] in data[:64], (fmt, data[:64])
        if fmt == "mp3_v0":
            assert data[:3] == b"ID3" or data[0] == 0xFF
        if fmt == "aac":
            assert data[0] == 0xFF and data[1] & 0xF0 == 0xF0  # ADTS sync word
        if fmt == "pcm":
            assert len(data) % 2 == 0 and not data.startswith(b"RIFF")  # raw s16le, no header
    job_id = proc.stdout.split("job ")[1].split()[0]
    job = _job(env, job_id)
    assert job["params"]["voice"] == "en_US-joe-medium" and job["voice_id"] is None
    assert job["output"]["preset"] == "mp3_v0"


def test_status_o_and_download_fetch_a_job_progress_reads_in_a_log(stack):
    env, tmp = stack
    sub = voxfarm("submit", "One line. Then another one. And a third line.", "--wait", env=env, timeout=180)
    assert sub.returncode == 0, sub.stderr[-2000:]
    job_id = json.loads(sub.stdout)["id"]
    # not a terminal: one line per change of count or state, never a redrawn bar
    assert "\r" not in sub.stderr
    lines = [ln for ln in sub.stderr.splitlines() if ln.startswith(job_id)]
    assert lines and lines[-1].startswith(f"{job_id}: ") and "succeeded" in lines[-1], sub.stderr
    assert len(lines) == len(set(lines)) and len(lines) <= 12, lines
    got = voxfarm("status", job_id, "-o", str(tmp / "status.wav"), env=env)
    assert got.returncode == 0 and (tmp / "status.wav").stat().st_size > 1000, got.stderr
    plain = subprocess.run([sys.executable, "-m", "voxfarm", "download", job_id], env=env, cwd=tmp,
                           capture_output=True, text=True, timeout=60)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.strip() == str(tmp / f"{job_id}.wav") and (tmp / f"{job_id}.wav").stat().st_size > 1000
    nofile = voxfarm("download", job_id, "--file", "chapter-009.wav", env=env)  # one line, not a traceback
    assert nofile.returncode == 1 and len(nofile.stderr.strip().splitlines()) == 1, nofile.stderr
    assert "has no file 'chapter-009.wav'" in nofile.stderr
    missing = voxfarm("download", "job_01ABCDEFGHJKMNPQRSTVWXYZ01", env=env)
    assert missing.returncode == 1 and missing.stderr.strip().splitlines() == [
        "Error: 404 not_found: job job_01ABCDEFGHJKMNPQRSTVWXYZ01 not found"]


def test_book_param_and_ctrl_c_leaves_the_job_running(stack):
    env, tmp = stack
    book = tmp / "tides.md"
    book.write_text("\n\n".join(f"# Part {i}\n\n" + " ".join(f"The tide came in at dawn on day {i}, wave {j}."
                                                             for j in range(12)) for i in range(1, 5)))
    proc = subprocess.Popen([sys.executable, "-m", "voxfarm", "book", str(book), "-o", str(tmp / "t.mp3"),
                             "--param", "speed=1.25", "--voice", "en_US-joe-medium"], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    before = _latest(env)
    job_id = wait_for(lambda: (_latest(env) != before) and _latest(env), timeout=60, what="the book's job")
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Aborted!" not in err and f"job {job_id} goes on rendering" in err, err
    assert f"voxfarm download {job_id} -o {tmp / 't.mp3'} --wait" in err and f"voxfarm cancel {job_id}" in err
    job = _job(env, job_id)
    assert job["status"] in ("queued", "running") and job["params"]["speed"] == 1.25
    canceled = voxfarm("cancel", job_id, env=env)
    assert canceled.returncode == 0 and _job(env, job_id)["status"] == "canceled", canceled.stderr


def _latest(env) -> str | None:
    data = requests.get(f"{env['VOXFARM_URL']}/v1/jobs?limit=1",
                        headers={"Authorization": f"Bearer {env['VOXFARM_API_KEY']}"}, timeout=10).json()["data"]
    return data[0]["id"] if data else None
