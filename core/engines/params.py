"""Per-engine job parameters as data: a name, a type, a range (or pattern) and a default.

Each engine in ``core/engines/registry.py`` declares the params it honours as ``ParamSpec`` rows.  A job's
``params`` are checked against its engine at submit time (``validate_params``): a name the engine
does not use, a value of the wrong type or one out of range is refused with a 422 whose message
and ``details.allowed`` list exactly what the engine accepts, so a client never learns about a
typo from a failed render an hour later.  ``GET /v1/engines`` publishes the same rows.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from voxfarm.core.errors import InvalidInput

_KINDS = ("int", "float", "str", "bool")


@dataclass(frozen=True)
class ParamSpec:
    name: str
    kind: str  # one of _KINDS
    minimum: float | None = None
    maximum: float | None = None
    min_exclusive: bool = False  # e.g. temperature > 0
    pattern: str | None = None  # for kind "str": the whole value must match
    max_length: int = 200
    help: str = ""

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"param {self.name}: kind must be one of {_KINDS}")

    def range_text(self) -> str:
        if self.kind == "bool":
            return "true|false"
        if self.kind == "str":
            return f"string matching {self.pattern}" if self.pattern else f"string of <= {self.max_length} chars"
        low = "" if self.minimum is None else f"{'>' if self.min_exclusive else '>='}{_num(self.minimum)}"
        high = "" if self.maximum is None else f"<={_num(self.maximum)}"
        return f"{self.kind} {' '.join(p for p in (low, high) if p)}".strip()

    def describe(self, default: Any = None) -> dict[str, Any]:
        """The JSON shape ``GET /v1/engines`` and 422 details use."""
        out: dict[str, Any] = {"name": self.name, "type": self.kind, "default": default}
        if self.minimum is not None:
            out["exclusive_minimum" if self.min_exclusive else "minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.pattern:
            out["pattern"] = self.pattern
        if self.help:
            out["description"] = self.help
        return out

    def coerce(self, value: Any) -> Any:
        """The value in this param's type, or ``ValueError`` saying why not."""
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ValueError("must be true or false")
            return value
        if self.kind == "str":
            if not isinstance(value, str) or not value or len(value) > self.max_length:
                raise ValueError(f"must be a non-empty string of at most {self.max_length} characters")
            if self.pattern and not re.fullmatch(self.pattern, value):
                raise ValueError(f"must match {self.pattern}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"must be {'an integer' if self.kind == 'int' else 'a number'}")
        if self.kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError("must be an integer")
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise ValueError("must be a finite number")
        too_low = self.minimum is not None and (value <= self.minimum if self.min_exclusive else value < self.minimum)
        too_high = self.maximum is not None and value > self.maximum
        if too_low or too_high:
            raise ValueError(f"must be {self.range_text()}")
        return value


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def validate_params(engine: str, specs: tuple[ParamSpec, ...], given: dict[str, Any],
                    defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """Check ``given`` against an engine's specs; returns the values coerced to their types.

    Raises ``InvalidInput`` (422) with code ``unsupported_param`` for names the engine does not
    use and ``invalid_param`` for bad values; both list every allowed param with its range."""
    by_name = {s.name: s for s in specs}
    defaults = defaults or {}
    allowed = [s.describe(defaults.get(s.name)) for s in specs]
    listing = ", ".join(f"{s.name} ({s.range_text()})" for s in specs) or "no params"
    unknown = sorted(k for k in given if k not in by_name)
    if unknown:
        names = ", ".join(repr(k[:40]) for k in unknown[:10])
        raise InvalidInput(f"engine {engine!r} does not use {names}; it accepts {listing}",
                           code="unsupported_param", details={"unknown": [k[:40] for k in unknown[:10]],
                                                               "allowed": allowed})
    out: dict[str, Any] = {}
    problems = []
    for name, value in given.items():
        try:
            out[name] = by_name[name].coerce(value)
        except ValueError as exc:
            problems.append(f"{name} {exc}")
    if problems:
        raise InvalidInput(f"engine {engine!r}: {'; '.join(problems)} (it accepts {listing})",
                           code="invalid_param", details={"problems": problems, "allowed": allowed})
    return out
