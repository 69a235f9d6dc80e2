"""The OpenAPI document is generated, valid, and a property-based run of the API from it
(schemathesis) finds no server error."""

from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from openapi_spec_validator import validate

from voxfarm.api.app import create_app
from voxfarm.core.settings import Settings

from helpers import ListPublisher, create_key


@pytest.fixture
def fuzz_app(tmp_path):
    from voxfarm.core.migrate import upgrade

    settings = Settings(data_dir=tmp_path / "var", engines=["espeak", "dia"], allow_audio_url=False,
                        max_text_chars=20_000)
    upgrade(settings)
    app = create_app(settings, publisher=ListPublisher())
    app.config["TEST_KEY"] = create_key(settings, "fuzz")
    return app


def test_openapi_document_validates_and_covers_every_route(fuzz_app):
    doc = fuzz_app.test_client().get("/openapi.json").get_json()
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    documented = {(path, method.upper()) for path, item in doc["paths"].items() for method in item}
    for rule in fuzz_app.url_map.iter_rules():
        if rule.endpoint in ("static", "openapi_json") or rule.endpoint.startswith("console."):
            continue  # the console's pages (/, /docs) are not API operations
        path = re.sub(r"<(?:[^<>]+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, (path, method)
    body = doc["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/JobCreate")  # generated from the model the view validates with
    voice = doc["paths"]["/v1/voices"]["post"]["requestBody"]["content"]
    assert set(voice) == {"multipart/form-data", "application/json"}


def _no_5xx(operation, headers, failures):
    """A hypothesis test for one operation.  (A factory, not a default argument: hypothesis refuses
    to wrap a function whose parameters have defaults.)"""
    label = operation.label

    @given(case=operation.as_strategy())
    @hsettings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case):
        response = case.call(headers=headers)
        if response.status_code >= 500:
            failures.append((label, response.status_code, response.text[:200]))
        assert response.status_code < 500, (label, response.text[:200])

    return run


def test_no_server_errors_under_property_based_fuzzing(fuzz_app):
    """Every operation, 25 generated requests each (positive and negative data): no 5xx."""
    schema = schemathesis.openapi.from_wsgi("/openapi.json", fuzz_app)
    headers = {"Authorization": f"Bearer {fuzz_app.config['TEST_KEY']}"}
    operations, failures = 0, []
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        try:
            _no_5xx(operation, headers, failures)()
        except Exception as exc:  # noqa: BLE001 - collect, report all at once
            failures.append((operation.label, type(exc).__name__, str(exc)[:300]))
    assert operations >= 18
    assert failures == []
