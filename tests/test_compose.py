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
