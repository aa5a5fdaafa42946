"""Automatic activity detection for the Gemini Live loopback, on the OpenAI loopback's energy VAD.

The Live API's ``automaticActivityDetection`` has four knobs; here is what each does:

* ``startOfSpeechSensitivity``: HIGH detects quieter speech (VAD threshold 0.4),
  LOW needs louder speech (0.6); unspecified is 0.5 (-35 dBFS, see ``_vad``).
* ``endOfSpeechSensitivity``: HIGH ends a turn after 300 ms of silence, LOW
  after 1000 ms, unspecified after 500 ms, unless ``silenceDurationMs`` says.
* ``prefixPaddingMs``: how long speech must last before its start is committed
  (the API's meaning, unlike OpenAI's); shorter bursts are not a turn at all.
* ``silenceDurationMs``: the silence that ends a turn.

The energy VAD works on a 24 kHz grid; input (16 kHz as a rule, any rate the
MIME type names) is mapped onto it by nearest sample, which keeps the energy
and the timing, the only things the detector looks at.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..openai._vad import EnergyVad, SpeechStarted, VadSettings
from ._client import AutomaticActivityDetection

__all__ = ["ActivityChange", "ActivityDetector"]

_GRID = 24000  # the energy VAD's sample rate
_SLICE = _GRID // 100  # 10 ms: one VAD window, so a start is committed within 10 ms of its padding
_THRESHOLD = {"START_SENSITIVITY_HIGH": 0.4, "START_SENSITIVITY_LOW": 0.6}
_SILENCE_MS = {"END_SENSITIVITY_HIGH": 300, "END_SENSITIVITY_LOW": 1000}


class _ToGrid:
    """Nearest-sample conversion from ``rate`` onto the 24 kHz grid, continuous across chunks."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._in = 0  # input samples seen
        self._out = 0  # grid samples produced

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        if self.rate == _GRID:
            return samples
        first = self._in
        self._in += len(samples)
        end = self._in * _GRID // self.rate
        source = np.arange(self._out, end) * self.rate // _GRID - first
        self._out = end
        return samples[np.clip(source, 0, max(len(samples) - 1, 0))] if len(samples) else samples


class ActivityChange(NamedTuple):
    started: bool
    """The caller's activity started (True) or ended (False)."""
    at_ms: int
    """When it was detected, in the audio stream's time (voiceActivity's ``audioOffset``)."""


class ActivityDetector:
    """Feeds PCM16 samples; reports the caller's turns starting and ending."""

    def __init__(self, config: AutomaticActivityDetection | None) -> None:
        config = config or AutomaticActivityDetection()
        silence = config.silence_duration_ms
        if silence is None:
            silence = _SILENCE_MS.get(config.end_of_speech_sensitivity or "", 500)
        self.prefix_ms = config.prefix_padding_ms or 0
        self._vad = EnergyVad(
            VadSettings(
                threshold=_THRESHOLD.get(config.start_of_speech_sensitivity or "", 0.5),
                prefix_padding_ms=0,
                silence_duration_ms=silence,
            )
        )
        self._grid: _ToGrid | None = None
        self._onset_ms: int | None = None  # energy onset not yet committed as speech
        self.speaking = False

    def feed(self, samples: np.ndarray, rate: int) -> list[ActivityChange]:
        if self._grid is None or self._grid.rate != rate:
            self._grid = _ToGrid(rate)
        grid = self._grid(samples)
        changes: list[ActivityChange] = []
        for i in range(0, len(grid), _SLICE):
            for event in self._vad.feed(grid[i : i + _SLICE]):
                if isinstance(event, SpeechStarted):
                    self._onset_ms = event.audio_start_ms
                else:
                    self._onset_ms = None
                    if self.speaking:
                        self.speaking = False
                        changes.append(ActivityChange(False, self._vad.position_ms))
            onset = self._onset_ms
            if onset is not None and not self.speaking and self._vad.position_ms - onset >= self.prefix_ms:
                self.speaking = True
                changes.append(ActivityChange(True, self._vad.position_ms))
        return changes

    def flush(self) -> list[ActivityChange]:
        """``audioStreamEnd``: the microphone closed, so speech in progress ends now."""
        self._onset_ms = None
        self._vad.reset(self._vad.position_ms)
        if self.speaking:
            self.speaking = False
            return [ActivityChange(False, self._vad.position_ms)]
        return []
