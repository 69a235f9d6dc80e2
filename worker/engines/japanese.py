"""Japanese text -> Kokoro's phoneme symbols: misaki's romaniser over pyopenjtalk readings.

Kokoro v1.0's Japanese voices were trained on what misaki's ``JAG2P`` writes in its cutlet mode
(hexgrad/misaki ``misaki/cutlet.py``, Apache-2.0): kana readings turned into Kokoro's own symbols
("βaɡahai βa neko de aɾɯ."), with ん, っ and ー placed by their neighbours.  ``misaki[ja]`` gets the
readings from fugashi over UniDic, but the ``unidic`` package downloads its dictionary at run time
and the original ``pyopenjtalk`` is an sdist that fetches its dictionary too, so neither works on
a machine that only reaches the package registry.  Here the readings come from ``pyopenjtalk-plus``
(MIT; its dictionary is inside the wheel) through a small tagger with fugashi's interface, and
misaki's ``Cutlet`` does the rest unchanged.  misaki's own pyopenjtalk mode (``JAG2P(version=
"pyopenjtalk")``) is not used: it writes symbols Kokoro's vocabulary lacks (``g``, ``ᶄ``, ``ᶀ``).

Imports happen on first use (the worker's ``load``), never at module import.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

_LOCK = threading.Lock()  # OpenJTalk's frontend is one C object per process
_G2P: Any = None


@dataclass
class _Feature:
    pron: str
    kana: str


@dataclass
class _Word:
    surface: str
    feature: _Feature
    char_type: int = 6  # misaki reads 6 as "not an unknown word" (7 would be kana-only ASCII)
    is_unk: bool = False


class _OpenJTalkTagger:
    """fugashi ``Tagger``'s interface (surface, feature.pron, feature.kana) over pyopenjtalk's frontend."""

    def __init__(self) -> None:
        import pyopenjtalk

        self._frontend = pyopenjtalk.run_frontend

    def __call__(self, text: str) -> list[_Word]:
        words = []
        for node in self._frontend(text):
            pron = node["string"] if node["pos"] == "記号" else node["pron"].replace("’", "").replace("'", "")
            words.append(_Word(node["string"], _Feature(pron, pron)))
        return words


def _g2p() -> Any:
    global _G2P
    if _G2P is None:
        from misaki.cutlet import HEPBURN, Cutlet

        g2p = Cutlet.__new__(Cutlet)  # Cutlet.__init__ would open fugashi's UniDic tagger
        g2p.tagger = _OpenJTalkTagger()
        g2p.table = dict(HEPBURN)
        g2p.exceptions = {}
        _G2P = g2p
    return _G2P


def load() -> None:
    """Import the front end now (worker start), so a missing package fails the boot, not a job."""
    with _LOCK:
        _g2p()


def phonemize(text: str) -> str:
    """Kokoro phonemes for Japanese ``text``: kana, kanji, numbers and Japanese punctuation."""
    with _LOCK:
        phonemes, _ = _g2p()(text)
    return phonemes


def mora_count(text: str) -> int:
    """Morae of ``text`` as pyopenjtalk reads it (a speaking-rate yardstick for tests and benches)."""
    import pyopenjtalk

    with _LOCK:
        return sum(max(0, int(node["mora_size"])) for node in pyopenjtalk.run_frontend(text))
