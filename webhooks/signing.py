"""Standard Webhooks signatures via the ``standardwebhooks`` package.

Signed content is ``{webhook-id}.{webhook-timestamp}.{body}`` (HMAC-SHA256).  ``webhook-id`` is the
event id, stable across retries, so receivers can deduplicate; ``webhook-timestamp`` is per
attempt.  During a secret rotation's grace period both the new and the old secret sign, space
separated, so receivers can switch secrets at their own pace.
"""

from __future__ import annotations

from datetime import UTC, datetime

from standardwebhooks import Webhook


def sign_headers(secrets: list[str], msg_id: str, timestamp: datetime, body: str) -> dict[str, str]:
    # standardwebhooks 1.1 calls timestamp.replace(tzinfo=utc) without converting: pass UTC
    ts = timestamp.astimezone(UTC)
    signatures = " ".join(Webhook(secret).sign(msg_id, ts, body) for secret in secrets)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(ts.timestamp())),
            "webhook-signature": signatures, "content-type": "application/json"}
