"""Speech-like test audio, synthesized offline (no downloads, no TTS model).

Used wherever something must *sound* like a turn of speech without being one:
the demo's simulated caller and agent, and the loopback servers' scripted
replies. Deterministic: the same text always gives the same samples, so a test
can compare what a server streamed with what the scenario said it would.
"""

from __future__ import annotations

import numpy as np

__all__ = ["RATE", "voice"]

RATE = 24000  # the Realtime APIs' PCM16 rate


def voice(text: str, *, pitch: float, rate: int = RATE) -> bytes:
    """A speech-like signal for ``text``: one voiced syllable per vowel group, no downloads."""
    syllables = max(1, sum(1 for i, c in enumerate(text) if c in "aeiouy" and (i == 0 or text[i - 1] not in "aeiouy")))
    out = []
    rng = np.random.default_rng(len(text))
    for k in range(syllables):
        n = int(rate * rng.uniform(0.14, 0.22))
        t = np.arange(n) / rate
        f0 = pitch * (1 + 0.08 * np.sin(2 * np.pi * 3 * t + k))
        tone = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in (1, 2, 3))
        out.append(tone * np.hanning(n) * 6000)
        out.append(np.zeros(int(rate * 0.03)))
    return np.concatenate(out).astype(np.int16).tobytes()
