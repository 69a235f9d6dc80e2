"""ZipVoice's signal processing in numpy: prompt features, the vocoder's ISTFT, silence trimming.

* ``mel_magnitudes`` is upstream's ``VocosFbank`` (torchaudio ``MelSpectrogram``: centred STFT
  with reflect padding, periodic Hann window, magnitude (power 1), HTK mel scale, no filter
  norm), cropped to lhotse's frame count.  The model sees ``log(max(mel * gain, 1e-7)) * 0.1``;
  the linear magnitudes are what a voice caches, so the RMS gain (which depends on a job's
  ``target_rms``) is applied at render time and stays exact.  A test compares these features
  with torchaudio's.
* ``istft`` turns Vocos's (mag, cos, sin) output into audio the way sherpa-onnx does it for
  ``vocos_24khz.onnx``: centred inverse STFT, Hann window, window-envelope normalisation
  (``torch.istft`` semantics; a test compares with it).  It runs on a whole batch at once.
* ``trim_edges`` / ``cap_silences`` follow upstream's pydub rules: silence is a 10 ms window
  quieter than -50 dBFS; edges keep 0.1 s, and inner pauses longer than 2 s shrink to 2 s.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

FEAT_SCALE = 0.1  # upstream's feat_scale: the model works on log-mel / 10
LOG_FLOOR = 1e-7
SILENCE_DB = -50.0
WINDOW_S = 0.01


def hann(n: int) -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)  # periodic


@lru_cache(maxsize=4)
def mel_filters(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """(n_fft // 2 + 1, n_mels) triangular HTK filters over 0..sr/2, unnormalised."""
    freqs = np.linspace(0, sample_rate // 2, n_fft // 2 + 1)
    mels = np.linspace(0.0, 2595.0 * np.log10(1.0 + sample_rate / 2 / 700.0), n_mels + 2)  # HTK mel scale
    points = 700.0 * (10 ** (mels / 2595.0) - 1.0)
    widths = np.diff(points)
    slopes = points[None, :] - freqs[:, None]
    down = -slopes[:, :-2] / widths[:-1]
    up = slopes[:, 2:] / widths[1:]
    return np.maximum(0.0, np.minimum(down, up)).astype(np.float32)


def mel_magnitudes(audio: np.ndarray, sample_rate: int, n_fft: int, hop: int, n_mels: int) -> np.ndarray:
    """(frames, n_mels) linear mel magnitudes of mono float audio."""
    audio = np.asarray(audio, dtype=np.float32)
    half = n_fft // 2
    if audio.size <= half:
        raise ValueError(f"prompt too short: {audio.size} samples, need more than {half}")
    padded = np.pad(audio, (half, half), mode="reflect")
    count = 1 + (padded.size - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(count)[:, None]
    spec = np.abs(np.fft.rfft(padded[idx] * hann(n_fft), axis=1)).astype(np.float32)
    mel = spec @ mel_filters(sample_rate, n_fft, n_mels)
    frames = (audio.size + hop // 2) // hop  # lhotse's compute_num_frames
    if mel.shape[0] < frames:
        mel = np.concatenate([mel, np.repeat(mel[-1:], frames - mel.shape[0], axis=0)])
    return mel[:frames]


def log_features(mel: np.ndarray, gain: float = 1.0) -> np.ndarray:
    return (np.log(np.maximum(mel * np.float32(gain), LOG_FLOOR)) * FEAT_SCALE).astype(np.float32)


@lru_cache(maxsize=64)
def _envelope(count: int, n_fft: int, hop: int) -> np.ndarray:
    """Overlap-added squared window for ``count`` frames (the ISTFT's normaliser)."""
    env = np.zeros(n_fft + hop * (count - 1), dtype=np.float32)
    win_sq = hann(n_fft) ** 2
    for t in range(count):
        env[t * hop:t * hop + n_fft] += win_sq
    return np.where(env > 1e-11, env, 1.0).astype(np.float32)


def istft(mag: np.ndarray, cos: np.ndarray, sin: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """(N, bins, T) magnitude and phase parts -> (N, hop * (T - 1)) audio."""
    spec = mag * (cos + 1j * sin)
    frames = (np.fft.irfft(spec, n=n_fft, axis=1).transpose(0, 2, 1) * hann(n_fft)).astype(np.float32)
    batch, count, _ = frames.shape
    total = n_fft + hop * (count - 1)
    out = np.zeros((batch, total), dtype=np.float32)
    if n_fft % hop == 0:  # overlap-add in n_fft / hop vectorised strides (4 for Vocos)
        for k in range(n_fft // hop):
            out[:, k * hop:k * hop + count * hop] += frames[:, :, k * hop:(k + 1) * hop].reshape(batch, -1)
    else:
        for t in range(count):
            out[:, t * hop:t * hop + n_fft] += frames[:, t]
    half = n_fft // 2
    return (out / _envelope(count, n_fft, hop))[:, half:total - half]


def _loud(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int]:
    win = max(1, int(sample_rate * WINDOW_S))
    count = audio.size // win
    if count == 0:
        return np.zeros(0, bool), win
    rms = np.sqrt(np.mean(np.square(audio[:count * win].reshape(count, win), dtype=np.float64), axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-12)) > SILENCE_DB, win


def trim_edges(audio: np.ndarray, sample_rate: int, keep_s: float = 0.1) -> np.ndarray:
    loud, win = _loud(audio, sample_rate)
    if not loud.any():
        return audio
    keep = int(keep_s * sample_rate)
    start = max(0, int(np.argmax(loud)) * win - keep)
    end = min(audio.size, (len(loud) - int(np.argmax(loud[::-1]))) * win + keep)
    return audio[start:end]


def cap_silences(audio: np.ndarray, sample_rate: int, max_s: float = 2.0) -> np.ndarray:
    """Shorten every inner pause longer than ``max_s`` to ``max_s`` (half kept on each side)."""
    loud, win = _loud(audio, sample_rate)
    limit = int(max_s / WINDOW_S)
    pieces, start, run = [], 0, 0
    for i, flag in enumerate(np.append(loud, True)):
        if not flag:
            run += 1
            continue
        if run > limit and i - run > 0 and i < len(loud):  # an inner pause, not an edge
            cut_from, cut_to = (i - run + limit // 2) * win, (i - (limit - limit // 2)) * win
            pieces.append(audio[start:cut_from])
            start = cut_to
        run = 0
    pieces.append(audio[start:])
    return np.concatenate(pieces) if len(pieces) > 1 else audio
