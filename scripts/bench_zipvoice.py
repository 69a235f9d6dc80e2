"""ZipVoice batching benchmark: sequential (one item per call) vs batched B = 1/4/8/16.

Same inputs, same process, side by side, ``--reps`` repetitions each (raw samples kept).  Every
configuration renders the same 16 requests end to end through ``generate_batch`` (text encoder,
``num_steps`` decoder calls, Vocos + ISTFT, trimming); "batched B" cuts them into calls of B.

Two input sets:
* ``bucket``: 16 jobs whose texts land in one length bucket (the case batching is built for:
  the decoder calls carry all B rows);
* ``mixed``: 16 different sentences; ``generate_batch`` groups them by rounded length, so a call
  with B items makes one decoder loop per distinct length (the ``groups`` column).

    python scripts/bench_zipvoice.py                 -> bench/engines-cpu-zipvoice.{json,md}
    python scripts/bench_zipvoice.py --hidden 512    (a wider random decoder: heavier steps)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.make_tiny_zipvoice import HIDDEN, make_tiny_zipvoice  # noqa: E402
from voxfarm.core.settings import Settings  # noqa: E402
from voxfarm.worker.engines.base import RenderRequest, create_engine  # noqa: E402

BUCKET_TEXT = "The farm renders this sentence in many voices at once."
MIXED = [
    "The quick brown fox jumps over the lazy dog.",
    "Rendering many sentences together keeps the processor busy.",
    "A voice render farm turns text into speech at scale.",
    "Short line.",
    "Batching shares each decoding step across many requests.",
    "Long-form books are split into sentence-aware chunks.",
    "Every job gets its own seed, so a take can be repeated.",
    "The weights are read once per step whatever the batch size.",
    "Clouds gathered over the hills before the evening rain.",
    "She counted the boats in the harbour, one by one.",
    "Nothing accepted is ever lost.",
    "Please leave a message after the tone.",
    "Tomorrow the market opens an hour earlier than usual.",
    "He read the letter twice and then folded it away.",
    "Music drifted in from the open window next door.",
    "The train to the coast leaves from platform nine.",
]
SIZES = (1, 4, 8, 16)


def run(engine, requests, size: int) -> tuple[float, float, int, float]:
    """(wall s, audio s, decoder calls, process CPU s) for all requests in calls of ``size``."""
    start, cpu, audio, calls = time.perf_counter(), time.process_time(), 0.0, 0
    for i in range(0, len(requests), size):
        results = engine.generate_batch(requests[i:i + size])
        calls += engine.last_stats.steps
        audio += sum(r.audio.size for r in results if r.ok) / engine.spec.sample_rate
    return time.perf_counter() - start, audio, calls, time.process_time() - cpu


def bench(engine, requests, reps: int) -> list[dict]:
    """Repetitions interleave the configurations (rep 1 of each, then rep 2...), so load from
    other processes on a shared machine spreads over all of them instead of one."""
    modes = [("sequential", 1)] + [(f"batched B={b}", b) for b in SIZES]
    for _, size in modes:
        run(engine, requests, size)  # warm-up: session allocations for these shapes
    samples: dict[str, list] = {label: [] for label, _ in modes}
    for _ in range(reps):
        for label, size in modes:
            samples[label].append(run(engine, requests, size))
    rows = []
    for label, size in modes:
        got = samples[label]
        rates = [a / w for w, a, _, _ in got]
        cpu_rates = [a / c for _, a, _, c in got]
        rows.append({"mode": label, "batch": size, "decoder_calls": got[0][2],
                     "wall_s": [round(w, 4) for w, _, _, _ in got], "cpu_s": [round(c, 4) for *_, c in got],
                     "audio_s": round(got[0][1], 3),
                     "audio_s_per_cpu_s": {"min": min(cpu_rates), "median": statistics.median(cpu_rates),
                                           "max": max(cpu_rates)},
                     "audio_s_per_wall_s": {"min": min(rates), "median": statistics.median(rates), "max": max(rates)},
                     "raw_audio_s_per_wall_s": [round(r, 3) for r in rates]})
    base = rows[0]["audio_s_per_wall_s"]["median"]
    for row in rows:
        row["speedup_vs_sequential"] = round(row["audio_s_per_wall_s"]["median"] / base, 2)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=HIDDEN)
    ap.add_argument("--out", default=str(ROOT / "bench" / "engines-cpu-zipvoice"))
    args = ap.parse_args()
    model = make_tiny_zipvoice(Path(tempfile.mkdtemp(prefix="zipvoice-bench-")) / "model", hidden=args.hidden)
    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="zv-var-")), zipvoice_model=str(model),
                        zipvoice_threads=args.threads, zipvoice_device="cpu")
    engine = create_engine("zipvoice", settings)
    engine.load()
    params = {"num_steps": args.steps}
    inputs = {"bucket": [RenderRequest(f"b{i}", BUCKET_TEXT, params, seed=i) for i in range(16)],
              "mixed": [RenderRequest(f"m{i}", t, params, seed=i) for i, t in enumerate(MIXED)]}
    groups = {name: len({engine.batch_key(r) for r in reqs}) for name, reqs in inputs.items()}
    results = {name: bench(engine, reqs, args.reps) for name, reqs in inputs.items()}
    conditions = {"model": f"tiny random ZipVoice ONNX (decoder hidden {args.hidden}, feat_dim 100) + tiny Vocos",
                  "device": engine.device, "onnxruntime_threads": args.threads, "num_steps": args.steps,
                  "items": 16, "reps": args.reps, "length_grid": settings.zipvoice_length_grid,
                  "length_buckets": groups, "machine": platform.platform(), "cpu_count": os.cpu_count(),
                  "date": time.strftime("%Y-%m-%d")}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"conditions": conditions, "results": results}, indent=2))
    intro = ("Same 16 requests per input set, same process; end-to-end `generate_batch` (text encoder, "
             "decoder steps, Vocos + ISTFT). Audio seconds per wall second, median of the reps "
             "(min-max in brackets); audio seconds per CPU second of this process (all onnxruntime threads) "
             "is less sensitive to other processes on a shared machine. The random decoder is far lighter "
             "than ZipVoice's, so the per-item work outside it (Vocos, ISTFT, text encoder) weighs more here.")
    lines = ["# ZipVoice batching benchmark (CPU)", "", intro, "",
             "| " + " | ".join(f"{k}: {v}" for k, v in conditions.items()) + " |", ""]
    for name, rows in results.items():
        lines += [f"## {name} inputs ({groups[name]} length bucket(s))", "",
                  "| mode | decoder calls | audio s / wall s | speed-up | audio s / CPU s |",
                  "|---|---:|---:|---:|---:|"]
        for r in rows:
            s, c = r["audio_s_per_wall_s"], r["audio_s_per_cpu_s"]
            lines.append(f"| {r['mode']} | {r['decoder_calls']} | {s['median']:.2f} ({s['min']:.2f}-{s['max']:.2f}) "
                         f"| {r['speedup_vs_sequential']}x | {c['median']:.2f} ({c['min']:.2f}-{c['max']:.2f}) |")
        lines.append("")
    out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
