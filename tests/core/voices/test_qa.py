"""Voice QA on synthesized prompts whose speech duration, clipping and SNR are known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from voxfarm.core.errors import InvalidInput
from voxfarm.core.settings import Settings
from voxfarm.core.voices.qa import analyze
from voxfarm.core.voices.registry import check_prompt

from helpers import tone

RATE = 44100


def _speechlike(bursts: int, noise_rms: float, seed: int = 0) -> tuple[np.ndarray, float]:
    """Syllable-like tone bursts of 300 ms with 200 ms pauses, plus white noise; returns the signal
    and the true SNR (burst power over noise power, in dB)."""
    clean = [tone(0.3, RATE, 180 + 40 * i) for i in range(bursts)]
    x = np.concatenate([np.concatenate([b, np.zeros(int(0.2 * RATE), np.float32)]) for b in clean])
    noise = np.random.default_rng(seed).normal(0, noise_rms, x.size).astype(np.float32)
    true_snr = 10 * np.log10(np.mean(np.concatenate(clean).astype(np.float64) ** 2) / noise_rms ** 2)
    return x + noise, float(true_snr)


def _quiet(seconds: float, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 1e-3, int(seconds * RATE)).astype(np.float32)  # -60 dBFS room


@pytest.mark.parametrize("noise_rms", [0.003, 0.01, 0.03, 0.06])
def test_snr_estimate_tracks_the_constructed_snr(noise_rms):
    audio, true_snr = _speechlike(10, noise_rms)
    qa = analyze(audio, RATE)
    assert qa.snr_db is not None and abs(qa.snr_db - true_snr) < 1.5, (qa.snr_db, true_snr)


def test_snr_orders_noisier_prompts_lower():
    snrs = [analyze(_speechlike(8, n)[0], RATE).snr_db for n in (0.003, 0.01, 0.03, 0.06)]
    assert snrs == sorted(snrs, reverse=True) and snrs[0] - snrs[-1] > 20


def test_speech_duration_of_a_burst_in_silence():
    audio = np.concatenate([_quiet(3.0), tone(1.2), _quiet(2.0)])
    qa = analyze(audio, RATE)
    assert abs(qa.speech_s - 1.2) <= 0.06 and abs(qa.duration_s - 6.2) < 0.01
    assert abs(qa.speech_fraction - 1.2 / 6.2) < 0.02


def test_syllable_pauses_count_as_speech_but_long_pauses_do_not():
    short = np.concatenate([tone(0.5), _quiet(0.15), tone(0.5)])  # a stop inside a word
    assert analyze(short, RATE).speech_s > 1.1
    long = np.concatenate([tone(0.5), _quiet(1.0), tone(0.5)])  # a breath between phrases
    assert abs(analyze(long, RATE).speech_s - 1.0) <= 0.06


def test_a_continuous_prompt_has_no_noise_to_measure():
    qa = analyze(tone(2.0), RATE)
    assert qa.speech_s == pytest.approx(2.0, abs=0.02) and qa.snr_db is None


@pytest.mark.parametrize("make,code", [
    (lambda: np.concatenate([_quiet(8.0), tone(0.6)]), "voice_mostly_silent"),
    (lambda: np.concatenate([tone(0.8), _quiet(0.7)]), "voice_too_little_speech"),
    (lambda: np.clip(tone(2.0) * 4, -1, 1), "voice_clipped"),  # hard-clipped: ~8 % of samples at full scale
    (lambda: np.zeros(RATE * 2, np.float32), "voice_silent"),
])
def test_prompts_refused_with_their_code(make, code):
    with pytest.raises(InvalidInput) as err:
        check_prompt(Settings(), make(), RATE)
    assert err.value.code == code and err.value.status == 422


def test_clipping_threshold_is_a_setting():
    audio = tone(2.0)
    audio[::50] = 1.0  # 2 % of samples at full scale
    with pytest.raises(InvalidInput) as err:
        check_prompt(Settings(), audio, RATE)
    assert err.value.code == "voice_clipped"
    assert check_prompt(Settings(voice_max_clipped_fraction=0.05), audio, RATE).clipped_fraction == pytest.approx(0.02)
    loud = tone(2.0) / 0.3 * 0.99  # peak 0.99: loud, not clipped
    assert check_prompt(Settings(), loud, RATE).clipped_fraction == 0.0


def test_accepted_prompt_reports_its_measures():
    audio, _ = _speechlike(6, 0.01)
    qa = check_prompt(Settings(), audio, RATE)
    assert qa.speech_s > 2.5 and qa.snr_db is not None and 15 < qa.snr_db < 30
