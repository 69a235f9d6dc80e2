"""The repository's shape: module sizes, no runtime files under version control, and one
installed top-level name."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 300
# what a running farm writes: databases, broker messages and exchange tables, audio, logs, pids
RUNTIME_SUFFIXES = {".db", ".sqlite", ".sqlite3", ".msg", ".exchange", ".wav", ".flac", ".mp3", ".ogg", ".m4b",
                    ".m4a", ".opus", ".aac", ".pcm", ".log", ".pid"}


def _tracked() -> list[str]:
    return subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()


def test_no_module_over_300_lines():
    long = {}
    for name in _tracked():
        if name.endswith(".py") and not name.startswith(("migrations/versions/", "scripts/")):
            lines = (ROOT / name).read_text().count("\n")
            if lines > MAX_LINES:
                long[name] = lines
    assert not long, f"split these by what they hold: {long}"


def test_no_runtime_files_under_version_control():
    found = [n for n in _tracked() if Path(n).suffix in RUNTIME_SUFFIXES and not n.startswith("tests/data/")]
    assert not found, found


def test_every_package_is_listed_for_the_installer():
    """pyproject lists the packages by hand (package-dir maps the root to ``voxfarm``): a new
    folder with an __init__.py that is not listed would be missing from every install."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {"voxfarm"} | {"voxfarm." + ".".join(p.parent.relative_to(ROOT).parts)
                             for top in ("api", "core", "worker", "webhooks", "migrations", "cli")
                             for p in (ROOT / top).rglob("__init__.py")}
    assert listed == on_disk


def test_the_wheel_installs_one_top_level_name(tmp_path):
    # built from a copy of the tracked tree: setuptools leaves build/ and *.egg-info in its source
    source = tmp_path / "src"
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    for name in listed:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(source)], check=True, capture_output=True)
    [wheel] = tmp_path.glob("voxfarm-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        [top_level] = [n for n in names if n.endswith(".dist-info/top_level.txt")]
        assert zf.read(top_level).decode().split() == ["voxfarm"]
        [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        assert "voxfarm = voxfarm.cli.main:main" in zf.read(entry_points).decode()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"voxfarm"}
    for module in ("voxfarm/__main__.py", "voxfarm/celery_config.py", "voxfarm/broker_fs.py",
                   "voxfarm/core/jobs/intake.py", "voxfarm/migrations/versions/0001_initial_schema.py",
                   "voxfarm/migrations/script.py.mako"):
        assert module in names
    assert not [n for n in names if n.startswith(("voxfarm/tests/", "voxfarm/scripts/"))]


def test_python_dash_m_voxfarm_runs_the_cli():
    out = subprocess.run([sys.executable, "-m", "voxfarm", "--help"], cwd="/", capture_output=True, text=True,
                         check=True)
    assert "Usage: " in out.stdout and " up " in out.stdout.replace("\n", " ")
