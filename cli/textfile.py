"""Reading a user's text file for ``voxfarm submit @file`` and ``voxfarm book``.

UTF-8 (with or without a BOM) is read as is; anything else is decoded with charset-normalizer's
best guess, and the guess is said on stderr.  Files that are not text (a PDF, a Word document,
any binary) are refused in one line that says what to do instead, never with a traceback.
"""

from __future__ import annotations

from pathlib import Path

import click
from charset_normalizer import from_bytes

from voxfarm.core.text.sniff import ACCEPTED, not_readable


def read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:  # a missing file, a folder, no permission: one line, never a traceback
        raise click.ClickException(f"cannot read {path}: {exc.strerror or exc}") from None
    if refusal := not_readable(str(path), data):  # the same sentence the API answers (core/text/sniff.py)
        raise click.ClickException(refusal)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise click.ClickException(f"{path} is not a text file (it holds NUL bytes); {ACCEPTED}")
    matches = from_bytes(data)
    best = matches.best()
    if best is not None:
        # Western text often ties between cp1250 and cp1252 (a French sample here: chaos 0.034 and
        # coherence 0.625 for both, cp1250 listed first); Windows-1252 is far the more common
        ties = [m for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
        best = next((m for m in ties if m.encoding == "cp1252"), best)
    if best is None:
        raise click.ClickException(f"cannot tell the text encoding of {path}; save it as UTF-8")
    click.echo(f"{path}: not UTF-8, read as {best.encoding}", err=True)
    return str(best)
