"""Peak memory of stitching a long book: synthetic chunks -> the real stitch pipeline.

    python scripts/bench_stitch_memory.py --hours 10 [--chunk-s 15] [--format m4b]

Writes synthetic speech-like chunks (22.05 kHz, like espeak) into a local object store, then runs
core.render.finalize.build_stitched exactly as the control worker does (fetch + verify each chunk, trim,
crossfade, pauses, two-pass loudness normalization, AAC/m4b with chapters).  Peak memory is
sampled every 20 ms for this process and, separately, for the ffmpeg children.  Results go to
bench/stitch-memory.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class TreeSampler:
    def __init__(self) -> None:
        import psutil

        self.me = psutil.Process()
        self.self_peak = self.children_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.wait(0.02):
            try:
                self.self_peak = max(self.self_peak, self.me.memory_info().rss)
                kids = 0
                for child in self.me.children(recursive=True):
                    try:
                        kids += child.memory_info().rss
                    except psutil.Error:
                        pass
                self.children_peak = max(self.children_peak, kids)
            except psutil.Error:
                pass

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def synth_chunk(i: int, seconds: float, rate: int):
    import numpy as np

    rng = np.random.default_rng(i)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 110 + 40 * np.sin(2 * np.pi * 0.3 * t + i)  # a wandering pitch
    voiced = 0.25 * np.sin(2 * np.pi * np.cumsum(f0) / rate) * (0.5 + 0.5 * np.sin(2 * np.pi * 3.5 * t) ** 2)
    noise = 0.02 * rng.standard_normal(t.size)
    return (voiced + noise).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=10.0)
    parser.add_argument("--chunk-s", type=float, default=15.0)
    parser.add_argument("--chapter-every", type=int, default=120, help="chunks per chapter")
    parser.add_argument("--format", default="m4b")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    from tqdm import tqdm

    from voxfarm.core.audio.arrays import encode
    from voxfarm.core.render.finalize import FinalChunk, FinalizeWork, build_stitched
    from voxfarm.core.settings import Settings
    from voxfarm.core.storage import keys, open_store

    work_dir = Path(args.workdir or tempfile.mkdtemp(prefix="stitch-bench-"))
    settings = Settings(data_dir=work_dir / "var")
    store = open_store(settings)
    rate = 22050
    n = int(args.hours * 3600 / args.chunk_s)
    chunks = []
    for i in tqdm(range(n), desc="synthetic chunks", file=sys.stderr):
        data, _ = encode(synth_chunk(i, args.chunk_s, rate), rate, "flac")
        info = store.put_bytes(keys.chunk_cache("bench", f"{i:064x}"), data)
        last = i == n - 1
        chapter_end = (i + 1) % args.chapter_every == 0
        pause = "end" if last else ("chapter" if chapter_end else ("paragraph" if i % 5 == 4 else "sentence"))
        chunks.append(FinalChunk(i, i // args.chapter_every, pause, info.key, info.sha256, seed=i,
                                 duration_s=args.chunk_s))
    chapters = [{"index": c, "title": f"Chapter {c + 1}"} for c in range(chunks[-1].chapter + 1)]
    work = FinalizeWork("job_bench", "bench", "espeak", "espeak-ng", args.format, None, False, "Ten Hours",
                        "Bench", {"chapters": chapters}, {"job_id": "job_bench"}, chunks)
    tmp = work_dir / "stitch"
    tmp.mkdir(exist_ok=True)
    t0 = time.monotonic()
    with TreeSampler() as mem:
        result = build_stitched(work, store, settings, tmp)
    wall = time.monotonic() - t0
    row = {"hours": args.hours, "chunks": n, "chapters": len(chapters), "format": args.format,
           "output_duration_h": round(result.duration_s / 3600, 3), "output_mib": round(result.size / 2**20, 1),
           "wall_s": round(wall, 1), "realtime_factor": round(result.duration_s / wall, 1),
           "peak_python_mib": round(mem.self_peak / 2**20, 1), "peak_ffmpeg_mib": round(mem.children_peak / 2**20, 1),
           "peak_total_mib": round((mem.self_peak + mem.children_peak) / 2**20, 1), "limit_mib": 500,
           "date": time.strftime("%Y-%m-%d")}
    out = ROOT / "bench" / "stitch-memory"
    out.parent.mkdir(exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(row, indent=2))
    lines = ["# Stitch memory: a long book from synthetic chunks", "",
             "Peak resident memory while stitching (fetch + verify, trim, crossfade, pauses, two-pass loudness, "
             "encode with chapters). Python and ffmpeg children sampled every 20 ms; their peaks are added, "
             "so the total is an upper bound.", "",
             "| " + " | ".join(row) + " |", "|" + "---|" * len(row),
             "| " + " | ".join(str(v) for v in row.values()) + " |"]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
