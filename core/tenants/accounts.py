"""Tenants and API keys.

A key looks like ``vf_<prefix>_<secret>``: the 10-character prefix is stored in clear so a key can
be found and shown in listings, the 256-bit secret never is.  Keys carry 256 random bits, so a
plain SHA-256 of the whole key is a sufficient verifier (slow hashes protect low-entropy
passwords, not random tokens); the comparison is constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from voxfarm.core.clock import utcnow
from voxfarm.core.errors import InvalidInput, NotFound
from voxfarm.core.ids import new_id
from voxfarm.core.models import ApiKey, Tenant

TENANT_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_KEY_RE = re.compile(r"^vf_([A-Za-z0-9]{10})_([A-Za-z0-9_-]{43})$")


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def get_or_create_tenant(session: Session, name: str) -> Tenant:
    if not TENANT_NAME_RE.match(name):
        raise InvalidInput("tenant names are 1-63 chars of a-z, 0-9, '-' and '_'", code="invalid_tenant")
    tenant = session.scalar(select(Tenant).where(Tenant.name == name))
    if tenant is None:
        tenant = Tenant(id=new_id("ten"), name=name, webhook_secret=new_webhook_secret())
        session.add(tenant)
        session.flush()
    return tenant


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class CreatedKey:
    id: str
    tenant_id: str
    tenant: str
    prefix: str
    key: str  # shown once, never stored


def create_key(session: Session, tenant_name: str) -> CreatedKey:
    tenant = get_or_create_tenant(session, tenant_name)
    alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    prefix = "".join(secrets.choice(alphabet) for _ in range(10))
    key = f"vf_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(id=new_id("key"), tenant_id=tenant.id, prefix=prefix, key_hash=_hash(key))
    session.add(row)
    session.flush()
    return CreatedKey(row.id, tenant.id, tenant.name, prefix, key)


def authenticate(session: Session, key: str) -> Tenant | None:
    """The tenant owning ``key``, or None (unknown, malformed or revoked: indistinguishable)."""
    match = _KEY_RE.match(key or "")
    if not match:
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == match.group(1)))
    if row is None or row.revoked_at is not None:
        # hash anyway so unknown and known prefixes cost the same time
        hmac.compare_digest(_hash(key), "0" * 64)
        return None
    if not hmac.compare_digest(_hash(key), row.key_hash):
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
        row.last_used_at = now  # throttled: one write per key per minute, not per request
    return session.get(Tenant, row.tenant_id)


@dataclass(frozen=True)
class KeyInfo:
    id: str
    tenant: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


def list_keys(session: Session, tenant_name: str | None = None) -> list[KeyInfo]:
    q = select(ApiKey, Tenant.name).join(Tenant, Tenant.id == ApiKey.tenant_id)
    if tenant_name:
        q = q.where(Tenant.name == tenant_name)
    return [KeyInfo(k.id, name, k.prefix, k.created_at, k.revoked_at, k.last_used_at)
            for k, name in session.execute(q.order_by(ApiKey.created_at))]


def revoke_key(session: Session, id_or_prefix: str) -> KeyInfo:
    key = session.scalar(select(ApiKey).where((ApiKey.id == id_or_prefix) | (ApiKey.prefix == id_or_prefix)))
    if key is None:
        raise NotFound(f"no API key {id_or_prefix!r}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    tenant = session.get(Tenant, key.tenant_id)
    return KeyInfo(key.id, tenant.name, key.prefix, key.created_at, key.revoked_at, key.last_used_at)


def lock_tenant(session: Session, tenant_id: str) -> None:
    """Hold the tenant's row until the transaction ends: checks that must see every concurrent
    change of one tenant (limits, core/tenants/limits.py) queue here.  A no-op write, so SQLite
    takes its write lock now too (pysqlite opens the transaction at the first write)."""
    session.execute(update(Tenant).where(Tenant.id == tenant_id).values(updated_at=Tenant.updated_at)
                    .execution_options(synchronize_session=False))
