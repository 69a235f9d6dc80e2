"""Progress for ``--wait`` and ``voxfarm batch``: a tqdm bar on a terminal; anywhere else (a log
file, CI, a pipe) one plain line each time the count or the state changes, never redrawn frames."""

from __future__ import annotations

import sys
from typing import Any, TextIO

import click


class Progress:
    def __init__(self, total: int, unit: str, desc: str, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.total, self.unit, self.desc = total, unit, desc
        self.done = 0
        self.bar = None
        self._said: tuple | None = None
        if self.stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=unit, desc=desc, file=self.stream)

    def update(self, done: int, state: str | None = None, **extra: Any) -> None:
        """Show ``done`` of ``total``; ``state`` (running, succeeded...) and ``extra`` (eta, cached)
        ride along; only a change of ``done`` or ``state`` prints a new line off a terminal."""
        self.done = done
        if self.bar is not None:
            self.bar.n = done
            self.bar.set_postfix(**({"status": state} if state else {}), **extra)
            self.bar.refresh()
            return
        if (done, state) == self._said:
            return
        self._said = (done, state)
        tail = ", ".join(f"{k} {v}" for k, v in extra.items() if v not in (None, "-"))
        parts = ", ".join(p for p in (state, tail) if p)
        click.echo(f"{self.desc}: {done}/{self.total} {self.unit}s" + (f" ({parts})" if parts else ""),
                   file=self.stream)

    def advance(self, n: int = 1) -> None:
        self.update(self.done + n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
