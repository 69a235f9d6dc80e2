"""The fault suite's wrappers: absent without VOXFARM_FAULT, and transparent where they don't fire
(the firing paths -- the API dying after commit, a poison input killing its worker -- are the
fault scenarios in tests/faults, which run real processes)."""

from __future__ import annotations

from types import SimpleNamespace

from voxfarm.core.render import faults


class _Publisher:
    def __init__(self):
        self.sent = []

    def publish_many(self, messages):
        self.sent.extend(messages)

    def ping(self):
        return "pong"


def test_without_a_fault_nothing_is_wrapped():
    pub = _Publisher()
    assert faults.publisher(pub, None) is pub
    assert faults.publisher(pub, "poison:X") is pub

    def generate(requests):
        return list(requests)

    assert faults.engine_call(generate, None) is generate
    assert faults.engine_call(generate, "crash_after_commit") is generate


def test_the_crashing_publisher_still_answers_readiness_probes():
    wrapped = faults.publisher(_Publisher(), "crash_after_commit")
    assert isinstance(wrapped, faults.CrashingPublisher)
    assert wrapped.ping() == "pong"


def test_a_poisoned_engine_renders_batches_without_the_marker():
    seen = []
    call = faults.engine_call(lambda reqs: seen.extend(reqs) or ["ok"] * len(reqs), "poison:POISONPILL")
    batch = [SimpleNamespace(text="a harmless line"), SimpleNamespace(text="another")]
    assert call(batch) == ["ok", "ok"] and seen == batch
