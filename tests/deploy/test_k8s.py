"""deploy/k8s validates offline against the Kubernetes schemas (kubernetes-validate) and KEDA's
ScaledObject model (cloudcoil-models-keda), and agrees with the code it deploys: probe paths the
API serves, metrics it exports, commands the CLI has, engines the registry knows."""

from __future__ import annotations

import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from cloudcoil.models.keda.v1alpha1 import ScaledObject

from voxfarm.api.app import create_app
from voxfarm.cli.main import main as cli
from voxfarm.core.engines.registry import ENGINES

from helpers import ListPublisher

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
K8S_VERSION = "1.33.0"


def _docs() -> list[tuple[str, dict]]:
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    listed = kustomization["resources"]
    assert sorted(listed) == sorted(p.name for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml")
    return [(name, doc) for name in listed for doc in yaml.safe_load_all((DEPLOY / name).read_text()) if doc]


DOCS = _docs()
BY_KIND: dict[str, list[dict]] = {}
for _, _doc in DOCS:
    BY_KIND.setdefault(_doc["kind"], []).append(_doc)


@pytest.mark.parametrize("name,doc", [d for d in DOCS if d[1]["kind"] != "ScaledObject"],
                         ids=lambda v: v if isinstance(v, str) else v["metadata"]["name"])
def test_core_kinds_validate_strictly(name, doc):
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_strict_validation_catches_a_typo():
    deployment = yaml.safe_load((DEPLOY / "api.yaml").read_text().split("---")[0])
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}  # typo
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


@pytest.mark.parametrize("doc", BY_KIND["ScaledObject"], ids=lambda d: d["metadata"]["name"])
def test_scaled_objects_validate_and_target_worker_deployments(doc):
    model = ScaledObject.model_validate(doc)
    # the model ignores unknown keys: a round trip that loses nothing proves there were none
    assert model.model_dump(by_alias=True, exclude_unset=True, mode="json") == doc
    deployments = {d["metadata"]["name"]: d for d in BY_KIND["Deployment"]}
    target = deployments[doc["spec"]["scaleTargetRef"]["name"]]
    engine = target["metadata"]["labels"]["voxfarm.dev/engine"]
    (trigger,) = doc["spec"]["triggers"]
    assert trigger["type"] == "prometheus"
    # the query reads the scaling signal the API exports, for this deployment's engine
    assert re.fullmatch(rf'sum\(voxfarm_queue_audio_seconds\{{engine="{engine}"\}}\)', trigger["metadata"]["query"])
    assert float(trigger["metadata"]["threshold"]) > 0


def test_every_worker_deployment_pins_a_known_engine_on_a_gpu_and_is_scaled():
    workers = [d for d in BY_KIND["Deployment"] if d["metadata"]["labels"].get("app.kubernetes.io/component")
               == "worker"]
    scaled = {s["spec"]["scaleTargetRef"]["name"] for s in BY_KIND["ScaledObject"]}
    assert workers
    for d in workers:
        engine = d["metadata"]["labels"]["voxfarm.dev/engine"]
        container = d["spec"]["template"]["spec"]["containers"][0]
        assert engine in ENGINES
        assert container["args"][:4] == ["voxfarm", "worker", "--engine", engine]
        assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
        assert d["metadata"]["name"] in scaled


def test_control_worker_is_single_and_runs_the_beat():
    (control,) = [d for d in BY_KIND["Deployment"] if d["metadata"]["name"] == "voxfarm-control"]
    assert control["spec"]["replicas"] == 1 and control["spec"]["strategy"]["type"] == "Recreate"
    assert "--beat" in control["spec"]["template"]["spec"]["containers"][0]["args"]


def test_probes_and_commands_exist_in_the_code(tmp_path):
    from voxfarm.core.settings import Settings

    app = create_app(Settings(data_dir=tmp_path), publisher=ListPublisher())
    served = {rule.rule for rule in app.url_map.iter_rules()}
    commands = set(cli.commands)
    for doc in BY_KIND["Deployment"] + BY_KIND["Job"]:
        spec = doc["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        for container in spec["containers"]:
            assert container["args"][0] == "voxfarm" and container["args"][1] in commands
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                if probe in container:
                    assert container[probe]["httpGet"]["path"] in served
    api = next(d for d in BY_KIND["Deployment"] if d["metadata"]["name"] == "voxfarm-api")
    probes = api["spec"]["template"]["spec"]["containers"][0]
    assert (probes["livenessProbe"]["httpGet"]["path"], probes["readinessProbe"]["httpGet"]["path"]) == \
        ("/healthz", "/readyz")
