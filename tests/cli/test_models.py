"""``voxfarm models pull`` and ``list`` against a local fake of the model hub (tests/fakehub.py):
files land in the layout the engine loads and a worker boots on them; a connection cut mid-file is
resumed with a Range request; a file whose hash is not the pinned one is refused and not kept; an
interrupted pull keeps what it finished and fetches only the rest; ``list`` names what is missing."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import signal
import subprocess
import sys

import huggingface_hub.constants
import pytest
from click.testing import CliRunner
from fakehub import COMMIT, FakeHub

from voxfarm.cli.main import main
from voxfarm.core.engines import downloads
from voxfarm.core.engines.downloads import MANIFEST, MODELS, UrlFile

from helpers import ROOT, wait_for

UPSTREAM = ("text_encoder.onnx", "fm_decoder.onnx", "tokens.txt", "model.json")


@pytest.fixture
def hub(tiny_zipvoice, monkeypatch):
    """The fake hub serving the tiny ZipVoice export as k2-fsa/ZipVoice's ``zipvoice/`` folder, and its
    vocoder as the one file fetched by URL; the real table otherwise (its repos, paths and layout)."""
    fake = FakeHub()
    fake.add_repo("k2-fsa/ZipVoice", {name: tiny_zipvoice / name for name in UPSTREAM}, prefix="zipvoice/")
    fake.files["vocos_24khz.onnx"] = (tiny_zipvoice / "vocos_24khz.onnx").read_bytes()
    real = MODELS["zipvoice"]
    sources = tuple(dataclasses.replace(s, url=f"{fake.url}/files/vocos_24khz.onnx") if isinstance(s, UrlFile) else s
                    for s in real.sources)
    monkeypatch.setitem(downloads.MODELS, "zipvoice", dataclasses.replace(real, sources=sources))
    monkeypatch.setenv("HF_ENDPOINT", fake.url)
    # tests run with HF_HUB_OFFLINE=1 (tests/conftest.py): lifted for this loopback fake only
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    # the client keeps what it received in whole chunks (10 MB); tiny files need tiny chunks to show it
    monkeypatch.setattr(huggingface_hub.constants, "DOWNLOAD_CHUNK_SIZE", 4096)
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    yield fake
    fake.stop()


def _pull(tmp_path, *args):
    return CliRunner().invoke(main, ["models", "pull", *args, "--data-dir", str(tmp_path / "var")],
                              catch_exceptions=False)


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_pull_writes_the_layout_a_zipvoice_worker_boots_on_resuming_a_cut_download(hub, tiny_zipvoice, tmp_path):
    hub.cut_once.add("zipvoice/fm_decoder.onnx")
    target = tmp_path / "zv"
    result = _pull(tmp_path, "zipvoice", "--dir", str(target))
    assert result.exit_code == 0, result.output
    for name in (*UPSTREAM, "vocos_24khz.onnx"):
        assert _sha(target / name) == _sha(tiny_zipvoice / name), name  # strip="zipvoice/": at the root
    ranges = hub.gets("zipvoice/fm_decoder.onnx")
    assert ranges[0] is None and len(ranges) == 2 and ranges[1].startswith("bytes=")
    assert int(ranges[1].split("=")[1].rstrip("-")) > 0  # resumed where the cut left it, not from 0
    assert f"VOXFARM_ZIPVOICE_MODEL={target}" in result.output
    assert not (target / ".pull").exists()
    # a worker process boots on the folder (its load resolves and opens every file)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXFARM_")}
    env.update(VOXFARM_DATA_DIR=str(tmp_path / "var"), VOXFARM_ZIPVOICE_MODEL=str(target),
               VOXFARM_ENGINES="zipvoice", PYTHONUNBUFFERED="1")
    assert subprocess.run([sys.executable, "-m", "voxfarm", "migrate"], env=env, cwd=ROOT,
                          capture_output=True).returncode == 0
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        worker = subprocess.Popen([sys.executable, "-m", "voxfarm", "worker", "--engine", "zipvoice"], env=env,
                                  cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: "ready: engine=zipvoice" in log.read_text() or worker.poll() is not None, timeout=120,
                 what="zipvoice worker")
        assert worker.poll() is None, log.read_text()[-3000:]
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)


def test_a_hash_mismatch_is_refused_and_a_second_pull_fetches_only_the_rest(hub, tmp_path, monkeypatch):
    real = downloads.MODELS["zipvoice"]
    hub_source = real.sources[0]
    wrong = dataclasses.replace(hub_source, sha256={"zipvoice/tokens.txt": "0" * 64})
    monkeypatch.setitem(downloads.MODELS, "zipvoice", dataclasses.replace(real, sources=(wrong, *real.sources[1:])))
    target = tmp_path / "zv"
    first = CliRunner().invoke(main, ["models", "pull", "zipvoice", "--dir", str(target)])
    assert first.exit_code != 0 and "tokens.txt" in first.output and "0" * 64 in first.output
    assert not (target / "tokens.txt").exists()  # the refused file is not kept
    kept = sorted(p.name for p in target.iterdir() if p.is_file() and p.name != MANIFEST)
    assert kept == ["fm_decoder.onnx", "model.json", "text_encoder.onnx"]  # fetched before the bad one
    monkeypatch.setitem(downloads.MODELS, "zipvoice", real)
    hub.requests.clear()
    second = _pull(tmp_path, "zipvoice", "--dir", str(target))
    assert second.exit_code == 0, second.output
    assert hub.gets("zipvoice/fm_decoder.onnx") == hub.gets("zipvoice/text_encoder.onnx") == []
    assert len(hub.gets("zipvoice/tokens.txt")) == 1 and len(hub.gets("/files/vocos_24khz.onnx")) == 1
    assert "kept     fm_decoder.onnx" in second.output


def test_list_shows_where_models_are_and_what_is_missing(hub, tmp_path):
    assert _pull(tmp_path, "zipvoice").exit_code == 0  # the default folder: <data dir>/models/zipvoice
    folder = tmp_path / "var" / "models" / "zipvoice"
    listed = CliRunner().invoke(main, ["models", "list", "--data-dir", str(tmp_path / "var")])
    assert f"zipvoice: {folder} (pulled): complete" in listed.output, listed.output
    assert "dia: not installed (voxfarm models pull dia" in listed.output
    (folder / "tokens.txt").unlink()
    listed = CliRunner().invoke(main, ["models", "list", "--data-dir", str(tmp_path / "var")])
    assert f"zipvoice: {folder} (pulled): missing tokens.txt" in listed.output, listed.output


def test_a_pattern_the_revision_lacks_stops_the_pull(hub, tmp_path, monkeypatch):
    real = downloads.MODELS["zipvoice"]
    renamed = dataclasses.replace(real.sources[0], patterns=("zipvoice/text_encoder_v2.onnx",))
    monkeypatch.setitem(downloads.MODELS, "zipvoice", dataclasses.replace(real, sources=(renamed,)))
    result = CliRunner().invoke(main, ["models", "pull", "zipvoice", "--dir", str(tmp_path / "zv")])
    assert result.exit_code != 0
    assert f"k2-fsa/ZipVoice@{COMMIT}: nothing matches zipvoice/text_encoder_v2.onnx" in result.output


def test_the_table_pins_what_it_can_and_every_layout_is_one_engines():
    assert MODELS["kokoro"].sources[1].revision == "fbba31e67ad83eb66394c926627e99d35abeb087"
    assert all(len(v) == 64 for v in MODELS["kokoro"].sources[0].sha256.values())
    assert MODELS["dia"].sources[1].into == "dac/"  # where worker/engines/dia_setup.py looks for the codec
    assert {m.env for m in MODELS.values()} == {"VOXFARM_KOKORO_MODEL", "VOXFARM_ZIPVOICE_MODEL", "VOXFARM_DIA_MODEL",
                                                "VOXFARM_SPEAKER_MODEL", "VOXFARM_ASR_MODEL"}
