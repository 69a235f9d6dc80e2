"""Import boundaries: core imports no Flask, Celery or torch; the API imports no torch or worker
code; listing engines imports no torch; no import cycles between modules or between feature
packages; every first-party import goes through the one installed name, ``voxfarm``.  Checked in
fresh interpreters (sys.modules) and statically (every import statement, from the AST)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from tests.graph import feature_graph, module_graph, package_docstring, strongly_connected

ROOT = Path(__file__).resolve().parent.parent
LEGACY = {"api", "core", "worker", "webhooks", "cli", "migrations", "celery_config", "broker_fs"}


def _modules(package: str) -> list[str]:
    return sorted("voxfarm." + ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                  for p in (ROOT / package).rglob("*.py"))


def _part(name: str) -> str:
    """``voxfarm.worker.app`` -> ``worker``; third-party ``flask.app`` -> ``flask``."""
    parts = name.split(".")
    return parts[1] if parts[0] == "voxfarm" and len(parts) > 1 else parts[0]


def _loaded_after(imports: list[str]) -> set[str]:
    code = ("import importlib, json, sys\n"
            f"for m in {imports!r}: importlib.import_module(m)\n"
            "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True, check=True)
    return {_part(m) for m in json.loads(out.stdout.strip().splitlines()[-1])}


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
            found.setdefault(str(path.relative_to(ROOT)), set()).update(_part(n) for n in names)
    return found


def test_core_imports_no_framework_or_torch():
    loaded = _loaded_after(_modules("core"))
    assert "sqlalchemy" in loaded  # the probe works
    assert not loaded & {"flask", "celery", "torch", "transformers", "kombu", "worker", "api"}
    for path, names in _static_imports("core").items():
        assert not names & {"flask", "celery", "torch", "transformers", "worker", "api", "webhooks", "cli"}, path


def test_api_imports_no_torch_or_worker_code():
    loaded = _loaded_after(_modules("api"))
    assert "flask" in loaded  # the probe works
    assert not loaded & {"torch", "transformers", "worker"}
    for path, names in _static_imports("api").items():
        assert not names & {"torch", "transformers", "worker"}, path


def test_listing_engines_imports_no_torch():
    loaded = _loaded_after(["voxfarm.core.engines.registry", "voxfarm.worker.engines.base",
                            "voxfarm.worker.engines.dia"])
    assert "torch" not in loaded and "transformers" not in loaded


def test_no_import_cycle_between_modules():
    cycles = strongly_connected(module_graph(ROOT))
    assert not cycles, f"import cycles: {cycles}"


def test_no_import_cycle_between_feature_packages_unless_documented():
    """A cycle between packages (core.jobs <-> core.voices, say) is allowed only where the
    ``__init__`` docstring of every package in it says why (it names the cycle)."""
    undocumented = [sorted(c) for c in strongly_connected(feature_graph(ROOT))
                    if not all("cycle" in package_docstring(ROOT, p) for p in c)]
    assert not undocumented, f"package cycles: {undocumented}"


def test_every_core_feature_package_says_what_it_owns():
    for init in sorted((ROOT / "core").glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert len(doc.split()) >= 15 and "Imports" in doc, f"{init.relative_to(ROOT)}: owns what, imports what?"


def test_first_party_imports_use_the_installed_name():
    """The installed distribution exposes ``voxfarm`` only; ``import core`` works from the
    repository root by accident and fails anywhere else."""
    offenders = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in {".venv", "var", "out", "build"}:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                     else [])
            offenders += [f"{rel}:{node.lineno} {n}" for n in names if n.split(".")[0] in LEGACY]
    assert not offenders, offenders
