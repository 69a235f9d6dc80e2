"""The speaker encoder: speechbrain's ECAPA-TDNN (spkrec-ecapa-voxceleb) from a local directory.

``VOXFARM_SPEAKER_MODEL`` names a directory in the upstream layout (``hyperparams.yaml``,
``embedding_model.ckpt``, ``mean_var_norm_emb.ckpt``, ``classifier.ckpt``, ``label_encoder.txt``);
scripts/make_tiny_ecapa.py writes a random tiny one in that layout.  Nothing is fetched: the
hyperparameters' ``pretrained_path`` (upstream names the hub repository) is overridden with the
directory, the hub is switched offline, and files are read in place (no symlinks, no savedir).

It implements core.voices.speaker.Embedder: 16 kHz mono in, a 192-d float32 vector out.  A worker with
``VOXFARM_SPEAKER_MODEL`` set loads it at boot; a failed load stops the worker there.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import numpy as np

from voxfarm.core.audio.arrays import resample, to_mono
from voxfarm.core.db import Database
from voxfarm.core.render.leases import VoiceRef
from voxfarm.core.render.takes import SpeakerGate
from voxfarm.core.settings import Settings
from voxfarm.core.storage import ObjectStore
from voxfarm.core.voices.speaker import cosine, embed_voice, threshold

RATE = 16_000  # spkrec-ecapa-voxceleb was trained on 16 kHz VoxCeleb
REQUIRED = ("hyperparams.yaml", "embedding_model.ckpt")


class SpeakerEncoder:
    def __init__(self, model_dir: str, device: str = "cpu") -> None:
        self.model_dir = Path(model_dir).expanduser()
        self.device = device
        self.model_id = ""
        self._model = None
        self._torch = None
        self._lock = threading.Lock()  # one forward at a time: the model is shared by the pool's threads

    def load(self) -> SpeakerEncoder:
        missing = [name for name in REQUIRED if not (self.model_dir / name).is_file()]
        if missing:
            raise FileNotFoundError(f"VOXFARM_SPEAKER_MODEL={self.model_dir}: no {', '.join(missing)} there "
                                    "(expected speechbrain's spkrec-ecapa-voxceleb layout)")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local directory only, never the hub at run time
        import torch
        from speechbrain.inference.speaker import EncoderClassifier
        from speechbrain.utils.fetching import LocalStrategy

        local = str(self.model_dir.resolve())
        self._model = EncoderClassifier.from_hparams(
            source=local, savedir=None, overrides={"pretrained_path": local},
            local_strategy=LocalStrategy.NO_LINK, run_opts={"device": self.device})
        self._model.eval()
        self._torch = torch
        digest = hashlib.sha256((self.model_dir / "embedding_model.ckpt").read_bytes()).hexdigest()
        self.model_id = f"ecapa:{self.model_dir.name}@{digest[:12]}"
        return self

    def embed(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        if self._model is None:
            raise RuntimeError("the speaker encoder is not loaded")
        wav = resample(to_mono(audio), sample_rate, RATE)
        torch = self._torch
        with self._lock, torch.inference_mode():
            batch = torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32)).unsqueeze(0).to(self.device)
            vector = self._model.encode_batch(batch)  # [1, 1, 192]
        return vector.reshape(-1).float().cpu().numpy()


class SpeakerGates:
    """One worker's speaker gates: each voice's stored embedding, or one computed here on first
    use (a voice registered while no worker had an encoder, or embedded by another encoder)."""

    def __init__(self, encoder: SpeakerEncoder, db: Database, store: ObjectStore, settings: Settings) -> None:
        self.encoder, self.db, self.store, self.settings = encoder, db, store, settings
        self._voices: dict[tuple[str, str], tuple[np.ndarray, float | None]] = {}

    def embed(self, voice_id: str) -> None:
        """Store the voice's embedding (the registration task); a no-op when it has one already."""
        with self.db.session() as s:
            embed_voice(s, self.store, self.encoder, voice_id)

    def for_voice(self, ref: VoiceRef | None, rate: int) -> SpeakerGate | None:
        """The gate for takes of ``ref`` at ``rate``; None when it does not apply (no cloned voice,
        or a dialogue's several speakers)."""
        if ref is None or not ref.gated:
            return None
        key = (ref.id, ref.normalized_sha256)
        if key not in self._voices:
            if ref.embedding is not None and ref.embedding_model == self.encoder.model_id:
                vector, self_sim = ref.embedding, ref.self_similarity
            else:
                with self.db.session() as s:
                    voice = embed_voice(s, self.store, self.encoder, ref.id)
                    if voice is None:  # deleted meanwhile: the claim fails the job next time
                        return None
                    vector, self_sim = voice.embedding, voice.embedding_self_similarity
            self._voices[key] = (np.asarray(vector, dtype=np.float64), self_sim)
        vector, self_sim = self._voices[key]
        return SpeakerGate(lambda audio: cosine(self.encoder.embed(audio, rate), vector),
                           threshold(self_sim, self.settings))
