"""Turn a parsed document into a render plan: chapters, chunks, seeds and cache keys.

Seeds and cache keys depend on a chunk's *content*, not its position: a chunk's seed is derived
from the job seed and the chunk's text, and its cache key hashes engine, model, voice sha256,
text, sampling params and seed.  So resubmitting a book with one paragraph edited gives the same
keys to every untouched chunk (even though later chunk indices shift) and only the edited
chunks render again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from voxfarm.core.engines.registry import EngineSpec
from voxfarm.core.settings import Settings
from voxfarm.core.text.chunking import chunk_paragraphs, spoken_chars
from voxfarm.core.text.document import Document

DEFAULT_SEED = 0  # renders are deterministic unless the caller asks for another take


@dataclass(frozen=True)
class PlannedChunk:
    idx: int
    chapter: int
    text: str
    expected_s: float
    pause_after: str  # "sentence" | "paragraph" | "chapter" | "end"
    seed: int
    cache_digest: str


@dataclass(frozen=True)
class Plan:
    chapters: list[dict[str, Any]]  # {"index", "title", "first_chunk", "chunks"}
    chunks: list[PlannedChunk]

    @property
    def expected_s(self) -> float:
        return sum(c.expected_s for c in self.chunks)


def derive_seed(job_seed: int, text: str, retry: int = 0) -> int:
    digest = hashlib.sha256(f"{job_seed}\x00{retry}\x00{text}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def cache_digest(*, engine: str, model: str, voice_sha256: str | None, text: str,
                 params: dict[str, Any], seed: int) -> str:
    material = {"engine": engine, "model": model, "voice": voice_sha256, "text": text,
                "params": {k: v for k, v in sorted(params.items()) if k != "seed"}, "seed": seed}
    return hashlib.sha256(json.dumps(material, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def expected_seconds(text: str, spec: EngineSpec) -> float:
    return round(max(0.3, spoken_chars(text) / spec.chars_per_second), 3)


def _split_first(first: tuple[int, int, str], spec: EngineSpec, max_chars: int,
                 language: str) -> list[tuple[int, int, str]]:
    chapter, paragraph, text = first
    parts = chunk_paragraphs([text], max_chars=min(max_chars, spec.chunk_max_chars), target_chars=max_chars,
                             dialogue_tags=spec.dialogue_tags, language=language)
    if len(parts) <= 1:
        return [first]
    # the rest of the original chunk stays one chunk (it already fitted the packing target); a
    # dialogue chunk keeps its speaker tag, which chunk_paragraphs prefixed onto parts[1]
    return [(chapter, paragraph, parts[0].text), (chapter, paragraph, " ".join(p.text for p in parts[1:]))]


def plan_document(doc: Document, spec: EngineSpec, settings: Settings, *, model: str,
                  voice_sha256: str | None, params: dict[str, Any], job_seed: int,
                  language: str = "en", target_s: float | None = None,
                  first_chunk_chars: int | None = None) -> Plan:
    """``target_s`` overrides the engine's chunk target; ``first_chunk_chars`` cuts the first
    chunk down to its first sentence (or clause) so a live stream has audio quickly."""
    target_chars = int((target_s or spec.target_seconds(settings)) * spec.chars_per_second)
    chunks: list[PlannedChunk] = []
    chapters: list[dict[str, Any]] = []
    pending: list[tuple[int, int, str]] = []  # (chapter, paragraph, text)
    for chapter in doc.chapters:
        parts = chunk_paragraphs(chapter.paragraphs, max_chars=spec.chunk_max_chars,
                                 target_chars=target_chars, dialogue_tags=spec.dialogue_tags,
                                 language=language)
        if not parts:
            continue
        chapters.append({"index": len(chapters), "title": chapter.title,
                         "first_chunk": len(pending), "chunks": len(parts)})
        pending.extend((len(chapters) - 1, p.paragraph, p.text) for p in parts)
    if first_chunk_chars and pending:
        pending[:1] = _split_first(pending[0], spec, first_chunk_chars, language)
    for i, (chapter, paragraph, text) in enumerate(pending):
        if i + 1 == len(pending):
            pause = "end"
        elif pending[i + 1][0] != chapter:
            pause = "chapter"
        elif pending[i + 1][1] != paragraph:
            pause = "paragraph"
        else:
            pause = "sentence"
        seed = derive_seed(job_seed, text)
        chunks.append(PlannedChunk(
            idx=i, chapter=chapter, text=text, expected_s=expected_seconds(text, spec),
            pause_after=pause, seed=seed,
            cache_digest=cache_digest(engine=spec.name, model=model, voice_sha256=voice_sha256,
                                      text=text, params=params, seed=seed)))
    return Plan(chapters, chunks)
