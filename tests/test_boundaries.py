"""Import boundaries: core imports no Flask, Celery or torch; the API imports no torch or worker
code; listing engines imports no torch.  Checked in fresh interpreters (sys.modules) and
statically (every import statement)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _modules(package: str) -> list[str]:
    return sorted(".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                  for p in (ROOT / package).rglob("*.py"))


def _loaded_after(imports: list[str]) -> set[str]:
    code = ("import importlib, json, sys\n"
            f"for m in {imports!r}: importlib.import_module(m)\n"
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def _static_imports(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            found.setdefault(str(path.relative_to(ROOT)), set()).update(n.split(".")[0] for n in names)
    return found


def test_core_imports_no_framework_or_torch():
    loaded = _loaded_after(_modules("core"))
    assert not loaded & {"flask", "celery", "torch", "transformers", "kombu", "worker", "api"}
    for path, names in _static_imports("core").items():
        assert not names & {"flask", "celery", "torch", "transformers", "worker", "api"}, path


def test_api_imports_no_torch_or_worker_code():
    loaded = _loaded_after(_modules("api"))
    assert "flask" in loaded  # the probe works
    assert not loaded & {"torch", "transformers", "worker"}
    for path, names in _static_imports("api").items():
        assert not names & {"torch", "transformers", "worker"}, path


def test_listing_engines_imports_no_torch():
    loaded = _loaded_after(["core.engines", "voxfarm.worker.engines.base", "voxfarm.worker.engines.dia"])
    assert "torch" not in loaded and "transformers" not in loaded
