"""The API's list of espeak languages (data, core/engines/languages.py) is exactly what the
installed espeak-ng accepts, and every name on it renders."""

from __future__ import annotations

from voxfarm.core.engines.languages import ESPEAK_LANGUAGES
from voxfarm.core.settings import Settings
from voxfarm.worker.engines.base import RenderRequest
from voxfarm.worker.engines.espeak import EspeakEngine, voice_names


def test_the_static_list_matches_the_installed_library():
    installed = voice_names()
    assert installed, "espeak-ng listed no voices"
    missing, stale = installed - ESPEAK_LANGUAGES, ESPEAK_LANGUAGES - installed
    assert not missing and not stale, f"regenerate core/engines/languages.py: missing {missing}, stale {stale}"


def test_every_listed_language_renders_and_an_unlisted_one_does_not(tmp_path):
    engine = EspeakEngine(Settings(data_dir=tmp_path))
    engine.load()
    names = sorted(ESPEAK_LANGUAGES)
    results = engine.generate_batch([RenderRequest(key=n, text="one two", params={"language": n}) for n in names])
    failed = {n: r.error for n, r in zip(names, results, strict=True)
              if r.error or r.audio is None or r.audio.size < 1000}
    assert not failed
    bogus = engine.generate_batch([RenderRequest(key="x", text="one two", params={"language": "xx-yy"})])[0]
    assert bogus.error and "xx-yy" in bogus.error
