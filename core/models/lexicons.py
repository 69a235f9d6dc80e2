"""Pronunciation lexicons: a tenant's named rule sets (core/tenants/lexicons.py), applied to jobs that name them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from voxfarm.core.models.base import Base, Timestamps


class Lexicon(Timestamps, Base):
    __tablename__ = "lexicons"
    __table_args__ = (Index("ix_lexicons_tenant_created", "tenant_id", "created_at", "id"),
                      # a name picks one lexicon of its tenant (jobs may name it instead of its id)
                      Index("uq_lexicons_tenant_name", "tenant_id", "name", unique=True))
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(35))  # the PLS xml:lang, e.g. en-US
    version: Mapped[int] = mapped_column(default=1)  # +1 on every change; a rule keeps the version it last changed at
    # [{grapheme, alias, phoneme, case_sensitive, whole_word, version}]
    rules: Mapped[list[Any]] = mapped_column(default=list)
