"""Lexicon request and response models: ``/v1/lexicons`` (rules as JSON, or a W3C PLS document)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from voxfarm.core.ids import id_pattern
from voxfarm.core.schemas import NON_BLANK, STRICT, ListQuery, path_id

_NO_MARKS = {"pattern": r"^[^\u27ea\u27eb|\x00]*[^\s\u27ea\u27eb|\x00][^\u27ea\u27eb|\x00]*$"}


class RuleIn(BaseModel):
    model_config = STRICT
    grapheme: str = Field(min_length=1, max_length=200, json_schema_extra=_NO_MARKS,
                          description="The word or phrase as written")
    alias: str | None = Field(None, max_length=500, description="Replacement text (what text engines, Dia, read)")
    phoneme: str | None = Field(None, min_length=1, max_length=500,
                                description="IPA; the espeak-based engines (piper, kokoro, zipvoice, espeak) "
                                            "speak it exactly")
    case_sensitive: bool = Field(True, description="match the grapheme's case exactly")
    whole_word: bool = Field(True, description="match only whole words (not inside a longer word)")


class RuleOut(RuleIn):
    version: int = Field(description="The lexicon version at which this rule last changed")


class LexiconCreate(BaseModel):
    """Exactly one of ``rules`` (JSON) or ``pls`` (a PLS 1.0 document, alphabet ipa)."""

    model_config = ConfigDict(**STRICT, json_schema_extra={"oneOf": [
        {"required": ["rules"], "properties": {"rules": {"type": "array"}, "pls": {"type": "null"}}},
        {"required": ["pls"], "properties": {"pls": {"type": "string"}, "rules": {"type": "null"}}}]})
    name: str = Field(min_length=1, max_length=200, json_schema_extra=NON_BLANK)
    language: str | None = Field(None, max_length=35, pattern=r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$",
                                 description="BCP 47; default: the PLS xml:lang")
    rules: list[RuleIn] | None = Field(None, description="At most VOXFARM_LEXICON_MAX_RULES (413 beyond)")
    pls: str | None = Field(None, description="A W3C PLS document; at most VOXFARM_LEXICON_MAX_BYTES (413 "
                                              "beyond); a DOCTYPE or entity is refused (422)")
    case_sensitive: bool = Field(True, description="PLS rules: match case exactly")
    whole_word: bool = Field(True, description="PLS rules: match whole words only")

    @model_validator(mode="after")
    def _one_source(self) -> LexiconCreate:
        if (self.rules is None) == (self.pls is None):
            raise ValueError("give exactly one of rules or pls")
        return self


class LexiconOut(BaseModel):
    id: str
    name: str
    language: str | None
    version: int
    rule_count: int
    rules: list[RuleOut] | None = Field(None, description="The rules (null in lists)")
    created_at: str
    updated_at: str


class LexiconList(BaseModel):
    data: list[LexiconOut]
    next_cursor: str | None


class LexiconListQuery(ListQuery):
    cursor: str | None = Field(None, pattern=id_pattern("lex"), description="next_cursor of the previous page")


class LexiconPath(BaseModel):
    lexicon_id: str = path_id("lex")
