"""A newcomer pastes the README's Quick start, top to bottom, and gets audio (#30): `voxfarm up`, a
key, a job by curl, the OpenAI SDK's speech, a book with chapters, and the files where it says.

The script is the README's own: every ```sh block of its "## Quick start" section, in order, run by
bash in a fresh folder holding a copy of the checkout.  Three things change, and only these: the
install line links the clean venv that tests/test_install.py builds (``pip install '.[api,worker]'``
of a copy of the checkout, no test extras: a dependency the quick start needs and the project does
not declare fails here), port 8000 becomes a free port, and the stack runs with ``-e`` so the first
failing step stops the run.  ``VOXFARM_TEST_QUICKSTART`` may name another Markdown file holding the
section (a draft of it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import soundfile as sf
from test_install import source_copy, venvs  # noqa: F401 - shared session fixtures (one venv per extras)

from helpers import ROOT, ffprobe, free_port

SOURCE = Path(os.environ.get("VOXFARM_TEST_QUICKSTART", ROOT / "README.md"))
INSTALL = "python3 -m venv .venv && .venv/bin/pip install -q '.[api,worker]'"


def quickstart_script(markdown: str) -> str:
    section = re.search(r"^## Quick start\n(.*?)(?=^## )", markdown + "\n## end", re.S | re.M)
    assert section, f"{SOURCE} has no '## Quick start' section"
    blocks = re.findall(r"^```sh\n(.*?)^```", section.group(1), re.S | re.M)
    assert len(blocks) >= 3 and INSTALL in blocks[0], "the quick start starts with the install line"
    return "\n".join(blocks)


def test_the_readme_quick_start_gets_audio(venvs, source_copy, tmp_path):  # noqa: F811
    venv = venvs("api,worker")
    work = tmp_path / "voxfarm"
    shutil.copytree(source_copy, work)
    port = free_port()
    script = quickstart_script(SOURCE.read_text())
    script = script.replace(INSTALL, f"ln -s {venv} .venv").replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    script = script.replace("voxfarm up ", f"voxfarm up --port {port} ")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOXFARM_", "PYTHON", "VIRTUAL_ENV"))}
    proc = subprocess.Popen(["bash", "-e", "-c", script], cwd=work, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=900)
    finally:
        for p in psutil.Process(proc.pid).children(recursive=True) if proc.poll() is None else []:
            p.kill()
    log = (work / "voxfarm.log").read_text(errors="replace") if (work / "voxfarm.log").exists() else ""
    assert proc.returncode == 0, out[-4000:] + log[-3000:]
    assert f"voxfarm is ready at http://127.0.0.1:{port}" in out and "keys create" in out
    # the files, where the quick start says they are
    hello = sf.info(str(work / "hello.wav"))
    assert hello.samplerate == 22_050 and 0.8 < hello.duration < 5
    assert (work / "speech.mp3").read_bytes()[:3] in (b"ID3", b"\xff\xfb", b"\xff\xf3")
    assert (work / "speech.mp3").stat().st_size > 4000
    book = ffprobe(work / "story.m4b")
    assert [c["tags"]["title"] for c in book["chapters"]] == ["The Harbour", "The Lighthouse"]
    chapters = sorted(p.name for p in (work / "story-chapters").glob("*.m4b"))
    assert chapters == ["chapter-001.m4b", "chapter-002.m4b"]
    assert all(float(ffprobe(work / "story-chapters" / name)["format"]["duration"]) > 1 for name in chapters)
    jobs = list((work / "var" / "objects" / "tenants").glob("*/jobs/job_*"))
    assert len(jobs) == 3 and any((j / "story.m4b").exists() or list(j.glob("*.m4b")) for j in jobs)
    assert "voxfarm up: stopping" in log  # `kill -INT` stopped it warmly


def test_the_demo_says_what_to_do_next(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXFARM_")}
    env.update(VOXFARM_DEMO_HOME=str(tmp_path), PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo.py")], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert Path(lines[-1]).parent == tmp_path / "out" and sf.info(lines[-1]).duration > 3
    after = proc.stdout.split("next: ", 1)[1]
    for step in ("voxfarm up", "voxfarm keys create", "voxfarm submit", "voxfarm book", "/openapi.json"):
        assert step in after, step
