"""Per-tenant limits over HTTP (issue 34): 429 with Retry-After and RateLimit-* headers, refusals
that leave nothing behind, batches checked whole, the queue and the month, OpenAI's shape on the
speech route, GET /v1/usage's standing and /metrics (test_shared_limits.py: processes sharing one).

Time moves through an injected clock (core/clock.py): nothing here sleeps for a limit to pass."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import openai
import pytest
import requests
from openai import OpenAI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, update

from tests.core.text.test_epub import make_epub, noise_png
from voxfarm.core import clock
from voxfarm.core.jobs.intake import plan_job
from voxfarm.core.jobs.schemas import JobCreate
from voxfarm.core.models import Batch, Chunk, IdempotencyKey, Job, Outbox
from voxfarm.core.statuses import ChunkStatus
from voxfarm.core.tenants.limits import month_bounds, set_tenant_limits

from helpers import create_key, wait_for

T0 = datetime(2026, 3, 14, 12, 0, 0, tzinfo=UTC)
BOOK = make_epub([("One", "The first chapter is short. It has two sentences."),
                  ("Two", "So is the second one, which ends the book.")], cover=noise_png(64))


def _count(api, model, *where) -> int:
    with api.db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def _footprint(api) -> tuple[int, ...]:
    """Every kind of row a submit writes."""
    return tuple(_count(api, m) for m in (Job, Chunk, Outbox, Batch, IdempotencyKey))


def _refusals(api, tenant: str, limit: str) -> float:
    text = requests.get(f"{api.url}/metrics", timeout=10).text
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "voxfarm_limit_refusals_total" and s.labels == {"tenant": tenant, "limit": limit})


class Spy:
    """The app's object store, recording every write."""

    def __init__(self, store) -> None:
        self.store, self.puts = store, []

    def __getattr__(self, name):
        attr = getattr(self.store, name)
        if name.startswith("put"):
            def put(key, *args, **kwargs):
                self.puts.append(key)
                return attr(key, *args, **kwargs)
            return put
        return attr


def _spy(api) -> Spy:
    svc = api.app.extensions["voxfarm"]
    svc.store = Spy(svc.store)
    return svc.store


def _own_limits(api, tenant: str, **values) -> None:
    with api.db.session() as s:
        set_tenant_limits(s, tenant, values)


def _render_all(api, tenant_id: str, when: datetime) -> float:
    """What a worker would do: every queued chunk of the tenant done, its audio as planned."""
    with api.db.session() as s:
        s.execute(update(Chunk).where(Chunk.tenant_id == tenant_id, Chunk.status == ChunkStatus.pending)
                  .values(status=ChunkStatus.done, finished_at=when, duration_s=Chunk.expected_s))
        return s.scalar(select(func.sum(Chunk.duration_s)).where(Chunk.tenant_id == tenant_id))


def _planned_s(api, **job) -> float:
    return plan_job(api.settings, JobCreate(**job)).plan.expected_s


def test_the_11th_submit_in_a_minute_is_429_and_after_retry_after_one_succeeds(make_api):
    api = make_api(rate_limit_submit_per_min=10)
    client = api.client()
    before = _refusals(api, "acme", "submit_per_min")
    with clock.use(clock.ManualClock(T0)) as now:
        remaining = []
        for i in range(10):
            resp = client.post("/v1/jobs", json={"text": f"Line {i}."})
            assert resp.status_code == 202, resp.text
            assert resp.headers["RateLimit-Limit"] == "10"
            remaining.append(int(resp.headers["RateLimit-Remaining"]))
        assert remaining == list(range(9, -1, -1))
        footprint = _footprint(api)
        refused = client.post("/v1/jobs", json={"text": "One too many."}, headers={"Idempotency-Key": "k-11"})
        assert refused.status_code == 429, refused.text
        assert refused.headers["Retry-After"] == "6"  # a 10/min bucket frees one request every 6 s
        assert refused.headers["RateLimit-Limit"] == "10" and refused.headers["RateLimit-Remaining"] == "0"
        assert int(refused.headers["RateLimit-Reset"]) == 60
        err = refused.json()["error"]
        assert err["code"] == "rate_limited" and err["details"]["limit"] == "submit_per_min"
        assert "submit_per_min" in err["message"]
        assert _footprint(api) == footprint  # no job, chunk, outbox row, nor idempotency key
        assert client.get("/v1/jobs").status_code == 200  # reads are another class (no limit here)
        now.advance(5)
        assert client.post("/v1/jobs", json={"text": "Still too early."}).status_code == 429
        now.advance(1)  # the Retry-After of the first refusal has passed
        late = client.post("/v1/jobs", json={"text": "One too many."}, headers={"Idempotency-Key": "k-11"})
        assert late.status_code == 202, late.text
    assert _refusals(api, "acme", "submit_per_min") == before + 2
    assert api.client("other").post("/v1/jobs", json={"text": "Another tenant."}).status_code == 202


def test_a_book_over_the_queued_audio_cap_is_refused_whole_until_the_queue_drains(api):
    client = api.client()
    line = {"text": "A line that waits in the queue for its turn to be spoken."}
    book_s, line_s = _planned_s(api, document_base64=base64.b64encode(BOOK).decode()), _planned_s(api, **line)
    first = client.post("/v1/jobs", json=line)
    assert first.status_code == 202
    _own_limits(api, "acme", queued_audio_s=round(book_s + line_s / 2, 3))  # the book fits alone, not behind the line
    footprint, spy = _footprint(api), _spy(api)
    refused = client.post("/v1/jobs/upload", files={"document": ("book.epub", BOOK, "application/epub+zip")},
                          headers={"Idempotency-Key": "the-book"})
    assert refused.status_code == 429, refused.text
    err = refused.json()["error"]
    assert err["code"] == "queued_audio_limit" and err["details"]["limit"] == "queued_audio_s"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert int(refused.headers["RateLimit-Remaining"]) == int(book_s + line_s / 2 - line_s)
    assert _footprint(api) == footprint and spy.puts == []  # no row, no object (not even put and removed)
    assert client.get("/v1/usage").json()["limits"]["queued_audio_s"]["used"] == pytest.approx(line_s, abs=1e-3)
    _render_all(api, _tenant_id(api), T0)  # the queue drains
    accepted = client.post("/v1/jobs/upload", files={"document": ("book.epub", BOOK, "application/epub+zip")},
                           headers={"Idempotency-Key": "the-book"})
    assert accepted.status_code == 202, accepted.text
    assert any(key.endswith("source.epub") for key in spy.puts)


def _tenant_id(api, name: str = "acme") -> str:
    from voxfarm.core.models import Tenant

    with api.db.session() as s:
        return s.scalar(select(Tenant.id).where(Tenant.name == name))


def test_a_batch_is_checked_as_a_whole(api):
    client = api.client()
    item = {"text": "One line of a batch, spoken."}
    item_s = _planned_s(api, **item)
    assert client.post("/v1/jobs", json=item).status_code == 202  # one item's worth already queued
    _own_limits(api, "acme", queued_audio_s=round(3.5 * item_s, 3))
    footprint = _footprint(api)
    refused = client.post("/v1/batches", json={"items": [item] * 3})  # each fits, the three together do not
    assert refused.status_code == 429 and refused.json()["error"]["details"]["limit"] == "queued_audio_s"
    assert _footprint(api) == footprint
    assert client.post("/v1/batches", json={"items": [item] * 2}).status_code == 202
    assert _count(api, Job) == 3


def test_a_request_larger_than_a_limit_by_itself_is_413(api):
    client = api.client()
    _own_limits(api, "acme", queued_audio_s=0.5)
    resp = client.post("/v1/jobs", json={"text": "This sentence alone is longer than half a second of speech."})
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "over_queued_audio_s"
    assert "Retry-After" not in resp.headers and _count(api, Job) == 0


def test_the_monthly_quota_refuses_until_the_next_month(make_api):
    api = make_api()
    client = api.client()
    with clock.use(clock.ManualClock(T0)) as now:
        job = client.post("/v1/jobs", json={"text": "This month's first words, rendered at once."})
        assert job.status_code == 202
        rendered = _render_all(api, _tenant_id(api), T0)
        _own_limits(api, "acme", monthly_audio_s=rendered + 0.1)
        refused = client.post("/v1/jobs", json={"text": "More words this month."})
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "monthly_quota_exceeded"
        next_month = month_bounds(T0)[1]
        assert refused.headers["Retry-After"] == str(int((next_month - T0).total_seconds()))
        now.advance((next_month - T0).total_seconds())
        assert client.post("/v1/jobs", json={"text": "More words this month."}).status_code == 202


def test_usage_shows_each_limit_and_the_tenants_standing(make_api):
    api = make_api(rate_limit_submit_per_min=10, max_open_streams=4)
    client = api.client()
    _own_limits(api, "acme", read_per_min=100, submit_per_min=None)
    with clock.use(clock.ManualClock(T0)):
        for text in ("First line.", "Second line."):
            assert client.post("/v1/jobs", json={"text": text}).status_code == 202
        with api.db.session() as s:
            queued_s = s.scalar(select(func.sum(Chunk.expected_s)))
        limits = client.get("/v1/usage").json()["limits"]
    assert set(limits) == {"submit_per_min", "speech_per_min", "read_per_min", "open_streams", "queued_audio_s",
                           "monthly_audio_s"}
    assert limits["submit_per_min"] == {"limit": None, "source": "tenant", "used": None, "remaining": None,
                                        "reset_s": None}  # the tenant's own "no limit" beats the default 10
    assert limits["read_per_min"]["limit"] == 100 and limits["read_per_min"]["used"] == 1  # this very GET
    assert limits["open_streams"] == {"limit": 4, "source": "default", "used": 0, "remaining": 4, "reset_s": None}
    assert limits["queued_audio_s"]["limit"] is None
    assert limits["queued_audio_s"]["used"] == pytest.approx(queued_s, abs=1e-3)
    assert limits["monthly_audio_s"]["used"] == 0


def sdk(api, key: str) -> OpenAI:
    return OpenAI(api_key=key, base_url=f"{api.url}/v1", max_retries=0, timeout=30)


def test_the_openai_sdk_raises_rate_limit_error_on_speech(make_api):
    api = make_api(rate_limit_speech_per_min=1)
    key = create_key(api.settings, "acme")
    with clock.use(clock.ManualClock(T0)):
        with pytest.raises(openai.UnprocessableEntityError):  # a refused request still counts
            sdk(api, key).audio.speech.create(model="tts-1", voice="no such voice!", input="Hello.")
        with pytest.raises(openai.RateLimitError) as exc:
            sdk(api, key).audio.speech.create(model="tts-1", voice="alloy", input="Hello.")
    body = exc.value.response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["type"] == "rate_limit_error" and body["error"]["code"] == "rate_limited"
    assert "speech_per_min" in body["error"]["message"] and exc.value.response.headers["Retry-After"] == "60"
    assert _count(api, Job) == 0


def test_open_streams_are_counted_while_open_and_given_back_when_the_client_leaves(make_api):
    api = make_api(max_open_streams=1)
    client = api.client()
    body = {"model": "tts-1", "voice": "alloy", "input": "Nobody renders this: no worker runs."}
    first = requests.Session()
    first.headers.update(client.session.headers)
    stream = first.post(f"{api.url}/v1/audio/speech", json=body, stream=True, timeout=30)
    assert stream.status_code == 200  # headers sent, audio pending
    second = client.post("/v1/audio/speech", json=body)
    assert second.status_code == 429 and second.json()["error"]["code"] == "too_many_streams"
    assert second.json()["error"]["type"] == "rate_limit_error" and second.headers["Retry-After"]
    assert client.get("/v1/usage").json()["limits"]["open_streams"]["used"] == 1
    stream.close()
    first.close()
    wait_for(lambda: client.get("/v1/usage").json()["limits"]["open_streams"]["used"] == 0, timeout=30,
             what="the stream's slot to be given back")


def test_every_secured_route_documents_429_with_its_headers(api):
    doc = requests.get(f"{api.url}/openapi.json", timeout=10).json()
    secured = [(p, m, op) for p, item in doc["paths"].items() for m, op in item.items() if op.get("security")]
    assert len(secured) >= 20
    for path, method, op in secured:
        answer = op["responses"].get("429")
        assert answer is not None, (method, path)
        assert {"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(answer["headers"])
    speech = doc["paths"]["/v1/audio/speech"]["post"]["responses"]["429"]
    assert speech["content"]["application/json"]["schema"]["$ref"].endswith("/OpenAIError")
    assert "429" not in doc["paths"]["/healthz"]["get"]["responses"]
