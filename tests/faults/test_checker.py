"""The fault suite's checker, on hand-made records: each kind of bad outcome must be caught.

The farm is replaced by plain records (job JSON, a bucket on the moto server, a render log, the
receiver's deliveries) so that each test plants exactly one defect.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import boto3
import pytest

from tests.faults.checker import check

GOOD, OTHER = b"RIFF...the reference audio", b"RIFF...somebody else's audio"


@dataclass
class _Resp:
    body: dict

    def json(self):
        return self.body


@dataclass
class _Delivery:
    headers: dict
    body: dict
    verified: bool = True

    @property
    def json(self):
        return self.body


@dataclass
class _Receiver:
    requests: list = field(default_factory=list)


class _Reference:
    def sha256(self, bodies):
        return [hashlib.sha256(GOOD).hexdigest() for _ in bodies]


class FakeFarm:
    def __init__(self, tmp_path, bucket, n=3):
        self.s3_direct, self.bucket = None, bucket
        self.accepted = [f"job_{i}" for i in range(n)]
        self.bodies = {j: {"text": f"text {j}", "engine": "tone", "params": {"seed": 0}} for j in self.accepted}
        self.expected = {j: "succeeded" for j in self.accepted}
        self.jobs = {j: {"id": j, "status": "succeeded", "error": None} for j in self.accepted}
        self.reference, self.receiver = _Reference(), _Receiver()
        self.render_log, self.settings_max_attempts, self.deaths = tmp_path / "renders.log", 3, 0
        self.s3 = boto3.client("s3")
        for j in self.accepted:
            self.store(j, GOOD)
            self.render(j)
            self.event(j, "job.succeeded")

    @property
    def client(self):
        farm = self

        class _Client:
            def get(self, path):
                return _Resp(farm.jobs[path.rsplit("/", 1)[1]])
        return _Client()

    def worker_deaths(self):
        return self.deaths

    def store(self, job, data, name="audio.wav"):
        self.s3.put_object(Bucket=self.bucket, Key=f"farm/tenants/t1/jobs/{job}/{name}", Body=data)

    def render(self, job):
        sha = hashlib.sha256(self.bodies[job]["text"].encode()).hexdigest()
        with self.render_log.open("a") as f:
            f.write(json.dumps({"text_sha256": sha, "seed": 0}) + "\n")

    def event(self, job, type_, event_id=None):
        self.receiver.requests.append(_Delivery({"webhook-id": event_id or f"msg_{job}"},
                                                {"type": type_, "data": {"id": job}}))


@pytest.fixture
def farm(tmp_path, s3_bucket):
    return FakeFarm(tmp_path, s3_bucket)


def _check(farm):
    return check(farm, 1.0, webhook_wait_s=0)


def test_clean_records_pass(farm):
    out = _check(farm)
    assert out.ok and (out.succeeded, out.max_renders_per_chunk, out.max_deliveries_per_event) == (3, 1, 1), out


def test_a_failed_job_that_should_have_succeeded_is_caught(farm):
    farm.jobs["job_1"] = {"id": "job_1", "status": "failed", "error": {"code": "storage_unavailable"}}
    farm.receiver.requests[1].body["type"] = "job.failed"
    out = _check(farm)
    assert (out.unexpected, out.failed, out.ok) == (1, 1, False), out


def test_the_expected_poison_failure_is_not_an_error(farm):
    farm.jobs["job_1"] = {"id": "job_1", "status": "failed", "error": {"code": "poison_chunk"}}
    farm.expected["job_1"] = "failed"
    farm.receiver.requests[1].body["type"] = "job.failed"
    assert _check(farm).ok


def test_a_result_that_differs_from_the_reference_is_caught(farm):
    farm.store("job_2", OTHER)
    out = _check(farm)
    assert (out.mismatched, out.ok) == (1, False), out


def test_a_second_render_without_a_worker_death_is_a_duplicate(farm):
    farm.render("job_0")
    out = _check(farm)
    assert (out.duplicated, out.max_renders_per_chunk) == (1, 2), out
    farm.deaths = 1  # a worker died: one re-render is explained
    assert _check(farm).ok


def test_two_terminal_events_for_one_job_are_a_duplicate(farm):
    farm.event("job_0", "job.succeeded", event_id="msg_second")
    assert _check(farm).duplicated == 1
    farm.receiver.requests.pop()
    farm.event("job_0", "job.succeeded")  # the same event delivered twice: at-least-once, fine
    out = _check(farm)
    assert out.ok and out.max_deliveries_per_event == 2, out


def test_a_missing_or_wrong_webhook_is_caught(farm):
    farm.receiver.requests[0].body["type"] = "job.failed"
    farm.receiver.requests.pop(2)
    out = _check(farm)
    assert out.webhook_problems == 2, out


def test_a_job_that_never_finished_is_lost(farm):
    farm.jobs["job_0"]["status"] = "running"
    out = _check(farm)
    assert (out.lost, out.ok) == (1, False), out
