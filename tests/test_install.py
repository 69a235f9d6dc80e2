"""The documented installs run the farm: each extra set goes into a clean venv (no test extras,
normal dependency resolution, a copy of the checkout so no in-tree build state helps), and
the venv's own ``voxfarm`` runs the API and a worker against Redis: espeak for the base installs,
Dia on a tiny local checkpoint for ``.[worker,dia]``, and ZipVoice with the speaker gate on a tiny
ECAPA for ``.[worker,speaker]``.

This is what a new user does (``pip install '.[api,worker]'``); a dependency that only the
test extras or the development venv happen to provide (kombu's Redis transport needs
``packaging``, declared by ``celery[redis]``) makes these tests fail.  pip's wheel cache makes
a venv about 20 s after the first one (the torch ones about 2 min: 4.6 GB of CUDA wheels unpacked);
each is built once per session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import soundfile as sf

from helpers import ROOT, ApiClient, free_port, tone, wait_for, wav_bytes

# the installs the README documents: everything on one host, and the API and worker hosts apart
EXTRA_SETS = ("api,worker", "api", "worker")
_SKIP_ANYWHERE = shutil.ignore_patterns(".git", ".venv", "*.egg-info", "__pycache__")
# runtime and download folders at the root only: core/models/ is code, /models/ is downloaded weights
_SKIP_AT_ROOT = {"var", "out", "build", "dist", "tests", "bench", "models", ".device", ".whl"}


def _skip_in_copy(folder: str, names: list[str]) -> set[str]:
    skipped = set(_SKIP_ANYWHERE(folder, names))
    if Path(folder).resolve() == ROOT.resolve():
        skipped |= _SKIP_AT_ROOT & set(names)
    return skipped


@pytest.fixture(scope="session")
def source_copy(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("src") / "voxfarm"
    shutil.copytree(ROOT, dest, ignore=_skip_in_copy)
    return dest


_BUILT: dict[str, Path] = {}  # one venv per extras for the session, whichever module asks first


@pytest.fixture(scope="session")
def venvs(tmp_path_factory, source_copy):
    """extras -> a venv with ``pip install '<checkout>[extras]'``, built on first use (the quick
    start, tests/cli/test_quickstart.py, imports this fixture and shares the venvs)."""
    built = _BUILT

    def get(extras: str) -> Path:
        if extras not in built:
            venv = tmp_path_factory.mktemp("venv-" + extras.replace(",", "-"))
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                                  f"{source_copy}[{extras}]"], capture_output=True, text=True)
            assert pip.returncode == 0, pip.stderr[-3000:]
            built[extras] = venv
        return built[extras]

    return get


def _env(data_dir: Path, redis_url: str, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VOXFARM_", "PYTHON", "VIRTUAL_ENV", "HF_"))}
    env.update(VOXFARM_DATA_DIR=str(data_dir), VOXFARM_BROKER_URL=redis_url, PYTHONUNBUFFERED="1",
               # an empty HF cache: a checkpoint that is not the local dir cannot come from anywhere
               HF_HOME=str(data_dir.parent / "hf-home"))
    env.update({f"VOXFARM_{k.upper()}": v for k, v in settings.items()})
    return env


def _run(venv: Path, *args: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / "voxfarm"), *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120)


class _Started:
    def __init__(self, venv: Path, args: list[str], env: dict, cwd: Path, log: Path) -> None:
        self.log_path = log
        self._fh = open(log, "wb")
        self.popen = subprocess.Popen([str(venv / "bin" / "voxfarm"), *args], env=env, cwd=cwd,
                                      stdout=self._fh, stderr=subprocess.STDOUT, start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, 9)
        self.popen.wait(timeout=30)
        self._fh.close()


class _Farm:
    """The API and one worker, each from its own venv (cwd outside the checkout, so nothing is
    imported from it), migrated and ready, with a key."""

    def __init__(self) -> None:
        self.procs: list[_Started] = []

    def start(self, api_venv: Path, worker_venv: Path, tmp_path: Path, redis_url: str, engine: str,
              **settings: str) -> _Farm:
        settings.setdefault("engines", engine)  # the API serves the worker's engine (piper by default)
        self.env = env = _env(tmp_path / "var", redis_url, **settings)
        self.api_venv, self.tmp = api_venv, tmp_path
        migrated = _run(api_venv, "migrate", env=env, cwd=tmp_path)
        assert migrated.returncode == 0, migrated.stderr[-3000:]
        port = free_port()
        self.url = url = f"http://127.0.0.1:{port}"
        env["VOXFARM_PUBLIC_URL"] = url
        self.worker = _Started(worker_venv, ["worker", "--engine", engine, "--queues",
                                             f"tts.{engine},control,webhooks"], env, tmp_path, tmp_path / "worker.log")
        self.procs.append(self.worker)
        wait_for(lambda: " ready." in self.worker.log() or self.worker.popen.poll() is not None, timeout=180,
                 what="worker")
        assert self.worker.popen.poll() is None, self.worker.log()[-3000:]
        api = _Started(api_venv, ["api", "--port", str(port), "--workers", "1"], env, tmp_path, tmp_path / "api.log")
        self.procs.append(api)

        def ready():
            if api.popen.poll() is not None:
                return True
            try:
                return requests.get(f"{url}/readyz", timeout=2)
            except requests.RequestException:
                return None

        resp = wait_for(ready, timeout=60, what="api")
        assert resp is not True, api.log()[-3000:]
        assert resp.status_code == 200, (resp.text, api.log()[-3000:])
        assert resp.json()["checks"]["broker"] == "ok"
        created = _run(api_venv, "keys", "create", "--tenant", "install", env=env, cwd=tmp_path)
        assert created.returncode == 0, created.stderr[-3000:]
        self.client = ApiClient(url, created.stdout.strip().splitlines()[-1])
        return self

    def render(self, body: dict, timeout: float = 180) -> tuple[dict, Path]:
        """Submit ``body``, wait for it to succeed, and download its audio."""
        resp = self.client.post("/v1/jobs", json=body)
        assert resp.status_code == 202, resp.text
        done = self.client.wait(resp.json()["id"], timeout=timeout)
        assert done["status"] == "succeeded", (done, self.worker.log()[-3000:])
        out = self.tmp / f"{done['id']}.wav"
        out.write_bytes(self.client.get(f"/v1/jobs/{done['id']}/audio").content)
        return done, out

    def stop(self) -> None:
        for proc in self.procs:
            proc.stop()


@pytest.fixture
def farm(redis_url):
    """``farm(api_venv, worker_venv, tmp_path, engine, **settings)`` -> a started _Farm, stopped after."""
    if redis_url is None:
        pytest.skip("needs Redis (fails instead under CI=true)")
    started: list[_Farm] = []

    def start(api_venv: Path, worker_venv: Path, tmp_path: Path, engine: str = "espeak", **settings: str) -> _Farm:
        started.append(_Farm())  # listed before it starts: a start that fails half-way is stopped too
        return started[-1].start(api_venv, worker_venv, tmp_path, redis_url, engine, **settings)

    yield start
    for f in started:
        f.stop()


def _espeak_renders(f: _Farm) -> None:
    _done, out = f.render({"text": "A clean install renders this sentence."}, timeout=120)
    info = sf.info(str(out))
    assert info.samplerate == 22_050 and 1.0 < info.duration < 6.0


def test_api_and_worker_extras_run_distributed_mode(venvs, farm, tmp_path):
    venv = venvs("api,worker")
    _espeak_renders(farm(venv, venv, tmp_path))


def test_api_host_and_worker_host_installs_apart(venvs, farm, tmp_path):
    api_venv, worker_venv = venvs("api"), venvs("worker")
    # what each host must not carry: the API has no engine library, the worker host no web stack
    assert not list((api_venv / "lib").glob("python3*/site-packages/espeakng_loader"))
    assert not list((worker_venv / "lib").glob("python3*/site-packages/flask"))
    _espeak_renders(farm(api_venv, worker_venv, tmp_path))


def _site(venv: Path, package: str) -> list[Path]:
    return list((venv / "lib").glob(f"python3*/site-packages/{package}"))


def test_dia_extra_renders_from_a_local_checkpoint(venvs, farm, tmp_path, tiny_dia):
    """``.[worker,dia]`` on a worker host: Dia loads the local checkpoint (HF cache empty) and renders."""
    worker_venv = venvs("worker,dia")
    assert _site(worker_venv, "torch") and _site(worker_venv, "transformers") and not _site(worker_venv, "flask")
    f = farm(venvs("api"), worker_venv, tmp_path, "dia", engines="espeak,dia", dia_model=str(tiny_dia),
             quality_gate="false")
    done, out = f.render({"text": "[S1] A Dia worker from a clean install.", "engine": "dia",
                          "params": {"max_new_tokens": 60, "seed": 3}}, timeout=300)
    info = sf.info(str(out))
    assert done["engine"] == "dia" and info.samplerate == 44_100 and info.frames > 0


def test_speaker_extra_gates_a_cloning_worker(venvs, farm, tmp_path, tiny_zipvoice, tiny_ecapa):
    """``.[worker,speaker]``: registration embeds the prompt on the worker (control queue), and the
    rendered chunk's recorded similarity equals the cosine this process computes itself."""
    from voxfarm.core.audio.arrays import decode_bytes
    from voxfarm.core.voices.speaker import cosine
    from voxfarm.worker.speaker import SpeakerEncoder

    worker_venv = venvs("worker,speaker")
    assert _site(worker_venv, "speechbrain") and not _site(worker_venv, "flask")
    f = farm(venvs("api"), worker_venv, tmp_path, "zipvoice", engines="espeak,zipvoice",
             zipvoice_model=str(tiny_zipvoice), speaker_model=str(tiny_ecapa), quality_gate="false")
    resp = f.client.post("/v1/voices", data={"name": "mine", "transcript": "These are my reference words."},
                         files={"audio_file": ("v.wav", wav_bytes(tone(2.0, 44100, 220)))})
    assert resp.status_code == 201, resp.text
    voice_id = resp.json()["id"]
    voice = wait_for(lambda: (v := f.client.get(f"/v1/voices/{voice_id}?include=embedding").json())
                     .get("embedding") and v, timeout=60, what="embedding")
    assert len(voice["embedding"]) == 192 and voice["embedding_model"]
    done, out = f.render({"text": "The farm speaks in my voice now.", "engine": "zipvoice", "voice_id": voice_id,
                          "params": {"num_steps": 4, "seed": 7}})
    chunk = f.client.get(f"/v1/jobs/{done['id']}/chunks").json()["chunks"][0]
    encoder = SpeakerEncoder(str(tiny_ecapa))
    encoder.load()
    assert encoder.model_id == voice["embedding_model"]
    audio, rate = decode_bytes(out.read_bytes())
    want = cosine(encoder.embed(audio, rate), voice["embedding"])
    assert chunk["speaker_similarity"] == pytest.approx(want, abs=2e-3)
