"""Time-ordered, prefixed identifiers (``job_01J...``).

48 bits of milliseconds then 80 random bits, Crockford base32 (the ULID layout): ids sort by
creation time, which the cursor pagination relies on, and the prefix tells a support engineer
what kind of object a pasted id is.
"""

from __future__ import annotations

import os
import re
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_BODY = "[0-9A-HJKMNP-TV-Z]{26}"
ID_RE = re.compile(rf"^[a-z]{{2,8}}_{_BODY}$")


def id_pattern(prefix: str) -> str:
    """The regular expression (JSON Schema / OpenAPI dialect too) of one kind's ids."""
    return rf"^{prefix}_{_BODY}$"


def _encode(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        out.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(out))


def new_id(prefix: str, now_ms: int | None = None) -> str:
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    rand = int.from_bytes(os.urandom(10), "big")
    return f"{prefix}_{_encode(ms, 10)}{_encode(rand, 16)}"


def looks_like_id(value: str, prefix: str) -> bool:
    return bool(ID_RE.match(value)) and value.startswith(prefix + "_")


def created_ms(value: str) -> int:
    """When an id was made (ms since the epoch): the first 10 characters after the prefix."""
    ms = 0
    for ch in value.split("_", 1)[1][:10]:
        ms = ms * 32 + _ALPHABET.index(ch)
    return ms
