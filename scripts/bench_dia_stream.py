"""Serve a Poisson stream of Dia requests three ways, in wall-clock time (the continuous-batching comparison).

* ``sequential``: one request at a time, in arrival order (``static_codes`` with one item);
* ``static``: today's worker -- the micro-batcher's rule (a batch closes at ``batch`` requests or
  ``max_wait_s`` after its oldest one arrived; ``worker.batcher.select`` picks close lengths from a
  look-ahead of 4 batches), then one transformers ``generate`` that runs until its longest item ends;
* ``continuous``: ``ContinuousDia`` with ``batch`` slots; arrivals join at the next step.

Each returns per-request arrival and finish times (latency = finish - arrival), generated codec
frames, and the useful-step fraction (slot-steps that carried a live item over slot-steps run).
Generation only: the DAC decode is the same per-item work in every mode and is left out.
"""

from __future__ import annotations

import time


def serve_sequential(engine, requests, arrivals) -> dict:
    t0, out = time.perf_counter(), []
    for r, a in zip(requests, arrivals, strict=False):
        _sleep_until(t0 + a)
        codes = engine.static_codes([r])[0]
        out.append((a, time.perf_counter() - t0, codes.shape[1]))
    return _result(out, 1.0)


def serve_static(engine, requests, arrivals, batch: int, max_wait_s: float) -> dict:
    from voxfarm.worker.batcher import Pending, select

    t0, out, nxt = time.perf_counter(), [], 0
    buffer: list[Pending] = []
    steps_run = useful = 0
    while nxt < len(requests) or buffer:
        now = time.perf_counter() - t0
        while nxt < len(requests) and arrivals[nxt] <= now:
            buffer.append(Pending(requests[nxt], None, arrived=arrivals[nxt]))
            nxt += 1
        if not buffer:
            _sleep_until(t0 + arrivals[nxt])
            continue
        close_at = buffer[0].arrived + max_wait_s
        if len(buffer) < batch and now < close_at:  # the batcher waits for more, up to max_wait
            _sleep_until(t0 + min(close_at, arrivals[nxt] if nxt < len(requests) else close_at))
            continue
        window = buffer[: 4 * batch]
        chosen = select(window, batch, engine.batch_key, engine.expected_length)
        taken = {id(p) for p in chosen}
        buffer = [p for p in buffer if id(p) not in taken]
        codes = engine.static_codes([p.request for p in chosen])
        done = time.perf_counter() - t0
        steps = engine._last_steps
        steps_run += steps * len(chosen)
        useful += sum(min(c.shape[1] + 1 + engine.max_delay, steps) for c in codes)
        out += [(p.arrived, done, c.shape[1]) for p, c in zip(chosen, codes, strict=False)]
    return _result(out, useful / steps_run)


def serve_continuous(engine, requests, arrivals) -> dict:
    loop = engine.loop()
    before = (loop.slot_steps, loop.useful_slot_steps)
    t0, out, nxt = time.perf_counter(), [], 0

    def finished(arrival):
        def done(job, seq):
            out.append((arrival, time.perf_counter() - t0, _frames(engine, job, seq)))
        return done

    while nxt < len(requests) or loop.busy:
        now = time.perf_counter() - t0
        while nxt < len(requests) and arrivals[nxt] <= now:
            job = engine.continuous_job(requests[nxt], finished(arrivals[nxt]))
            if job is None:
                raise ValueError("the benchmark's loop shapes must fit every request")
            loop.submit(job)
            nxt += 1
        if loop.busy:
            loop.step()
        elif nxt < len(requests):
            _sleep_until(t0 + arrivals[nxt])
    slot_steps, useful = loop.slot_steps - before[0], loop.useful_slot_steps - before[1]
    return _result(out, useful / slot_steps if slot_steps else 1.0)


def _frames(engine, job, seq) -> int:
    from voxfarm.worker.engines.dia_inputs import generated_codes

    return generated_codes(seq, job.prompt_len, engine.delay_pattern, engine.pad, engine.codebook_size)[0].shape[1]


def _result(rows, useful_fraction: float) -> dict:
    lat = sorted(f - a for a, f, _ in rows)
    makespan = max(f for _, f, _ in rows)
    frames = sum(n for _, _, n in rows)
    return {"items": len(rows), "makespan_s": round(makespan, 3), "frames": frames,
            "audio_s_per_wall_s": round(frames / 86 / makespan, 4),
            "p50_latency_s": round(_pct(lat, 50), 3), "p99_latency_s": round(_pct(lat, 99), 3),
            "useful_step_fraction": round(useful_fraction, 4)}


def _pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    k = max(0, min(len(values) - 1, -(-q * len(values) // 100) - 1))
    return values[int(k)]


def _sleep_until(t: float) -> None:
    delay = t - time.perf_counter()
    if delay > 0:
        time.sleep(delay)
