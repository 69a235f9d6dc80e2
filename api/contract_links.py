"""OpenAPI links: from every answer that carries a resource id to the operations on that
resource, and the cross-prefix links the path layout does not imply.  They are what lets a
stateful tester (Schemathesis) chain real calls: create a job, then read, cancel, download it."""

from __future__ import annotations

import re

METHODS = ("get", "put", "post", "delete", "patch")

# Links the path layout does not imply: (source method, source path, its 2xx status, target path,
# target parameters as runtime expressions or constants)
CROSS_LINKS: list[tuple[str, str, str, str, dict[str, str]]] = [
    ("get", "/v1/jobs/{job_id}/webhook-deliveries", "200", "/v1/webhook-deliveries/{delivery_id}/redeliver",
     {"delivery_id": "$response.body#/data/0/id"}),
    # every stitched job has this sidecar (core/render/finalize.py); before the result exists, a 409
    ("post", "/v1/jobs", "202", "/v1/jobs/{job_id}/files/{name}",
     {"job_id": "$response.body#/id", "name": "metadata.json"}),
]


def _returns_id(op: dict, doc: dict) -> list[tuple[str, str]]:
    """(2xx status, JSON pointer) pairs for answers that carry a resource id at ``/id`` or ``/data/0/id``."""
    schemas = doc.get("components", {}).get("schemas", {})
    found = []
    for status, response in op.get("responses", {}).items():
        if not status.startswith("2"):
            continue
        ref = response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref", "")
        props = schemas.get(ref.rsplit("/", 1)[-1], {}).get("properties", {})
        if "id" in props:
            found.append((status, "/id"))
        elif "data" in props and props["data"].get("type") == "array":
            found.append((status, "/data/0/id"))
    return found


def _link_name(method: str, path: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", f"{method}_{path}").strip("_")


def add_links(doc: dict) -> None:
    """OpenAPI links from every answer that carries a resource id to the operations on that
    resource, plus CROSS_LINKS: what lets a stateful tester (schemathesis) chain real calls."""
    paths = doc["paths"]
    for path, item in paths.items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            for status, pointer in _returns_id(op, doc):
                # the collection or the resource itself: targets are <collection>/{param}[/...]
                base = re.sub(r"/\{[^}]+\}$", "", path) if pointer == "/id" else path
                for target, titem in paths.items():
                    m = re.match(re.escape(base) + r"/\{(\w+)\}(/[^{]*)?$", target)
                    if not m:
                        continue
                    for tmethod in METHODS:
                        if tmethod in titem and (target, tmethod) != (path, method):
                            _link(op, status, tmethod, target, titem[tmethod],
                                  {m.group(1): f"$response.body#{pointer}"})
    for method, path, status, target, params in CROSS_LINKS:
        if method in paths.get(path, {}) and target in paths:
            for tmethod in METHODS:
                if tmethod in paths[target]:
                    _link(paths[path][method], status, tmethod, target, paths[target][tmethod], params)


def _link(op: dict, status: str, tmethod: str, target: str, top: dict, params: dict[str, str]) -> None:
    links = op["responses"][status].setdefault("links", {})
    links[_link_name(tmethod, target)] = {"operationId": top["operationId"], "parameters": params}
