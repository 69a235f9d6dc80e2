"""The OpenAPI document matches every answer the API gives: the Schemathesis CLI, all checks and
all phases (stateful included), against a live API process, must report nothing.

How a new route is covered (nothing to list here: the run takes every operation the app registers):

* Register it on an ``APIBlueprint`` with its pydantic models, as the other views do.  The standard
  answers are added to every operation by ``api/contract.py`` (400, 401 when secured, 404 when the
  path has ids, 413/415 with a body, 422, 500, 503 + ``Retry-After``); declare only the route's own
  (``responses={409: ErrorResponse}`` ...).  A POST that goes through ``idempotency.create`` passes
  ``openapi_extensions=IDEMPOTENT`` (the ``Idempotency-Key`` rules and ``Idempotent-Replayed``) and
  ``location=`` for its ``Location`` header.
* Ids in paths and cursors use ``core.ids.id_pattern(prefix)``; a list over a new kind subclasses
  ``ListQuery`` and narrows ``cursor`` to that kind's ids.  A route returning a resource ``id``
  gets links to ``<its path>/{param}`` routes automatically; others go in ``contract.CROSS_LINKS``.
* A body field whose validity JSON Schema cannot state (audio, EPUB, address policy) is described
  as far as it can be, and schemathesis.toml lists the extra status it may answer, with the reason.
* Streaming answers (``text/event-stream``, ``audio/*``) declare their media type in ``responses``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from flask_openapi3 import APIBlueprint
from pydantic import BaseModel

from voxfarm.api.app import create_app
from voxfarm.core.engines.registry import ENGINES
from voxfarm.core.schemas import ErrorResponse
from voxfarm.core.settings import Settings

from helpers import ROOT, ListPublisher, create_key, start_api

MAX_EXAMPLES = 25  # per operation and phase: ~40 s for 20 operations on 2 busy cores
SEED = 20261123  # a failure is reproduced with the same seed (and `st replay <id>`)


class ThingIn(BaseModel):
    name: str


class ThingOut(BaseModel):
    id: str


class ThingPath(BaseModel):
    thing_id: str


@pytest.fixture
def live_api(tmp_path):
    """The API under gunicorn on the embedded stack (SQLite, local disk, filesystem broker), with no
    outbound allowlist, as a fresh install runs it; every registered engine served, so the document
    holds each one's params (no worker is needed: the contract is the API's)."""
    from voxfarm.core.migrate import upgrade

    settings = Settings(data_dir=tmp_path / "var", engines=list(ENGINES))
    upgrade(settings)
    key = create_key(settings, "contract")
    proc, url = start_api(settings, tmp_path)
    yield url, key
    proc.stop()


def test_every_operation_documents_the_shared_answers(live_api):
    url, key = live_api
    doc = requests.get(f"{url}/openapi.json", timeout=10).json()
    operations = [(p, m, op) for p, item in doc["paths"].items() for m, op in item.items()]
    assert len(operations) >= 20
    for path, method, op in operations:
        codes = set(op["responses"])
        assert {"400", "422", "500"} <= codes, (method, path, codes)
        if path != "/healthz":
            assert "Retry-After" in op["responses"]["503"]["headers"], (method, path)
        if op.get("security"):
            assert "401" in codes, (method, path)
        if "{" in path:
            assert "404" in codes, (method, path)
        for param in op.get("parameters", []):
            if param["in"] == "path":
                assert param["schema"].get("pattern"), (method, path, param["name"])
    created = doc["paths"]["/v1/jobs"]["post"]["responses"]["202"]
    assert {"Location", "Idempotent-Replayed"} <= set(created["headers"])
    assert "get_v1_jobs_job_id" in created["links"]
    assert "get_v1_voices_voice_id" in doc["paths"]["/v1/voices"]["post"]["responses"]["201"]["links"]
    # a 405 names what the route allows (RFC 9110), in the common error shape
    resp = requests.request("TRACE", f"{url}/v1/jobs", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert resp.status_code == 405 and resp.json()["error"]["code"] == "method_not_allowed"
    assert set(resp.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_a_new_route_is_documented_and_linked_without_listing_it(tmp_path):
    """What a helper adding /v1/batches gets for free: the shared answers and the links."""
    bp = APIBlueprint("things", __name__, url_prefix="/v1", abp_security=[{"bearer": []}])

    @bp.post("/things", responses={201: ThingOut})
    def create_thing(body: ThingIn):
        return {"id": "thg_1"}, 201

    @bp.get("/things/<thing_id>", responses={200: ThingOut, 409: ErrorResponse})
    def get_thing(path: ThingPath):
        return {"id": path.thing_id}

    app = create_app(Settings(data_dir=tmp_path / "var"), publisher=ListPublisher())
    app.register_api(bp)
    doc = app.test_client().get("/openapi.json").get_json()
    post, get = doc["paths"]["/v1/things"]["post"], doc["paths"]["/v1/things/{thing_id}"]["get"]
    assert set(post["responses"]) == {"201", "400", "401", "413", "415", "422", "429", "500", "503"}
    assert set(get["responses"]) == {"200", "400", "401", "404", "409", "422", "429", "500", "503"}
    assert post["responses"]["201"]["headers"]["Location"]
    link = post["responses"]["201"]["links"]["get_v1_things_thing_id"]
    assert link == {"operationId": get["operationId"], "parameters": {"thing_id": "$response.body#/id"}}
    assert post["responses"]["415"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")


# the stateful phase walks every route (40 operations): minutes on a loaded 2-core box, past the 300 s default
@pytest.mark.timeout(900)
def test_schemathesis_finds_nothing(live_api):
    """`st run --checks all`, every phase; schemathesis.toml (repository root) applies."""
    url, key = live_api
    st = Path(sys.executable).with_name("st")
    cmd = [str(st), "run", f"{url}/openapi.json", "--checks", "all", "-H", f"Authorization: Bearer {key}",
           "--phases", "examples,coverage,fuzzing,stateful", "--max-examples", str(MAX_EXAMPLES),
           "--seed", str(SEED), "--workers", "1", "--generation-database", "none", "--no-color"]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    out = run.stdout + run.stderr
    tail = out[-8000:]
    assert run.returncode == 0, tail
    assert re.search(r"(\d+) generated, \1 passed", out), tail  # every generated case passed every check
    assert "Authentication failed" not in out, tail
    selected = re.search(r"Selected: (\d+)/(\d+)", out)
    assert selected and selected.group(1) == selected.group(2) and int(selected.group(1)) >= 20, tail
    assert re.search(r"✅ Stateful", out), tail  # the links let the stateful phase run, and it passed


def _bare_objects(node, schemas: dict, path: str = "", seen: set | None = None) -> list[str]:
    """Paths of object schemas that say nothing of their keys or values (anything goes in them),
    following ``$ref`` into the components (each once)."""
    seen = set() if seen is None else seen
    if isinstance(node, list):
        return [p for i, item in enumerate(node) for p in _bare_objects(item, schemas, f"{path}[{i}]", seen)]
    if not isinstance(node, dict):
        return []
    ref = node.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        name = ref.rsplit("/", 1)[-1]
        if name in seen:
            return []
        seen.add(name)
        return _bare_objects(schemas.get(name), schemas, name, seen)
    here = [path] if node.get("type") == "object" and not {"properties", "additionalProperties",
                                                            "patternProperties"} & set(node) else []
    return here + [p for k, v in node.items() for p in _bare_objects(v, schemas, f"{path}/{k}", seen)]


def test_every_request_object_says_what_its_keys_may_be(tmp_path):
    """A bare ``{"type": "object"}`` in a request let Schemathesis send a NUL inside a key under ``voices``, which the
    API refuses with 400 invalid_characters: a schema-valid request rejected (#30).  ``voices`` names
    its speaker tags, and no schema in the document is a bare object."""
    app = create_app(Settings(data_dir=tmp_path / "var", engines=list(ENGINES)), publisher=ListPublisher())
    doc = app.test_client().get("/openapi.json").get_json()
    schemas = doc["components"]["schemas"]
    requests_ = [(f"{m} {path}", op.get("requestBody"), op.get("parameters")) for path, item in doc["paths"].items()
                 for m, op in item.items()]
    assert [p for name, body, params in requests_ for p in _bare_objects([body, params], schemas, name)] == []
    voices = doc["components"]["schemas"]["JobCreate"]["properties"]["voices"]["anyOf"][0]
    assert voices["propertyNames"] == {"pattern": "^S[12]$"}
    assert {"$ref": "#/components/schemas/InlinePrompt"} in voices["additionalProperties"]["anyOf"]
