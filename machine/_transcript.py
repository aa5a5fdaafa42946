"""Cutting the agent's transcript at what the listener heard.

Providers send the transcript ahead of (or beside) the audio, without word timings. The
heard fraction of the audio picks the heard fraction of the characters, and only whole
words up to that point count as said.
"""

from __future__ import annotations

__all__ = ["CHARS_PER_SECOND", "heard_text"]

CHARS_PER_SECOND = 15.0
"""Typical speaking rate, used while the item's audio is still arriving."""


def heard_text(
    transcript: str,
    heard_samples: int,
    received_samples: int,
    sample_rate: int,
    *,
    audio_complete: bool,
) -> str:
    if heard_samples <= 0 or not transcript:
        return ""
    total = received_samples
    if not audio_complete:
        # The rest of the audio is still on its way: estimate the item's full length from
        # its text, so a fast transcript does not make most of it look heard.
        total = max(total, int(len(transcript) / CHARS_PER_SECOND * sample_rate))
    if total <= 0 or heard_samples >= total:
        return transcript if heard_samples >= total > 0 else ""
    cut = int(len(transcript) * heard_samples / total)
    if cut >= len(transcript):
        return transcript
    if cut > 0 and not transcript[cut].isspace() and not transcript[cut - 1].isspace():
        # Inside a word: keep only the words finished before it.
        cut = transcript.rfind(" ", 0, cut)
        if cut < 0:
            return ""
    return transcript[:cut].rstrip()
