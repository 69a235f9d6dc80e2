"""Batching benchmark for the Dia engine: sequential batch-1 vs batched B = 1/4/8/16/32.

Same texts, same process, side by side.  For each configuration it reports generated codec
tokens (frames) per second for generation alone, audio seconds per wall second end to end
(generation + DAC decode), the wasted (padded) step fraction, and peak memory.

CPU (any machine):   python scripts/bench_batching.py --tiny          -> bench/batching-cpu.{json,md}
GPU (when lent one): python scripts/bench_batching.py --full --device cuda
                     full-size random-weight Dia (DiaConfig() defaults), bf16, EOS suppressed so
                     every item runs exactly --tokens steps              -> bench/batching-gpu.{json,md}
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Rendering many sentences together keeps the accelerator busy.",
    "[S1] Did you hear that? [S2] I did, and it sounded like rain.",
    "A voice render farm turns text into speech at scale.",
    "Batching shares each decoding step across many requests.",
    "Short line.",
    "The weights are read once per step whatever the batch size is.",
    "Long-form books are split into sentence-aware chunks.",
]


class PeakMemory:
    """Peak RSS (CPU) or peak allocated device memory (CUDA) while the block runs."""

    def __init__(self, device: str) -> None:
        self.device = device

    def __enter__(self):
        import psutil
        import torch

        self.proc = psutil.Process()
        self.base = self.proc.memory_info().rss
        self.peak = self.base
        self._stop = threading.Event()
        if self.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __exit__(self, *exc):
        import torch

        self._stop.set()
        self._thread.join()
        if self.device.startswith("cuda"):
            self.mib = torch.cuda.max_memory_allocated() / 2**20
        else:
            self.mib = (self.peak - self.base) / 2**20


def build_engine(args):
    from core.settings import Settings
    from worker.engines.base import create_engine

    if args.full:
        model_dir = make_full_random(Path(args.model_dir or tempfile.mkdtemp(prefix="dia-full-")))
    else:
        from scripts.make_tiny_dia import make_tiny_dia

        model_dir = make_tiny_dia(Path(args.model_dir or tempfile.mkdtemp(prefix="dia-tiny-")))
    settings = Settings(data_dir=Path(tempfile.mkdtemp()), dia_model=str(model_dir), dia_device=args.device,
                        dia_dtype=args.dtype)
    engine = create_engine("dia", settings)
    engine.load()
    engine.suppress_eos = args.suppress_eos
    return engine


def make_full_random(dest: Path) -> Path:
    """Full-size Dia (DiaConfig() defaults, ~1.6 B parameters) with random weights, plus the real
    DAC-44kHz architecture (random).  Nothing is downloaded."""
    import torch
    from transformers import (DacConfig, DacModel, DiaConfig, DiaFeatureExtractor,
                              DiaForConditionalGeneration, DiaProcessor, DiaTokenizer)

    if (dest / "config.json").exists():
        return dest
    torch.manual_seed(0)
    with torch.device("cpu"):
        model = DiaForConditionalGeneration(DiaConfig()).to(torch.bfloat16)
    model.save_pretrained(dest)
    codec = DacModel(DacConfig(sampling_rate=44100, encoder_hidden_size=64, decoder_hidden_size=1536,
                               downsampling_ratios=[2, 4, 8, 8], n_codebooks=9, codebook_size=1024,
                               codebook_dim=8))
    codec.save_pretrained(dest / "dac")
    DiaProcessor(DiaFeatureExtractor(sampling_rate=44100), DiaTokenizer(), codec).save_pretrained(dest)
    return dest


def run(engine, texts, batch: int, tokens: int, sequential: bool) -> dict:
    from worker.engines.base import RenderRequest

    requests = [RenderRequest(f"r{i}", t, {"max_new_tokens": tokens}, seed=i) for i, t in enumerate(texts)]
    groups = [[r] for r in requests] if sequential else [requests[i:i + batch] for i in range(0, len(requests), batch)]
    gen_s = dec_s = 0.0
    frames = steps_run = useful = 0
    audio_s = 0.0
    with PeakMemory(engine.device) as mem:
        for group in groups:
            t0 = time.perf_counter()
            codes = engine.generate_codes(group)
            _sync(engine)
            t1 = time.perf_counter()
            results = engine.decode_codes(codes)
            _sync(engine)
            t2 = time.perf_counter()
            gen_s += t1 - t0
            dec_s += t2 - t1
            steps = engine._last_steps
            steps_run += steps * len(group)
            useful += sum(min(c.shape[1] + engine.max_delay, steps) for c in codes)
            frames += sum(c.shape[1] for c in codes)
            audio_s += sum(r.audio.size for r in results if r.ok) / engine.spec.sample_rate
    return {"mode": "sequential" if sequential else f"batched B={batch}", "batch": 1 if sequential else batch,
            "items": len(requests), "generated_frames": frames, "generation_s": round(gen_s, 3),
            "decode_s": round(dec_s, 3), "tokens_per_s": round(frames / gen_s, 1),
            "audio_s_per_wall_s": round(audio_s / (gen_s + dec_s), 3),
            "wasted_step_fraction": round(1 - useful / steps_run, 4) if steps_run else 0.0,
            "peak_memory_mib": round(mem.mib, 1), "audio_s": round(audio_s, 2),
            "mean_frames": round(frames / len(requests), 1)}


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
    parser.add_argument("--items", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--batches", default="1,4,8,16,32")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--model-dir", default=None)
    parser.add_argument("--no-suppress-eos", dest="suppress_eos", action="store_false")
    parser.add_argument("--out", default=None, help="output stem (default bench/batching-<cpu|gpu>)")
    args = parser.parse_args()
    import torch
    from tqdm import tqdm

    if args.threads:
        torch.set_num_threads(args.threads)
    engine = build_engine(args)
    texts = [TEXTS[i % len(TEXTS)] + f" Item {i}." for i in range(args.items)]
    engine.generate_batch([engine_request(texts[0], args.tokens)])  # warm-up (allocations, kernels)
    configs = [("seq", 1)] + [("bat", int(b)) for b in args.batches.split(",")]
    rows = []
    for kind, b in tqdm(configs, desc="configurations", file=sys.stderr):
        rows.append(run(engine, texts, b, args.tokens, sequential=kind == "seq"))
    base = rows[0]["tokens_per_s"]
    for row in rows:
        row["speedup_vs_sequential"] = round(row["tokens_per_s"] / base, 2)
    kind = "gpu" if args.device.startswith("cuda") else "cpu"
    stem = Path(args.out or ROOT / "bench" / f"batching-{kind}")
    stem.parent.mkdir(parents=True, exist_ok=True)
    meta = {"model": "dia full-size random weights" if args.full else "dia tiny (2 layers, hidden 64)",
            "device": engine.device, "dtype": str(engine.dtype), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "items": args.items, "max_new_tokens": args.tokens,
            "eos_suppressed": args.suppress_eos, "machine": platform.platform(), "cpu_count": os.cpu_count(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "date": time.strftime("%Y-%m-%d")}
    stem.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    lines = [f"# Dia batching benchmark ({kind.upper()})", "",
             "Same texts, same process; generation-only tokens/s and end-to-end audio-seconds per wall second "
             "(generation + DAC decode).", "",
             "| " + " | ".join(f"{k}: {v}" for k, v in meta.items()) + " |", "",
             "| mode | tokens/s (generation) | speed-up | audio s / wall s (with decode) | decode share | "
             "wasted steps | peak memory MiB |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        share = r["decode_s"] / (r["generation_s"] + r["decode_s"])
        lines.append(f"| {r['mode']} | {r['tokens_per_s']} | {r['speedup_vs_sequential']}x | "
                     f"{r['audio_s_per_wall_s']} | {share:.0%} | {r['wasted_step_fraction']:.1%} | "
                     f"{r['peak_memory_mib']} |")
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def engine_request(text: str, tokens: int):
    from worker.engines.base import RenderRequest

    return RenderRequest("warm", text, {"max_new_tokens": tokens}, seed=0)


if __name__ == "__main__":
    main()
