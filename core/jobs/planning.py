"""Turn a parsed document into a render plan: chapters, chunks, seeds and cache keys.

Each chunk has its source text (as written) and its spoken text (core/text/lexicon.py: the tenant's
lexicon rules, then the normaliser); the spoken text is what the engine renders and what the cache
key hashes, with the lexicon rules that matched it (lexicon id, grapheme, the rule's version).  With
``announce`` a chapter whose title came from the document starts with a chunk that reads the title,
followed by the title pause.

Seeds and cache keys depend on a chunk's *content*, not its position: a chunk's seed is derived
from the job seed and the chunk's text, and its cache key hashes engine, model, voice sha256,
text, sampling params and seed.  So resubmitting a book with one paragraph edited gives the same
keys to every untouched chunk (even though later chunk indices shift) and only the edited
chunks render again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from voxfarm.core.engines.registry import EngineSpec
from voxfarm.core.settings import Settings
from voxfarm.core.text.chunking import chunk_paragraphs, spoken_chars
from voxfarm.core.text.document import Document
from voxfarm.core.text.lexicon import CompiledLexicon, Spoken, readable, spoken_form

DEFAULT_SEED = 0  # renders are deterministic unless the caller asks for another take
TITLE = -1  # the paragraph index of a chapter's announced title


@dataclass(frozen=True)
class PlannedChunk:
    idx: int
    chapter: int
    text: str
    expected_s: float
    pause_after: str  # "sentence" | "paragraph" | "title" | "chapter" | "end"
    seed: int
    cache_digest: str
    spoken: str = ""  # what the engine renders ("" in plans made without a front end: the text itself)
    lexicon: tuple[tuple[str, str, int], ...] = ()  # the lexicon rules that matched (id, grapheme, version)

    @property
    def rendered(self) -> str:
        return self.spoken or self.text


@dataclass(frozen=True)
class FrontEnd:
    """How a job's text becomes speech: normalisation on or off, the tenant's lexicons in order,
    and whether chapter titles are read aloud."""

    normalization: bool = True
    lexicons: list[CompiledLexicon] = field(default_factory=list)
    announce: bool = False


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
                 params: dict[str, Any], seed: int, lexicon: tuple | list = ()) -> str:
    """``text`` is what the engine renders; ``lexicon`` the rules that matched it (only then part of the key)."""
    material = {"engine": engine, "model": model, "voice": voice_sha256, "text": text,
                "params": {k: v for k, v in sorted(params.items()) if k != "seed"}, "seed": seed}
    if lexicon:
        material["lexicon"] = [list(m) for m in lexicon]
    return hashlib.sha256(json.dumps(material, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def expected_seconds(text: str, spec: EngineSpec) -> float:
    return round(max(0.3, spoken_chars(readable(text)) / spec.chars_per_second), 3)


def _title_line(title: str) -> str:
    title = title.strip()
    return title if title[-1:] in ".!?:;" else f"{title}."


def _speak(entry: tuple[int, int, str], spec: EngineSpec, front: FrontEnd, language: str
           ) -> list[tuple[int, int, str, Spoken]]:
    """The entry with its spoken form; a chunk whose spoken form outgrows the engine's cap (numbers
    read out are longer) is cut again, smaller, until every piece fits."""
    chapter, paragraph, text = entry
    spoken = spoken_form(text, language=language, normalization=front.normalization, lexicons=front.lexicons)
    if len(spoken.text) <= spec.chunk_max_chars or len(text) < 2:
        return [(chapter, paragraph, text, spoken)]
    limit = max(1, int(spec.chunk_max_chars * len(text) / len(spoken.text) * 0.9))
    parts = chunk_paragraphs([text], max_chars=min(limit, len(text) - 1), target_chars=limit,
                             dialogue_tags=spec.dialogue_tags, language=language)
    return [piece for part in parts for piece in _speak((chapter, paragraph, part.text), spec, front, language)]


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
                  first_chunk_chars: int | None = None, front: FrontEnd | None = None) -> Plan:
    """``target_s`` overrides the engine's chunk target; ``first_chunk_chars`` cuts the first
    chunk down to its first sentence (or clause) so a live stream has audio quickly.  ``front``
    (None: the text is rendered as written) gives each chunk its spoken form and announces titles."""
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
        title = [(len(chapters), TITLE, _title_line(chapter.title))] if (
            front and front.announce and chapter.announce and chapter.title.strip()) else []
        chapters.append({"index": len(chapters), "title": chapter.title,
                         "first_chunk": len(pending), "chunks": len(parts) + len(title)})
        pending.extend(title + [(len(chapters) - 1, p.paragraph, p.text) for p in parts])
    if first_chunk_chars and pending:
        pending[:1] = _split_first(pending[0], spec, first_chunk_chars, language)
    spoken = [(*entry, Spoken(entry[2])) for entry in pending] if front is None else \
        [piece for entry in pending for piece in _speak(entry, spec, front, language)]
    if front is not None and len(spoken) != len(pending):  # a chunk was cut again: recount the chapters
        for ch in chapters:
            ch["first_chunk"] = next(i for i, e in enumerate(spoken) if e[0] == ch["index"])
            ch["chunks"] = sum(1 for e in spoken if e[0] == ch["index"])
    for i, (chapter, paragraph, text, said) in enumerate(spoken):
        if i + 1 == len(spoken):
            pause = "end"
        elif paragraph == TITLE:
            pause = "title"
        elif spoken[i + 1][0] != chapter:
            pause = "chapter"
        elif spoken[i + 1][1] != paragraph:
            pause = "paragraph"
        else:
            pause = "sentence"
        seed = derive_seed(job_seed, text)
        chunks.append(PlannedChunk(
            idx=i, chapter=chapter, text=text, expected_s=expected_seconds(said.text, spec),
            pause_after=pause, seed=seed,
            cache_digest=cache_digest(engine=spec.name, model=model, voice_sha256=voice_sha256,
                                      text=said.text, params=params, seed=seed, lexicon=said.matched),
            spoken=said.text if front is not None else "", lexicon=said.matched))
    return Plan(chapters, chunks)
