"""A job's text front end (core/text/lexicon.py, core/text/normalize.py) as intake applies it.

The request names its lexicons (resolved in the tenant's scope: another tenant's is a 404), turns
normalisation on or off and asks for chapter titles; planning gives every chunk its spoken form.
A phoneme rule that matched must be speakable by the job's engine: symbols outside the engine's
table (core/engines/symbols.py) are a 422 naming them, before anything is stored.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from voxfarm.core.engines.registry import ENGINES, EngineSpec
from voxfarm.core.engines.symbols import unspeakable
from voxfarm.core.errors import InvalidInput
from voxfarm.core.jobs.planning import FrontEnd, Plan, PlannedChunk
from voxfarm.core.jobs.schemas import JobCreate
from voxfarm.core.settings import Settings
from voxfarm.core.tenants.lexicons import resolve_lexicons


def job_front_end(session: Session, settings: Settings, tenant_id: str, req: JobCreate) -> FrontEnd:
    spec = ENGINES.get(req.engine or settings.default_engine)
    mode = spec.front_end if spec is not None else "text"
    lexicons = resolve_lexicons(session, tenant_id, list(req.lexicons), mode) if req.lexicons else []
    return FrontEnd(normalization=req.text_normalization == "auto", lexicons=lexicons,
                    announce=req.announce_chapters)


def check_phonemes(plan: Plan, front: FrontEnd | None, spec: EngineSpec, settings: Settings,
                   params: dict[str, Any]) -> None:
    """422 ``unspeakable_phoneme`` when a matched phoneme rule holds symbols the engine cannot say."""
    if front is None or spec.front_end != "ipa" or not front.lexicons:
        return
    matched = {(lex_id, grapheme) for c in plan.chunks for lex_id, grapheme, _v in c.lexicon}
    for lexicon in front.lexicons:
        for rule in lexicon.rules:
            if (lexicon.id, rule.grapheme) not in matched or rule.phoneme is None:
                continue
            bad = unspeakable(spec.name, rule.phoneme.replace(".", ""), settings, params)
            if bad:
                raise InvalidInput(
                    f"lexicon {lexicon.name or lexicon.id}: the phoneme of {rule.grapheme!r} holds symbols "
                    f"{spec.name} cannot speak: {' '.join(bad)}", code="unspeakable_phoneme",
                    details={"lexicon": lexicon.id, "grapheme": rule.grapheme, "symbols": bad, "engine": spec.name})


def front_source(front: FrontEnd | None) -> dict[str, Any]:
    """The job's ``source.front_end``: what the job resource shows."""
    if front is None:
        return {}
    return {"front_end": {"text_normalization": "auto" if front.normalization else "off",
                          "announce_chapters": front.announce,
                          "lexicons": [{"id": x.id, "name": x.name, "version": x.version} for x in front.lexicons]}}


def chunk_columns(chunk: PlannedChunk) -> dict[str, Any]:
    """The spoken columns of a chunk row (null where the engine reads the source text as written)."""
    return {"spoken_text": chunk.spoken if chunk.spoken and chunk.spoken != chunk.text else None,
            "lexicon_matches": [list(m) for m in chunk.lexicon] or None}
