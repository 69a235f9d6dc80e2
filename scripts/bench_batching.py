"""Batching benchmark for the Dia engine: sequential vs static batches, two workloads, side by side.

Scenarios (same real sentences, scripts/bench_workload.py):
  eos_at_length   mixed lengths with end-of-speech firing at each text's speaking length (a random
                  checkpoint never ends by itself, so EOS is forced at that step; see the md) -- what
                  a worker sees, with the padding waste of static batches reported per mode;
  eos_suppressed  every item runs --tokens steps: the best case for batching, labelled as such.
Units: codec frames per second of generation (86 frames = 1 s of audio), and audio seconds per wall
second with the DAC decode.  >= 3 repetitions, modes interleaved; raw samples in the JSON.

CPU (any machine):   python scripts/bench_batching.py --tiny          -> bench/batching-cpu.{json,md}
GPU (when lent one): python scripts/bench_batching.py --full --device cuda
                     full-size random-weight Dia (DiaConfig() defaults), bf16 -> bench/batching-gpu.{json,md}
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

from scripts.bench_common import PeakMemory, make_full_random  # noqa: E402


def build_engine(args):
    from voxfarm.core.settings import Settings
    from voxfarm.worker.engines.base import create_engine

    if args.full:
        model_dir = make_full_random(Path(args.model_dir or tempfile.mkdtemp(prefix="dia-full-")))
    else:
        from scripts.make_tiny_dia import make_tiny_dia

        model_dir = make_tiny_dia(Path(args.model_dir or tempfile.mkdtemp(prefix="dia-tiny-")))
    settings = Settings(data_dir=Path(tempfile.mkdtemp()), dia_model=str(model_dir), dia_device=args.device,
                        dia_dtype=args.dtype)
    engine = create_engine("dia", settings)
    engine.load()
    return engine


def static_batches(engine, requests, batch: int) -> list[list]:
    """Today's static batching: the worker's own selection (``worker.batcher.select``: the oldest
    request plus the closest expected lengths from a look-ahead of 4 batches), in arrival order."""
    from voxfarm.worker.batcher import Pending, select

    queue = [Pending(r, None, arrived=i) for i, r in enumerate(requests)]
    groups = []
    while queue:
        window = queue[: 4 * batch]
        chosen = select(window, batch, engine.batch_key, engine.expected_length)
        taken = {id(p) for p in chosen}
        queue = [p for p in queue if id(p) not in taken]
        groups.append([p.request for p in chosen])
    return groups


def run_static(engine, requests, batch: int) -> dict:
    """One pass over ``requests`` in batches of ``batch`` (1 = sequential): one raw sample."""
    gen_s = dec_s = 0.0
    frames = steps_run = useful = 0
    audio_s = 0.0
    with PeakMemory(engine.device) as mem:
        for group in static_batches(engine, requests, batch):
            t0 = time.perf_counter()
            codes = engine.generate_codes(group)
            _sync(engine)
            t1 = time.perf_counter()
            results = engine.decode_codes(codes)
            _sync(engine)
            gen_s += t1 - t0
            dec_s += time.perf_counter() - t1
            steps = engine._last_steps
            steps_run += steps * len(group)
            # an item's useful steps: its frames, its EOS step and the codebook delay tail after it
            useful += sum(min(c.shape[1] + 1 + engine.max_delay, steps) for c in codes)
            frames += sum(c.shape[1] for c in codes)
            audio_s += sum(r.audio.size for r in results if r.ok) / engine.spec.sample_rate
    return {"generation_s": round(gen_s, 3), "decode_s": round(dec_s, 3), "generated_frames": frames,
            "codec_frames_per_s": round(frames / gen_s, 1), "audio_s": round(audio_s, 2),
            "audio_s_per_wall_s": round(audio_s / (gen_s + dec_s), 3),
            "useful_step_fraction": round(useful / steps_run, 4) if steps_run else 1.0,
            "peak_memory_mib": round(mem.mib, 1)}


def scenario_requests(texts, scenario: str, args) -> list:
    from voxfarm.worker.engines.base import RenderRequest

    tokens = args.tokens if scenario == "eos_suppressed" else args.max_new_tokens
    return [RenderRequest(f"r{i}", t, {"max_new_tokens": tokens}, seed=i) for i, t in enumerate(texts)]


def set_ending(engine, scenario: str, scale: float) -> None:
    """``eos_suppressed``: every item runs --tokens steps (batching's best case).  ``eos_at_length``:
    each item's channel 0 is forced to EOS at its text's speaking length (bench_workload.frames_for);
    the delay tail and padding after it are Dia's own code path."""
    from scripts.bench_workload import frames_for

    engine.suppress_eos = scenario == "eos_suppressed"
    engine.eos_at = (lambda r: frames_for(r.text, scale)) if scenario == "eos_at_length" else None


def summarize(samples: list[dict]) -> dict:
    keys = [k for k, v in samples[0].items() if isinstance(v, int | float)]
    return {k: {"min": min(s[k] for s in samples), "median": statistics.median(s[k] for s in samples),
                "max": max(s[k] for s in samples)} for k in keys}


def _sync(engine) -> None:
    import torch

    if engine.device.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny random checkpoint (CPU, default)")
    parser.add_argument("--full", action="store_true", help="full-size random-weight Dia (GPU)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--items", type=int, default=24)
    parser.add_argument("--tokens", type=int, default=96, help="steps per item with EOS suppressed")
    parser.add_argument("--max-new-tokens", type=int, default=200, help="cap with EOS at the text's length")
    parser.add_argument("--scale", type=float, default=0.1, help="speaking-length scale (bench_workload)")
    parser.add_argument("--batches", default="4,8,16")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--model-dir", default=None)
    parser.add_argument("--out", default=None, help="output stem (default bench/batching-<cpu|gpu>)")
    parser.add_argument("--stream-items", type=int, default=24, help="requests in the Poisson stream")
    parser.add_argument("--slots", type=int, default=8, help="continuous slots = static batch size")
    parser.add_argument("--load", type=float, default=1.5,
                        help="arrival rate as a multiple of static batching's measured capacity")
    args = parser.parse_args()
    import torch

    from scripts.bench_workload import workload

    if args.threads:
        torch.set_num_threads(args.threads)
    engine = build_engine(args)
    texts = workload(args.items, seed=0)
    engine.generate_batch([engine_request(texts[0], 32)])  # warm-up (allocations, kernels)
    configs = [(sc, b) for sc in SCENARIOS for b in [1, *map(int, args.batches.split(","))]]
    raw: dict[str, list[dict]] = {label(sc, b): [] for sc, b in configs}
    for rep in range(args.reps):  # modes interleaved per repetition: load drift hits them alike
        for sc, b in configs:
            set_ending(engine, sc, args.scale)
            sample = run_static(engine, scenario_requests(texts, sc, args), b)
            raw[label(sc, b)].append(sample)
            print(f"rep {rep} {label(sc, b)}: {sample['codec_frames_per_s']} frames/s, "
                  f"useful {sample['useful_step_fraction']:.0%}", file=sys.stderr)
    rows = []
    for sc, b in configs:
        seq = raw[label(sc, 1)]
        pairs = zip(raw[label(sc, b)], seq, strict=True)
        speedups = [s["codec_frames_per_s"] / q["codec_frames_per_s"] for s, q in pairs]
        rows.append({"scenario": sc, "mode": "sequential" if b == 1 else f"static B={b}", "batch": b,
                     "summary": summarize(raw[label(sc, b)]),
                     "speedup_vs_sequential": {"min": round(min(speedups), 2),
                                               "median": round(statistics.median(speedups), 2),
                                               "max": round(max(speedups), 2)},
                     "samples": raw[label(sc, b)]})
    stream = run_stream(engine, args, rows)
    set_ending(engine, "natural", args.scale)
    write_report(args, engine, texts, rows, stream)


SCENARIOS = ("eos_suppressed", "eos_at_length")


def run_stream(engine, args, rows) -> dict:
    """Issue 18: sequential vs static vs continuous on one Poisson stream of real sentences, EOS firing."""
    from scripts.bench_dia_stream import serve_continuous, serve_sequential, serve_static
    from scripts.bench_workload import frames_for, poisson_arrivals, workload

    set_ending(engine, "eos_at_length", args.scale)
    texts = workload(args.stream_items, seed=1)
    requests = scenario_requests(texts, "eos_at_length", args)
    tokens = max(len(engine.processor.tokenizer(engine.script(r))["input_ids"]) for r in requests)
    engine.settings = engine.settings.model_copy(update={
        "dia_slots": args.slots, "dia_loop_max_len": 1 + args.max_new_tokens, "dia_loop_max_text": tokens})
    static = next(r for r in rows if r["scenario"] == "eos_at_length" and r["batch"] == args.slots)
    mean_frames = sum(frames_for(t, args.scale) for t in texts) / len(texts)
    rate = args.load * static["summary"]["codec_frames_per_s"]["median"] / mean_frames  # requests/s
    arrivals = poisson_arrivals(len(requests), rate, seed=2)
    modes = {"sequential": lambda: serve_sequential(engine, requests, arrivals),
             f"static B={args.slots}": lambda: serve_static(engine, requests, arrivals, args.slots, 0.05),
             f"continuous {args.slots} slots": lambda: serve_continuous(engine, requests, arrivals)}
    engine.continuous_codes(requests[:1])  # build the loop outside the timed runs
    raw: dict[str, list] = {m: [] for m in modes}
    for rep in range(args.reps):
        for mode, serve in modes.items():
            raw[mode].append(serve())
            print(f"stream rep {rep} {mode}: {raw[mode][-1]}", file=sys.stderr)
    cont, stat = raw[f"continuous {args.slots} slots"], raw[f"static B={args.slots}"]
    ratio = [c["audio_s_per_wall_s"] / s["audio_s_per_wall_s"] for c, s in zip(cont, stat, strict=False)]
    return {"rate_per_s": round(rate, 3), "load": args.load, "items": len(requests),
            "arrivals_s": [round(a, 3) for a in arrivals],
            "modes": {m: {"summary": summarize(v), "samples": v} for m, v in raw.items()},
            "continuous_over_static": {"min": round(min(ratio), 2), "median": round(statistics.median(ratio), 2),
                                       "max": round(max(ratio), 2), "samples": [round(x, 3) for x in ratio]}}


def label(scenario: str, batch: int) -> str:
    return f"{scenario}/{'sequential' if batch == 1 else f'B={batch}'}"


def write_report(args, engine, texts, rows, stream) -> None:
    import torch

    from scripts.bench_workload import frames_for

    kind = "gpu" if args.device.startswith("cuda") else "cpu"
    stem = Path(args.out or ROOT / "bench" / f"batching-{kind}")
    stem.parent.mkdir(parents=True, exist_ok=True)
    targets = [frames_for(t, args.scale) for t in texts]
    meta = {"model": "dia full-size random weights" if args.full else "dia tiny (2 layers, hidden 64)",
            "device": engine.device, "dtype": str(engine.dtype), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "items": len(texts), "reps": args.reps,
            "eos_suppressed_steps": args.tokens, "max_new_tokens": args.max_new_tokens,
            "eos_scale": args.scale, "eos_target_frames": targets, "machine": platform.platform(),
            "cpu_count": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 1),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "date": time.strftime("%Y-%m-%d %H:%M")}
    stem.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows, "stream": stream}, indent=2))
    med = lambda row, k: row["summary"][k]["median"]  # noqa: E731
    rng = lambda row, k: f"{row['summary'][k]['min']}-{row['summary'][k]['max']}"  # noqa: E731
    lines = [f"# Dia batching benchmark ({kind.upper()})", "", HEADER.format(**meta, lo=min(targets),
             hi=max(targets), mean=round(sum(targets) / len(targets)), delay=engine.max_delay), ""]
    for sc, title in (("eos_at_length", "Mixed lengths, end-of-speech firing (what a worker sees)"),
                      ("eos_suppressed", "EOS suppressed: every item runs the same steps (batching's best case)")):
        lines += [f"## {title}", "", "| mode | codec frames/s (generation), median (min-max) | speed-up vs "
                  "sequential | audio s / wall s (with DAC decode) | useful-step fraction | peak MiB |",
                  "|---|---:|---:|---:|---:|---:|"]
        for r in (r for r in rows if r["scenario"] == sc):
            lines.append(f"| {r['mode']} | {med(r, 'codec_frames_per_s')} ({rng(r, 'codec_frames_per_s')}) | "
                         f"{r['speedup_vs_sequential']['median']}x | {med(r, 'audio_s_per_wall_s')} | "
                         f"{med(r, 'useful_step_fraction'):.1%} | {med(r, 'peak_memory_mib')} |")
        lines.append("")
    lines += stream_lines(stream)
    stem.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


def stream_lines(stream: dict) -> list[str]:
    c = stream["continuous_over_static"]
    lines = ["## Continuous vs static vs sequential on a Poisson stream", "",
             f"{stream['items']} real sentences arriving as a Poisson stream at {stream['rate_per_s']} requests/s "
             f"({stream['load']}x static batching's capacity measured above), EOS firing at each text's length; "
             "the same stream for every mode, modes interleaved per repetition. Generation only (the DAC decode "
             "is the same per-item work in every mode). Latency = finish - arrival; p99 is the nearest rank "
             "(with this many requests, the slowest). Useful-step fraction: slot-steps carrying a live item.", "",
             "| mode | audio s / wall s, median (min-max) | p50 latency s | p99 latency s | useful-step fraction |",
             "|---|---:|---:|---:|---:|"]
    for mode, data in stream["modes"].items():
        sm = data["summary"]
        lines.append(f"| {mode} | {sm['audio_s_per_wall_s']['median']} ({sm['audio_s_per_wall_s']['min']}-"
                     f"{sm['audio_s_per_wall_s']['max']}) | {sm['p50_latency_s']['median']} | "
                     f"{sm['p99_latency_s']['median']} | {sm['useful_step_fraction']['median']:.1%} |")
    lines += ["", f"Continuous over static throughput, per repetition: median {c['median']}x "
              f"(min {c['min']}x, max {c['max']}x).", ""]
    return lines


HEADER = """Conditions: {model}, {device}, {dtype}, torch {torch}, {threads} threads on a {cpu_count}-core machine \
shared with other jobs (1-minute load average {load_avg_1m} at the end), {items} real sentences \
(scripts/bench_workload.py), {reps} repetitions with the modes interleaved; medians with min-max; raw \
samples in the JSON.  Units: codec frames generated per second of generation time (86 frames = 1 s of \
audio); audio seconds per wall second include the DAC decode.  Useful-step fraction: decoder steps an \
item needed (its frames, EOS and the {delay}-step codebook delay tail) over the steps its batch ran it.

End of speech: a random-weight Dia never ends on its own, so in the mixed scenario each item's first \
codebook is forced to EOS at its text's speaking length ({eos_scale} x (chars / 15 chars/s x 86 frames/s): \
{lo}-{hi} frames, mean {mean}); the delay tail, Dia's EOS processor and the padding of finished items \
are the real code path.  The suppressed scenario runs every item {eos_suppressed_steps} steps."""


def engine_request(text: str, tokens: int):
    from voxfarm.worker.engines.base import RenderRequest

    return RenderRequest("warm", text, {"max_new_tokens": tokens}, seed=0)


if __name__ == "__main__":
    main()
