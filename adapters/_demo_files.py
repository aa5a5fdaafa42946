"""The files ``turnstile demo`` leaves: the trace, the chart drawn over it, the call as a WAV."""

from __future__ import annotations

import sys
import wave
from pathlib import Path

import numpy as np

from turnstile.machine import Trace

from .voice import RATE

__all__ = ["write_diagrams", "write_wav"]


def write_wav(path: Path, caller: list[tuple[float, bytes]], agent: bytes, agent_from: float) -> None:
    """Caller left, agent right; times are seconds on the trace's clock.

    ``caller`` holds (start, PCM) per turn; the agent's recording is continuous from
    ``agent_from`` (when its speaker was linked), so both land where the trace says.
    """
    right = np.concatenate([np.zeros(max(0, round(agent_from * RATE)), np.int16), np.frombuffer(agent, np.int16)])
    end = max([len(right)] + [round(t * RATE) + len(p) // 2 for t, p in caller])
    left = np.zeros(end, np.int16)
    for t, pcm in caller:
        start = max(0, round(t * RATE))
        samples = np.frombuffer(pcm, np.int16)
        left[start : start + len(samples)] = samples[: end - start]
    right = np.pad(right, (0, end - len(right)))
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(np.column_stack([left, right]).tobytes())


def write_diagrams(path: Path, trace: Trace) -> list[Path]:
    """The chart with the trace over it at ``path``, and as .dot and .mmd beside it.

    The text formats need nothing installed; an image that cannot be drawn (no Graphviz)
    is reported in one line and the others are still written.
    """
    from turnstile.diagrams import RenderError, render

    written = []
    for out in dict.fromkeys([path, path.with_suffix(".dot"), path.with_suffix(".mmd")]):
        try:
            written.append(render(out, trace=trace))
        except RenderError as exc:
            print(f"turnstile demo: {exc}", file=sys.stderr)
    return written
