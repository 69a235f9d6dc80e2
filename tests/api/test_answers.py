"""Answers that tell a new user what to do (#30): test engines stay out of sight, a malformed id is a
plain 404, a refused webhook names the setting that allows it, a PDF is called a PDF, and /readyz
warns about a worker whose engine this API does not serve."""

from __future__ import annotations

import io
import zipfile

from voxfarm.core.clock import utcnow
from voxfarm.core.models import WorkerRow
from voxfarm.core.text.sniff import not_readable

PDF = b"%PDF-1.4\n" + bytes(range(256))


def test_test_engines_are_not_offered_unless_served(make_api):
    c = make_api().client()
    for resp, field in ((c.post("/v1/jobs", json={"text": "Hi.", "engine": "nope"}), "unknown_engine"),
                        (c.post("/v1/audio/speech", json={"model": "nope", "input": "Hi.", "voice": "alloy"}),
                         "model_not_found")):
        err = resp.json()["error"]
        assert resp.status_code in (404, 422) and err["code"] == field, resp.text
        assert "piper" in err["message"] and "espeak" in err["message"], err
        assert "sim" not in err["message"] and "tone" not in err["message"], err
    # an unserved test engine is unknown, not "not served here" (which would say it exists)
    assert c.post("/v1/jobs", json={"text": "Hi.", "engine": "tone"}).json()["error"]["code"] == "unknown_engine"
    served = make_api(engines=["espeak", "tone"]).client()
    err = served.post("/v1/jobs", json={"text": "Hi.", "engine": "nope"}).json()["error"]
    assert "tone" in err["message"] and "sim" not in err["message"]


def test_a_malformed_id_is_the_same_404_as_a_missing_one(api):
    c = api.client()
    missing = c.get("/v1/jobs/job_01ABCDEFGHJKMNPQRSTVWXYZ01")
    malformed = c.get("/v1/jobs/nope")
    assert missing.status_code == malformed.status_code == 404
    assert missing.json()["error"]["code"] == malformed.json()["error"]["code"] == "not_found"
    assert malformed.json()["error"]["message"] == "job 'nope' not found"
    assert c.get("/v1/batches/nope").json()["error"]["message"] == "batch 'nope' not found"
    other = c.get("/v1/nothing-here").json()["error"]
    assert other["code"] == "not_found" and "requested URL" not in other["message"]
    assert "/openapi.json" in other["message"]


def test_a_refused_webhook_names_the_allowlist(make_api):
    c = make_api(outbound_allowlist=[]).client()
    for url in ("http://127.0.0.1:9000/hook", "http://localhost:9000/hook"):
        resp = c.post("/v1/jobs", json={"text": "Hi.", "webhook": {"url": url}})
        assert resp.status_code == 422 and resp.json()["error"]["code"] == "url_not_allowed", resp.text
        assert "VOXFARM_OUTBOUND_ALLOWLIST" in resp.json()["error"]["message"]
    allowed = make_api(outbound_allowlist=["127.0.0.1"]).client()
    assert allowed.post("/v1/jobs", json={"text": "Hi.", "webhook": {"url": "http://127.0.0.1:9/h"}}).status_code == 202


def test_a_pdf_is_called_a_pdf_by_the_api_as_by_the_cli(api):
    c = api.client()
    resp = c.post("/v1/jobs/upload", data={"job": "{}"}, files={"document": ("paper.epub", PDF)})
    err = resp.json()["error"]
    assert resp.status_code == 422 and err["code"] == "invalid_document"
    assert err["message"] == not_readable("the document", PDF)
    assert err["message"] == ("the document is a PDF; voxfarm reads plain text, Markdown and EPUB: convert it "
                              "first (e.g. pdftotext for a PDF)")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.txt", "not an epub")
    resp = c.post("/v1/jobs/upload", data={"job": "{}"}, files={"document": ("x.epub", buf.getvalue())})
    assert resp.status_code == 422 and "could not read the EPUB" in resp.json()["error"]["message"]


def test_readyz_warns_about_a_worker_whose_engine_is_not_served(make_api):
    api = make_api(engines=["espeak"])
    now = utcnow()
    with api.db.session() as s:
        s.add(WorkerRow(id="stray#1", engine="piper", model="joe", device="cpu", queues=["tts.piper"],
                        max_batch_size=8, max_wait_ms=20, concurrency=16, hostname="h", pid=1, started_at=now,
                        heartbeat_at=now))
    ready = api.client().get("/readyz").json()
    assert "piper" not in ready["workers"]
    [warning] = ready["warnings"]
    assert "'piper'" in warning and "VOXFARM_ENGINES=espeak" in warning
    with api.db.session() as s:
        s.get(WorkerRow, "stray#1").stopped_at = now
    assert "warnings" not in api.client().get("/readyz").json()
