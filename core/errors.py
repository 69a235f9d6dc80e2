"""Domain errors carry an HTTP-ish status, a machine-readable code and a human message.

The API turns them into ``{"error": {"code", "message"}}``; workers store code and message on the
job.  Core code raises these and never builds HTTP responses itself.
"""

from __future__ import annotations


class VoxfarmError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 details: object | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.details = details


class InvalidInput(VoxfarmError):
    status = 422
    code = "invalid_input"


class NotFound(VoxfarmError):
    status = 404
    code = "not_found"


class Conflict(VoxfarmError):
    status = 409
    code = "conflict"


class TooLarge(VoxfarmError):
    status = 413
    code = "payload_too_large"


class UnsupportedMedia(VoxfarmError):
    status = 415
    code = "unsupported_media_type"


class Unauthorized(VoxfarmError):
    status = 401
    code = "unauthorized"


class OutboundBlocked(VoxfarmError):
    """A user-supplied URL points somewhere we refuse to connect to (SSRF guard)."""

    status = 422
    code = "url_not_allowed"


class StorageError(VoxfarmError):
    status = 503
    code = "storage_unavailable"


class ChecksumMismatch(StorageError):
    code = "checksum_mismatch"


class LimitExceeded(VoxfarmError):
    """A tenant limit refused the request (core/tenants/limits.py): 429, with what the
    ``Retry-After`` and ``RateLimit-*`` headers say.  ``details`` names the limit."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, code: str, limit: str, limit_value: float, remaining: float,
                 retry_after_s: float, reset_s: float, status: int | None = None) -> None:
        super().__init__(message, code=code, status=status,
                         details={"limit": limit, "limit_value": limit_value, "remaining": remaining,
                                  "retry_after_s": retry_after_s})
        self.limit, self.limit_value, self.remaining = limit, limit_value, remaining
        self.retry_after_s, self.reset_s = retry_after_s, reset_s
