"""A tenant's pronunciation lexicons: create, read, replace, delete, and resolve for a job.

Lexicons are tenant-scoped like voices: another tenant's id is a 404.  Rules come as JSON or as a
W3C PLS document (core/text/pls.py, parsed as untrusted XML); nothing is stored unless every rule
is valid.  Each change bumps the lexicon's version, and a rule that changed records that version
(an unchanged rule keeps its own), so a chunk's cache key moves only when a rule it matched did.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from voxfarm.core.clock import iso
from voxfarm.core.errors import Conflict, InvalidInput, NotFound, TooLarge
from voxfarm.core.ids import looks_like_id, new_id
from voxfarm.core.models import Lexicon
from voxfarm.core.pagination import newest_first
from voxfarm.core.settings import Settings
from voxfarm.core.tenants.lexicon_schemas import LexiconCreate
from voxfarm.core.text.lexicon import CompiledLexicon, Rule, check_rule
from voxfarm.core.text.pls import parse_pls


def _rules(settings: Settings, body: LexiconCreate) -> tuple[list[Rule], str | None]:
    if body.pls is not None:
        size = len(body.pls.encode("utf-8"))
        if size > settings.lexicon_max_bytes:
            raise TooLarge(f"the PLS document is {size} bytes; the limit is {settings.lexicon_max_bytes} "
                           "(VOXFARM_LEXICON_MAX_BYTES)", code="lexicon_too_large")
        parsed = parse_pls(body.pls, case_sensitive=body.case_sensitive, whole_word=body.whole_word)
        rules, language = parsed.rules, parsed.language
    else:
        rules = [Rule(r.grapheme, r.alias, r.phoneme, r.case_sensitive, r.whole_word) for r in body.rules or []]
        for i, rule in enumerate(rules):
            check_rule(rule, f"rules[{i}]")
        language = None
    if len(rules) > settings.lexicon_max_rules:
        raise TooLarge(f"the lexicon holds {len(rules)} rules; the limit is {settings.lexicon_max_rules} "
                       "(VOXFARM_LEXICON_MAX_RULES)", code="lexicon_too_large")
    if not rules:
        raise InvalidInput("the lexicon has no rules", code="invalid_lexicon")
    return rules, body.language or language


def _check_name(session: Session, tenant_id: str, name: str, own_id: str | None = None) -> None:
    if looks_like_id(name, "lex"):
        raise InvalidInput("a lexicon name must not look like a lexicon id", code="invalid_name")
    taken = session.scalar(select(Lexicon.id).where(Lexicon.tenant_id == tenant_id, Lexicon.name == name))
    if taken is not None and taken != own_id:
        raise Conflict(f"a lexicon named {name!r} already exists ({taken})", code="lexicon_name_taken")


def create_lexicon(session: Session, settings: Settings, tenant_id: str, body: LexiconCreate) -> Lexicon:
    rules, language = _rules(settings, body)
    name = body.name.strip()
    _check_name(session, tenant_id, name)
    lexicon = Lexicon(id=new_id("lex"), tenant_id=tenant_id, name=name, language=language, version=1,
                      rules=[r.as_dict() for r in rules])
    session.add(lexicon)
    session.flush()
    return lexicon


def replace_lexicon(session: Session, settings: Settings, tenant_id: str, lexicon_id: str,
                    body: LexiconCreate) -> Lexicon:
    lexicon = get_lexicon(session, tenant_id, lexicon_id)
    rules, language = _rules(settings, body)
    name = body.name.strip()
    _check_name(session, tenant_id, name, own_id=lexicon.id)
    version = lexicon.version + 1
    old = {(r.grapheme, r.case_sensitive): r for r in stored_rules(lexicon)}
    kept = []
    for rule in rules:
        before = old.get((rule.grapheme, rule.case_sensitive))
        kept.append(Rule(**{**rule.as_dict(), "version": before.version if before and before.same_as(rule)
                            else version}))
    lexicon.name, lexicon.language, lexicon.version = name, language, version
    lexicon.rules = [r.as_dict() for r in kept]
    session.flush()
    return lexicon


def get_lexicon(session: Session, tenant_id: str, lexicon_id: str) -> Lexicon:
    lexicon = None
    if looks_like_id(lexicon_id, "lex"):
        lexicon = session.scalar(select(Lexicon).where(Lexicon.id == lexicon_id, Lexicon.tenant_id == tenant_id))
    if lexicon is None:
        raise NotFound(f"lexicon {lexicon_id[:200]!r} not found", code="lexicon_not_found")
    return lexicon


def list_lexicons(session: Session, tenant_id: str, *, limit: int, cursor: str | None
                  ) -> tuple[list[Lexicon], str | None]:
    return newest_first(session, select(Lexicon).where(Lexicon.tenant_id == tenant_id), Lexicon.id, "lex",
                        limit=limit, cursor=cursor)


def delete_lexicon(session: Session, tenant_id: str, lexicon_id: str) -> None:
    """Jobs already planned keep their spoken text; new jobs naming it get a 404."""
    session.delete(get_lexicon(session, tenant_id, lexicon_id))


def stored_rules(lexicon: Lexicon) -> list[Rule]:
    return [Rule(**r) for r in lexicon.rules or []]


def resolve_lexicons(session: Session, tenant_id: str, refs: list[str], mode: str) -> list[CompiledLexicon]:
    """The tenant's lexicons named by id or name, in the order given (404 for one it does not own)."""
    out: list[CompiledLexicon] = []
    seen: set[str] = set()
    for ref in refs:
        q = select(Lexicon).where(Lexicon.tenant_id == tenant_id)
        by = Lexicon.id if looks_like_id(ref, "lex") else Lexicon.name
        lexicon = session.scalar(q.where(by == ref))
        if lexicon is None:
            raise NotFound(f"lexicon {ref[:200]!r} not found", code="lexicon_not_found",
                           details={"lexicon": ref[:200]})
        if lexicon.id not in seen:
            seen.add(lexicon.id)
            out.append(CompiledLexicon(lexicon.id, stored_rules(lexicon), mode, lexicon.name, lexicon.version))
    return out


def lexicon_resource(lexicon: Lexicon, *, rules: bool = True) -> dict[str, Any]:
    return {"id": lexicon.id, "name": lexicon.name, "language": lexicon.language, "version": lexicon.version,
            "rule_count": len(lexicon.rules or []), "rules": list(lexicon.rules or []) if rules else None,
            "created_at": iso(lexicon.created_at), "updated_at": iso(lexicon.updated_at)}
