"""docker-compose.yml is valid Compose and describes the production shape (no Docker engine
here, so the file is checked against the Compose specification's JSON schema)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_validates_against_the_compose_spec_schema():
    # the schema ships inside check-jsonschema (vendored from compose-spec/compose-spec)
    schema = json.loads(resources.files("check_jsonschema.builtin_schemas.vendor")
                        .joinpath("compose-spec.json").read_text())
    jsonschema.validate(_compose(), schema)


def test_compose_schema_rejects_a_broken_file():
    schema = json.loads(resources.files("check_jsonschema.builtin_schemas.vendor")
                        .joinpath("compose-spec.json").read_text())
    broken = _compose()
    broken["services"]["redis"]["restartt"] = "always"  # a misspelt key: not in the spec
    try:
        jsonschema.validate(broken, schema)
    except jsonschema.ValidationError:
        return
    raise AssertionError("the schema accepted an unknown service key")


def test_compose_has_the_production_services():
    services = _compose()["services"]
    assert "--appendonly" in services["redis"]["command"] and "yes" in services["redis"]["command"]
    assert "mc mb" in " ".join(services["minio-init"]["entrypoint"])
    assert services["api"]["command"][:2] == ["voxfarm", "api"]  # gunicorn inside `voxfarm api`
    gpu = services["worker-dia"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["driver"] == "nvidia" and "gpu" in gpu["capabilities"]
    assert services["worker-espeak"]["command"] == ["voxfarm", "worker", "--engine", "espeak"]
    assert "--beat" in services["control"]["command"]  # exactly one reconciler
    env = services["api"]["environment"]
    assert env["VOXFARM_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert env["VOXFARM_BROKER_URL"].startswith("redis://")
    assert env["VOXFARM_STORAGE_URL"].startswith("s3://")
    # every service built from this repo must have a Dockerfile to build from
    assert (ROOT / "Dockerfile").is_file()


# -- issue 12: profiles, images, users -----------------------------------------------------------
import re  # noqa: E402
import tomllib  # noqa: E402

_INTERP = re.compile(r"\$\{(\w+):-([^}]*)\}")


def _resolve(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR:-default} interpolation (the only form this file uses)."""
    return _INTERP.sub(lambda m: env.get(m.group(1)) or m.group(2), value)


def _stages() -> dict[str, list[str]]:
    """Dockerfile stage name -> its instructions (continuation lines joined), parents first."""
    stages: dict[str, list[str]] = {}
    current: list[str] = []
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.I)
        if match:
            parent = stages.get(match.group(1), [])
            current = [*parent, line]
            stages[match.group(2) or f"stage{len(stages)}"] = current
        else:
            current.append(line)
    return stages


def _extras_deps(extras: str) -> set[str]:
    """Every requirement an install of ``.[extras]`` pulls from pyproject (self-references expanded)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    optional = project["optional-dependencies"]
    deps, todo = set(project["dependencies"]), [e.strip() for e in extras.split(",")]
    while todo:
        for req in optional[todo.pop()]:
            nested = re.match(r"voxfarm\[(.+)\]", req)
            if nested:
                todo += nested.group(1).split(",")
            else:
                deps.add(req)
    return deps


def test_the_gpu_worker_runs_only_with_its_profile_and_dia_is_served_only_then():
    services = _compose()["services"]
    assert services["worker-dia"]["profiles"] == ["gpu"]
    assert [n for n, s in services.items() if "profiles" in s] == ["worker-dia"]
    engines = _compose()["x-voxfarm-env"]["VOXFARM_ENGINES"]
    assert _resolve(engines, {}).split(",") == ["espeak"]  # a plain `up` serves no engine without a worker
    assert "dia" in _resolve(engines, {"VOXFARM_ENGINES": "espeak,dia"}).split(",")


def test_presigned_urls_use_a_published_public_endpoint():
    services = _compose()["services"]
    env = services["api"]["environment"]
    public = _resolve(env["VOXFARM_S3_PUBLIC_ENDPOINT"], {})
    assert public.startswith("http://localhost:") and env["AWS_ENDPOINT_URL"] == "http://minio:9000"
    port = public.rsplit(":", 1)[1]
    assert any(p.split(":")[0] == port and p.split(":")[1].split()[0] == "9000" for p in services["minio"]["ports"])
    from voxfarm.core.settings import Settings

    assert "s3_public_endpoint" in Settings.model_fields  # the variable is a real setting


def test_every_image_is_pinned_and_minio_to_a_release():
    services = _compose()["services"]
    for name, svc in services.items():
        image = svc.get("image", "")
        if "build" in svc:
            continue  # built here
        assert ":" in image and not image.endswith(":latest"), f"{name}: {image} is not pinned"
        assert re.search(r":\d", image) or "RELEASE." in image, f"{name}: {image} has a floating tag"
    for name in ("minio", "minio-init"):
        assert re.search(r":RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ$", services[name]["image"]), name
    with_base = [line for stage in _stages().values() for line in stage if line.upper().startswith("FROM")]
    assert all(re.search(r":\d", line.split()[1]) for line in with_base if ":" in line.split()[1])


def test_images_run_as_a_non_root_user_and_the_slim_one_has_no_torch():
    stages = _stages()
    services = _compose()["services"]
    targets = {name: svc["build"]["target"] for name, svc in services.items() if "build" in svc}
    assert targets["worker-dia"] == "gpu" and {t for n, t in targets.items() if n != "worker-dia"} == {"slim"}
    for target in set(targets.values()):
        users = [line.split()[1] for line in stages[target] if line.upper().startswith("USER ")]
        assert users and users[-1] not in ("root", "0"), f"stage {target} runs as root"
    installs = [line for line in stages["slim"] if line.upper().startswith("RUN") and "pip install" in line]
    assert installs
    for line in installs:
        assert "torch" not in line
        for extras in re.findall(r"\.\[([\w,]+)\]", line):
            deps = _extras_deps(extras)
            assert not {d for d in deps if re.match(r"(torch|torchaudio|transformers)\b", d)}, (extras, deps)
    gpu_installs = " ".join(line for line in stages["gpu"] if "pip install" in line)
    assert any(d.startswith("torch") for e in re.findall(r"\.\[([\w,]+)\]", gpu_installs) for d in _extras_deps(e))


def test_the_image_copies_every_module_the_package_installs():
    """A py-module or package missing from the image fails `voxfarm up` inside it (broker_fs.py was)."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert project["package-dir"] == {"voxfarm": "."}  # the root is the package: its .py files install too
    copied = set()
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            copied.update(line.split()[1:-1])
    wanted = {p.name for p in ROOT.glob("*.py")}
    wanted |= {p.split(".")[1] for p in project["packages"] if p.count(".") == 1}
    assert wanted <= copied, wanted - copied
