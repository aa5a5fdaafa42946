"""Energy-based voice activity detection for the loopback server's ``server_vad``.

The real server runs a neural VAD; a loopback only needs one that is
deterministic on synthesized speech and honours the same three knobs:

* ``threshold`` (0..1): the window RMS level counted as speech, mapped linearly
  onto -60..-10 dBFS, so the default 0.5 is -35 dBFS and a higher threshold
  needs louder audio, as with the real one.
* ``prefix_padding_ms``: reported speech starts this much before the first
  voiced window (``audio_start_ms`` "includes the prefix padding").
* ``silence_duration_ms``: speech stops after this much silence;
  ``audio_end_ms`` is where that silence ran out, so it includes it.

All times are milliseconds of audio appended since the session started, the
time base of ``input_audio_buffer.speech_started`` / ``speech_stopped``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["EnergyVad", "SpeechStarted", "SpeechStopped", "VadSettings", "level_for_threshold"]

RATE = 24000
WINDOW_MS = 10  # fine enough that start/end land within 10 ms of the speech edges
_WINDOW = RATE * WINDOW_MS // 1000
# Voiced windows needed in a row before speech counts as started: a click or a
# single loud sample must not open a turn.
_ONSET_WINDOWS = 3


@dataclass(frozen=True, slots=True)
class VadSettings:
    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    audio_start_ms: int


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    audio_end_ms: int


def level_for_threshold(threshold: float) -> float:
    """The RMS (in int16 units) above which a window is speech."""
    dbfs = -60.0 + 50.0 * min(max(threshold, 0.0), 1.0)
    return float(32768.0 * 10 ** (dbfs / 20))


class EnergyVad:
    def __init__(self, settings: VadSettings | None = None, *, now_ms: int = 0, floor_ms: int = 0) -> None:
        """``now_ms``: the session clock at creation (a detector replaced by session.update keeps it)."""
        self.settings = settings or VadSettings()
        self._level = level_for_threshold(self.settings.threshold)
        self._pending = np.zeros(0, np.int16)  # samples short of a whole window
        self._windows = now_ms // WINDOW_MS  # whole windows since the session started
        self._voiced_run = 0
        self._silent_run = 0
        self.speaking = False
        # Audio before this point was committed or cleared: padding never reaches back past it.
        self.floor_ms = floor_ms

    @property
    def position_ms(self) -> int:
        return self._windows * WINDOW_MS

    def reset(self, at_ms: int) -> None:
        """The input buffer was committed or cleared at ``at_ms``: forget any speech in progress."""
        self.speaking = False
        self._voiced_run = self._silent_run = 0
        self.floor_ms = at_ms

    def feed(self, samples: np.ndarray) -> list[SpeechStarted | SpeechStopped]:
        audio = np.concatenate([self._pending, samples.astype(np.int16, copy=False)])
        whole = len(audio) // _WINDOW * _WINDOW
        self._pending = audio[whole:]
        if not whole:
            return []
        frames = audio[:whole].astype(np.float64).reshape(-1, _WINDOW)
        rms = np.sqrt(np.mean(frames * frames, axis=1))
        events: list[SpeechStarted | SpeechStopped] = []
        silence_windows = max(1, -(-self.settings.silence_duration_ms // WINDOW_MS))
        for voiced in rms >= self._level:
            self._windows += 1
            if voiced:
                self._voiced_run += 1
                self._silent_run = 0
                if not self.speaking and self._voiced_run >= _ONSET_WINDOWS:
                    self.speaking = True
                    onset_ms = (self._windows - self._voiced_run) * WINDOW_MS
                    start = max(self.floor_ms, onset_ms - self.settings.prefix_padding_ms)
                    events.append(SpeechStarted(audio_start_ms=start))
            else:
                self._voiced_run = 0
                if self.speaking:
                    self._silent_run += 1
                    if self._silent_run >= silence_windows:
                        self.speaking = False
                        self._silent_run = 0
                        events.append(SpeechStopped(audio_end_ms=self.position_ms))
        return events
