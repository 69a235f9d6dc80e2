"""ZipVoice's ONNX files, tokens and sampler: everything the engine runs, minus the job plumbing.

Two directory layouts load as they are (``VOXFARM_ZIPVOICE_MODEL``):

* upstream's export (k2-fsa/ZipVoice ``onnx_export.py``, the Hugging Face ``zipvoice/`` and
  ``zipvoice_distill/`` folders): ``text_encoder.onnx``, ``fm_decoder.onnx``, their
  ``*_int8.onnx`` twins, ``tokens.txt``, ``model.json``;
* sherpa-onnx's release (``sherpa-onnx-zipvoice-distill-{int8,fp32}-zh-en-emilia``):
  ``encoder[.int8].onnx``, ``decoder[.int8].onnx``, ``tokens.txt``, ``lexicon.txt``.

Neither holds the vocoder: sherpa-onnx publishes Vocos as ``vocos_24khz.onnx`` (mels -> mag,
cos, sin); it is looked for in the model directory unless ``VOXFARM_ZIPVOICE_VOCODER`` names it.

The sampler is upstream's: Euler steps over ``t_shift``-warped times
``t' = s * t / (1 + (s - 1) * t)``, noise in, ``x += v * dt``, prompt frames dropped at the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voxfarm.core.settings import Settings
from voxfarm.worker.engines.onnx_session import ModelFileMissing, create_session, metadata, require_files
from voxfarm.worker.engines.zipvoice_audio import istft

ENCODERS = {"fp32": ("text_encoder.onnx", "encoder.onnx"),
            "int8": ("text_encoder_int8.onnx", "encoder.int8.onnx", "text_encoder.int8.onnx")}
DECODERS = {"fp32": ("fm_decoder.onnx", "decoder.onnx"),
            "int8": ("fm_decoder_int8.onnx", "decoder.int8.onnx", "fm_decoder.int8.onnx")}
VOCODERS = ("vocos_24khz.onnx", "vocos.onnx", "vocoder.onnx")


@dataclass(frozen=True)
class ModelFiles:
    encoder: Path
    decoder: Path
    vocoder: Path
    tokens: Path
    precision: str


def _pick(root: Path, names: dict[str, tuple[str, ...]], precision: str, what: str) -> tuple[Path, str]:
    order = ("fp32", "int8") if precision == "auto" else (precision,)
    for kind in order:
        for name in names[kind]:
            if (root / name).is_file():
                return root / name, kind
    wanted = " or ".join(n for kind in order for n in names[kind])
    raise ModelFileMissing(f"zipvoice: no {what} in {root} (looked for {wanted})")


def locate(settings: Settings) -> ModelFiles:
    """Resolve every file at worker start; a missing one is one error that names it."""
    if not settings.zipvoice_model:
        raise ModelFileMissing("zipvoice: VOXFARM_ZIPVOICE_MODEL is not set (a directory holding the ONNX export)")
    root = Path(settings.zipvoice_model).expanduser()
    if not root.is_dir():
        raise ModelFileMissing(f"zipvoice: model directory {root} not found")
    if settings.zipvoice_precision not in ("auto", "fp32", "int8"):
        raise ValueError(f"zipvoice_precision must be auto, fp32 or int8, not {settings.zipvoice_precision!r}")
    encoder, kind = _pick(root, ENCODERS, settings.zipvoice_precision, "text encoder")
    decoder, _ = _pick(root, DECODERS, kind, "flow-matching decoder")
    if settings.zipvoice_vocoder:
        vocoder = Path(settings.zipvoice_vocoder).expanduser()
    else:
        vocoder = next((root / n for n in VOCODERS if (root / n).is_file()), root / VOCODERS[0])
    require_files("zipvoice", [vocoder, root / "tokens.txt"],
                  hint="the vocoder is sherpa-onnx's vocos_24khz.onnx; set VOXFARM_ZIPVOICE_VOCODER to its path")
    return ModelFiles(encoder, decoder, vocoder, root / "tokens.txt", kind)


def read_tokens(path: Path) -> dict[str, int]:
    """``tokens.txt``: one ``token<TAB>id`` per line (a space token is a line starting with a space)."""
    table: dict[str, int] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        token, sep, index = line.rpartition("\t")
        if not sep:
            token, _, index = line.rpartition(" ")
        table[token] = int(index)
    if "_" not in table:
        raise ValueError(f"{path} has no pad token '_'")
    return table


def timesteps(num_steps: int, t_shift: float) -> np.ndarray:
    t = np.linspace(0.0, 1.0, num_steps + 1, dtype=np.float32)
    return (t_shift * t / (1.0 + (t_shift - 1.0) * t)).astype(np.float32)


def frames_for(prompt_frames: int, prompt_tokens: int, text_tokens: int, speed: float) -> int:
    """The text encoder's frame count: ceil(prompt_frames / prompt_tokens * all_tokens / speed)."""
    return math.ceil(prompt_frames / prompt_tokens * (prompt_tokens + text_tokens) / speed)


class OnnxZipVoice:
    def __init__(self, files: ModelFiles, settings: Settings) -> None:
        opts = {"device": settings.zipvoice_device, "intra_op_threads": settings.zipvoice_threads}
        self.files = files
        self.encoder = create_session(files.encoder, **opts)
        self.decoder = create_session(files.decoder, **opts)
        self.vocoder = create_session(files.vocoder, **opts)
        meta = metadata(self.decoder)
        self.feat_dim = int(meta.get("feat_dim", 100))
        self.sample_rate = int(meta.get("sample_rate", 24000))
        self.n_fft = int(meta.get("n_fft", 1024))
        self.hop = int(meta.get("hop_length", 256))
        self.num_mels = int(meta.get("num_mels", 100))
        voc = metadata(self.vocoder)
        self.voc_n_fft = int(voc.get("n_fft", self.n_fft))
        self.voc_hop = int(voc.get("hop_length", self.hop))
        self.voc_outputs = [o.name for o in self.vocoder.get_outputs()]
        self.voc_input = self.vocoder.get_inputs()[0].name

    def encode(self, tokens: list[int], prompt_tokens: list[int], prompt_frames: int, speed: float) -> np.ndarray:
        """One item (the graph derives the frame count from scalars): (frames, feat_dim)."""
        out = self.encoder.run(["text_condition"], {
            "tokens": np.asarray([tokens], np.int64), "prompt_tokens": np.asarray([prompt_tokens], np.int64),
            "prompt_features_len": np.asarray(prompt_frames, np.int64), "speed": np.asarray(speed, np.float32)})
        return out[0][0]

    def sample(self, x: np.ndarray, text_cond: np.ndarray, speech_cond: np.ndarray, num_steps: int,
               t_shift: float, guidance_scale: float) -> np.ndarray:
        """Euler integration of the flow, all rows at once: ``num_steps`` decoder calls."""
        ts = timesteps(num_steps, t_shift)
        g = np.asarray(guidance_scale, np.float32)
        for i in range(num_steps):
            v = self.decoder.run(["v"], {"t": np.asarray(ts[i], np.float32), "x": x, "text_condition": text_cond,
                                         "speech_condition": speech_cond, "guidance_scale": g})[0]
            x = x + v * (ts[i + 1] - ts[i])
        return x

    def vocode(self, log_mels: np.ndarray) -> np.ndarray:
        """(N, frames, num_mels) natural-log mels -> (N, samples) audio."""
        out = self.vocoder.run(self.voc_outputs, {self.voc_input: np.ascontiguousarray(log_mels.transpose(0, 2, 1))})
        if len(out) == 3:  # Vocos without its ISTFT (sherpa-onnx's export): mag, cos, sin
            return istft(out[0], out[1], out[2], self.voc_n_fft, self.voc_hop)
        return out[0].reshape(out[0].shape[0], -1)  # a vocoder that returns audio itself
