"""Speaker embeddings and the speaker-consistency gate's arithmetic (no model library here).

A worker with a speaker encoder (worker/speaker.py, speechbrain's ECAPA-TDNN) embeds each voice's
normalized prompt once, at registration (``EMBED_TASK`` on the control queue) or on first use by a
render worker, and stores the vector with the encoder's id.  Each rendered chunk of a cloned voice
is then compared with it (cosine); the take loop (core/render/takes.py) re-renders takes that fall below
``threshold``.

The default threshold is per voice: the cosine between the prompt's two halves (how similar the
same speaker is to itself in this recording, with this encoder) minus ``speaker_margin``.  A fixed
``speaker_threshold`` replaces it for every voice.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from sqlalchemy.orm import Session

from voxfarm.core.audio.arrays import decode_bytes
from voxfarm.core.models import Voice
from voxfarm.core.settings import Settings
from voxfarm.core.storage import ObjectStore

# halves shorter than this give unstable embeddings (ECAPA pools over ~1.5 s windows well)
MIN_HALF_S = 1.0
# a voice whose prompt is too short to split takes this as its self-similarity: the cosine ECAPA
# (spkrec-ecapa-voxceleb) gives two clean utterances of one speaker is typically 0.6-0.8
FALLBACK_SELF_SIMILARITY = 0.7


class Embedder(Protocol):
    """What the gate needs from a speaker encoder."""

    model_id: str  # names the encoder and its weights: embeddings of two ids are never compared

    def embed(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """The speaker embedding (1-D float32) of mono float audio at ``sample_rate``."""


def cosine(a, b) -> float:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b / denom) if denom > 0 else 0.0


def split_half_similarity(embedder: Embedder, audio: np.ndarray, rate: int) -> float:
    """Cosine between the embeddings of the prompt's first and second half."""
    half = audio.size // 2
    if half < MIN_HALF_S * rate:
        return FALLBACK_SELF_SIMILARITY
    return cosine(embedder.embed(audio[:half], rate), embedder.embed(audio[half:], rate))


def threshold(self_similarity: float | None, settings: Settings) -> float:
    """The cosine a take of this voice must reach."""
    if settings.speaker_threshold is not None:
        return settings.speaker_threshold
    base = FALLBACK_SELF_SIMILARITY if self_similarity is None else self_similarity
    return base - settings.speaker_margin


def embed_voice(session: Session, store: ObjectStore, embedder: Embedder, voice_id: str) -> Voice | None:
    """Compute and store the voice's embedding unless it already has one from this encoder.
    Returns the voice (None if it is gone).  Idempotent: a redelivered task changes nothing."""
    voice = session.get(Voice, voice_id)
    if voice is None or voice.deleted_at is not None:
        return None
    if voice.embedding is not None and voice.embedding_model == embedder.model_id:
        return voice
    audio, rate = decode_bytes(store.get_bytes(voice.normalized_key, voice.normalized_sha256))
    vector = embedder.embed(audio, rate)
    # 6 decimals: cosines move in the 7th place at most; JSON stays ~2 KB for 192 dims
    voice.embedding = [round(float(x), 6) for x in vector]
    voice.embedding_model = embedder.model_id
    voice.embedding_self_similarity = round(split_half_similarity(embedder, audio, rate), 4)
    return voice
