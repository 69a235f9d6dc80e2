"""Engines side by side: audio-seconds per wall-second, sequential vs batched, same inputs, one run.

    python scripts/bench_engines.py [--reps 3] [--threads 2] [--out bench/engines-cpu]

For each engine (piper with its bundled voice, kokoro on the tiny look-alike model unless
VOXFARM_KOKORO_MODEL names a real one, espeak, and zipvoice when its module is present) the same
16 sentences are rendered:
* ``sequential``: one ``generate_batch([item])`` call per sentence;
* ``batch B`` (B = 1, 4, 8, 16): ``generate_batch`` over groups of B, as the micro-batcher feeds it.
For piper one more row, ``padded B``, feeds B sentences to the model as one zero-padded tensor:
the alternative the engine rejects (it runs item by item) because of these figures.
Writes ``<out>.md`` and ``<out>.json`` (every repetition's wall time, min/median/max).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voxfarm.core.settings import Settings  # noqa: E402
from voxfarm.worker.engines.base import RenderRequest, create_engine  # noqa: E402

SENTENCES = [
    "The lighthouse keeper climbed the stairs each evening.",
    "He counted every step, and the sea counted them with him.",
    "At the top he lit the lamp and watched the ships.",
    "Rain came in from the west just after midnight.",
    "By morning the harbour was full of small boats waiting for the tide.",
    "She wrote letters that nobody answered.",
    "The market opened at seven, and by eight the bread was gone.",
    "A dog barked twice, then thought better of it.",
    "Nobody remembered who had planted the orchard behind the old school.",
    "The train was late again.",
    "They walked along the river until the lights of the town disappeared behind them.",
    "It was, he decided, a perfectly reasonable thing to do.",
    "The radio played an old song about summer.",
    "Every window on the street was open, and every curtain moved in the wind.",
    "Please close the door quietly.",
    "When the storm finally passed, the whole village came out to look at the sky.",
]
SIZES = (1, 4, 8, 16)


def engines(threads: int, tmp: Path) -> list[tuple[str, object]]:
    from scripts.make_tiny_kokoro import make_tiny_kokoro

    kokoro_dir = os.environ.get("VOXFARM_KOKORO_MODEL") or str(make_tiny_kokoro(tmp / "kokoro-tiny"))
    base = Settings(data_dir=tmp / "var", onnx_intra_op_threads=threads, onnx_inter_op_threads=1,
                    kokoro_model=kokoro_dir)
    out = [("piper", create_engine("piper", base)),
           ("kokoro" + ("" if "VOXFARM_KOKORO_MODEL" in os.environ else " (tiny)"), create_engine("kokoro", base)),
           ("espeak", create_engine("espeak", base))]
    zipvoice = importlib.util.find_spec("voxfarm.worker.engines.zipvoice")
    if zipvoice and (ROOT / "scripts" / "make_tiny_zipvoice.py").exists():
        from scripts import make_tiny_zipvoice  # written by the zipvoice work, used only when present

        model = os.environ.get("VOXFARM_ZIPVOICE_MODEL") or str(make_tiny_zipvoice.make_tiny_zipvoice(tmp / "zv"))
        out.append(("zipvoice" + ("" if "VOXFARM_ZIPVOICE_MODEL" in os.environ else " (tiny)"),
                    create_engine("zipvoice", base.model_copy(update={"zipvoice_model": model}))))
    return out


def requests_for(engine) -> list[RenderRequest]:
    voice = None
    if engine.spec.clones_voices:
        t = np.arange(int(2.5 * 24000)) / 24000
        prompt = (0.2 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
        voice = engine.prepare_voice(prompt, 24000, "This is my voice.")
    return [RenderRequest(f"s{i}", s, {}, seed=i, voice=voice) for i, s in enumerate(SENTENCES)]


def timed(fn) -> tuple[float, float]:
    start = time.perf_counter()
    seconds = fn()
    return time.perf_counter() - start, seconds


def run_batches(engine, reqs: list[RenderRequest], size: int | None) -> float:
    """Render all requests; returns seconds of audio.  size None: one call per item."""
    groups = [[r] for r in reqs] if size is None else [reqs[i:i + size] for i in range(0, len(reqs), size)]
    total = 0.0
    for group in groups:
        for r in engine.generate_batch(group):
            if not r.ok:
                raise RuntimeError(r.error)
            total += r.audio.size / engine.spec.sample_rate
    return total


def piper_padded(engine, reqs: list[RenderRequest], size: int, solo_seconds: float) -> float:
    """B sentences as one zero-padded batch (the model's own batch axis).  The output has no per-item
    length, so the audio counted is the same sentences' solo total."""
    from voxfarm.core.engines.catalog import BUNDLED_PIPER

    voice = engine.voice(BUNDLED_PIPER)
    ids = [engine.phoneme_ids(voice, r.text) for r in reqs]
    for i in range(0, len(ids), size):
        group = ids[i:i + size]
        width = max(len(x) for x in group)
        feed = engine.feed(voice, group[0], {}, 1)
        feed["input"] = np.array([x + [0] * (width - len(x)) for x in group], np.int64)
        feed["input_lengths"] = np.array([len(x) for x in group], np.int64)
        voice.session.run(None, feed)
    return solo_seconds


def bench(reps: int, threads: int) -> dict:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, engine in engines(threads, Path(tmp)):
            engine.load()
            reqs = requests_for(engine)
            run_batches(engine, reqs[:2], None)  # warm-up: first-run allocations and caches
            modes = [("sequential", lambda e=engine, q=reqs: run_batches(e, q, None))]
            modes += [(f"batch {b}", lambda e=engine, b=b, q=reqs: run_batches(e, q, b)) for b in SIZES]
            solo = run_batches(engine, reqs, None)
            if label == "piper":
                modes += [(f"padded {b}", lambda e=engine, b=b, q=reqs, t=solo: piper_padded(e, q, b, t))
                          for b in SIZES[1:]]
            # round robin over the modes, so a change in the machine's load hits every mode alike
            runs: dict[str, list[tuple[float, float]]] = {mode: [] for mode, _ in modes}
            for _ in range(reps):
                for mode, fn in modes:
                    runs[mode].append(timed(fn))
            for mode, _ in modes:
                samples = runs[mode]
                rates = [audio / wall for wall, audio in samples]
                rows.append({"engine": label, "mode": mode, "device": engine.device, "items": len(reqs),
                             "audio_s": round(samples[0][1], 3), "wall_s": [round(w, 4) for w, _ in samples],
                             "audio_s_per_wall_s": {"min": round(min(rates), 2),
                                                    "median": round(statistics.median(rates), 2),
                                                    "max": round(max(rates), 2)}})
                print(f"{label:>14} {mode:>10}: {rows[-1]['audio_s_per_wall_s']}", flush=True)
    for row in rows:
        seq = next(r for r in rows if r["engine"] == row["engine"] and r["mode"] == "sequential")
        row["vs_sequential"] = round(row["audio_s_per_wall_s"]["median"] / seq["audio_s_per_wall_s"]["median"], 2)
    return {"conditions": {"cpu_count": os.cpu_count(), "onnx_intra_op_threads": threads, "reps": reps,
                           "loadavg_before": os.getloadavg(), "python": platform.python_version(),
                           "machine": platform.machine(), "sentences": len(SENTENCES),
                           "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())},
            "rows": rows}


def markdown(result: dict) -> str:
    c = result["conditions"]
    lines = ["# Engines on CPU: audio-seconds per wall-second", "",
             f"`scripts/bench_engines.py`, {c['when']}: {c['sentences']} sentences per mode, {c['reps']} repetitions, "
             f"{c['cpu_count']} CPU cores shared with other work (load average before: "
             f"{', '.join(f'{x:.1f}' for x in c['loadavg_before'])}), onnxruntime intra-op threads "
             f"{c['onnx_intra_op_threads']}.  Every mode renders the same inputs in the same run; the ratio is "
             "the median against the same engine's sequential median.  kokoro (tiny) and zipvoice (tiny) are "
             "random look-alike models: their figures measure the code path, not the real model's speed.", "",
             "| engine | mode | device | audio s | audio s / wall s (min / median / max) | vs sequential |",
             "|---|---|---|---|---|---|"]
    for r in result["rows"]:
        a = r["audio_s_per_wall_s"]
        lines.append(f"| {r['engine']} | {r['mode']} | {r['device']} | {r['audio_s']} | "
                     f"{a['min']} / {a['median']} / {a['max']} | {r['vs_sequential']}x |")
    lines.append("")
    for engine in dict.fromkeys(r["engine"] for r in result["rows"]):
        same = [r["vs_sequential"] for r in result["rows"] if r["engine"] == engine and r["mode"].startswith("batch")]
        padded = [f"{r['mode']} {r['vs_sequential']}x" for r in result["rows"]
                  if r["engine"] == engine and r["mode"].startswith("padded")]
        lines.append(f"* {engine}: the `batch B` rows make the same model calls as sequential, so their spread "
                     f"({min(same)}x to {max(same)}x) is this machine's noise"
                     + (f"; padded batches: {', '.join(padded)}." if padded else "."))
    lines += ["", "`padded B` (piper only) is B sentences zero-padded into one model call, the batching the engine "
              "does not use on CPU; `batch B` is what the worker does: one generate_batch call rendering items one "
              "by one. No GPU was lent to this run, so there is no GPU row.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "bench" / "engines-cpu"))
    args = parser.parse_args()
    result = bench(max(3, args.reps), args.threads)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2))
    out.with_suffix(".md").write_text(markdown(result))
    print(out.with_suffix(".md"))


if __name__ == "__main__":
    main()
