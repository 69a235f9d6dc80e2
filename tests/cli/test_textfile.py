"""Text files for `voxfarm submit @file` / `voxfarm book`: any common encoding is read; PDFs and
binaries are refused in one line."""

from __future__ import annotations

import click
import pytest

from tests.cli.test_cli import _env, voxfarm
from voxfarm.cli.textfile import read_text

TEXT = ("Le cœur a ses raisons que la raison ne connaît point. Déjà l'été s'achève, "
        "et les élèves reviennent à l'école après de très longues vacances à la mer.")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16"])
def test_common_encodings_decode_to_the_same_text(tmp_path, encoding):
    path = tmp_path / "t.txt"
    path.write_bytes(TEXT.encode(encoding))
    assert read_text(path) == TEXT


@pytest.mark.parametrize("data,what", [(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "a PDF"),
                                       (b"PK\x03\x04\x14\x00\x06\x00", "a ZIP archive"),
                                       (bytes(range(256)) * 8, "not a text file")])
def test_non_text_is_refused(tmp_path, data, what):
    path = tmp_path / "f.txt"
    path.write_bytes(data)
    with pytest.raises(click.ClickException) as info:
        read_text(path)
    assert what in info.value.message


def test_the_cli_says_one_line_for_a_pdf(tmp_path):
    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(b"%PDF-1.4\n" + bytes(range(256)))
    for args in (["book", str(pdf), "-o", str(tmp_path / "x.mp3")], ["submit", f"@{pdf}"]):
        proc = voxfarm(*args, "--url", "http://127.0.0.1:9", env=_env(tmp_path))
        assert proc.returncode != 0 and "Traceback" not in proc.stderr
        assert proc.stderr.strip().splitlines() == [f"Error: {pdf} is a PDF; voxfarm reads plain text, Markdown "
                                                    "and EPUB: convert it first (e.g. pdftotext for a PDF)"]
