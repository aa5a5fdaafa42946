"""Scripted conversations for the loopback servers, independent of any provider.

A scenario is the model's side of a call, written down in advance: what the
caller will say (so a server can "transcribe" it) and what the model answers
(audio, text, tool calls), plus faults to inject into an answer. The OpenAI
loopback server plays it over the Realtime protocol; nothing here names an
OpenAI event, so a Gemini Live loopback can play the same file.

    {"name": "weather", "steps": [
        {"role": "model",  "transcript": "Hello! How can I help?"},
        {"role": "caller", "transcript": "What's the weather in Paris?"},
        {"role": "model",  "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
        {"role": "model",  "transcript": "Sunny, 21 degrees.", "faults": {"stall": true}}
    ]}

Steps are consumed in order, per connection: a committed caller turn takes the
next ``caller`` step (its transcript), a response takes the next ``model`` step.

A caller step is speech by default; two kinds are not a turn the model should answer:

    {"role": "caller", "kind": "cough", "barge_in_after_ms": 1000}
    {"role": "caller", "kind": "backchannel", "transcript": "mm-hmm", "barge_in_after_ms": 1200}

A cough is sound with no words: the server's VAD hears it, its transcription is empty.
A backchannel is a short acknowledgement said over the agent ("mm-hmm" by default). A
``"push_to_talk": true`` step is a turn the application opens and closes (the runner
calls ``agent.start_user_turn()`` before it and ``agent.commit_user_turn()`` after it).
"""

from __future__ import annotations

import json
import wave
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from .voice import RATE, voice

__all__ = [
    "CALLER_PITCH", "COUGH_MS", "MODEL_PITCH", "CallerTurn", "ErrorFault", "Faults", "ModelReply", "Scenario",
    "Step", "ToolCall", "cough", "load_scenario", "scenario_json_schema",
]  # fmt: skip

COUGH_MS = 150  # a short burst: over before min_interruption_s, as a cough is
CALLER_PITCH = 140.0  # Hz: a lower voice for the caller, so the two are told apart in a recording
MODEL_PITCH = 220.0


class _Strict(BaseModel):
    # A misspelt key in a hand-written scenario would otherwise be silently ignored.
    model_config = ConfigDict(extra="forbid")


class ToolCall(_Strict):
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ErrorFault(_Strict):
    """An error the server reports instead of (or before) the reply."""

    type: str = "server_error"
    code: str | None = None
    message: str = "The server had an error while processing your request."
    # True: the response fails (it is created, then done with status "failed").
    # False: the error arrives on its own and the reply then streams normally.
    fail_response: bool = True


class Faults(_Strict):
    drop_socket_after_ms: int | None = Field(
        None,
        ge=0,
        description="Close the connection abruptly after this much of the reply's audio was sent "
        "(a reply with less audio: just before it would complete).",
    )
    malformed_message: bool = Field(
        False, description="Send a non-JSON frame and an event of an unknown type before the reply."
    )
    error_event: ErrorFault | None = None
    slow_ms_per_chunk: int = Field(0, ge=0, description="Extra delay before each streamed chunk.")
    stall: bool = Field(False, description="Stop streaming halfway; the reply never completes unless cancelled.")


class CallerTurn(_Strict):
    role: Literal["caller"] = "caller"
    kind: Literal["speech", "cough", "backchannel"] = Field(
        "speech",
        description="speech: a turn; cough: sound with no words (its transcription is empty); "
        "backchannel: a short acknowledgement such as mm-hmm, said over the agent.",
    )
    wav: str | None = Field(
        None, description="A WAV file to play instead of synthesized speech; relative to the scenario file."
    )
    transcript: str = Field(
        "",
        validate_default=True,
        description="What the caller says (a cough says nothing; a backchannel: mm-hmm by default).",
    )
    pitch: float = CALLER_PITCH
    barge_in_after_ms: int | None = Field(
        None,
        ge=0,
        description="The caller starts speaking this far into the agent's speech (counted from when "
        "the agent is, or is again, speaking: after a cough it held through, from the resume).",
    )
    push_to_talk: bool = Field(
        False,
        description="The application opens and closes this turn (start_user_turn / commit_user_turn), "
        "as a push-to-talk button does; needs manual turns (no server VAD).",
    )
    _base_dir: Path | None = PrivateAttr(None)
    _audio: bytes | None = PrivateAttr(None)

    @field_validator("transcript")
    @classmethod
    def _fits_its_kind(cls, transcript: str, info: ValidationInfo) -> str:
        # Reported at the transcript (steps.N.caller.transcript), where the fix goes.
        kind = info.data.get("kind", "speech")
        if kind == "cough" and transcript:
            raise ValueError("a cough has no words: leave its transcript empty")
        if kind == "backchannel" and not transcript:
            return "mm-hmm"
        if kind == "speech" and not transcript and info.data.get("wav") is None:
            raise ValueError("a caller turn of speech needs a transcript (or a wav)")
        return transcript

    def audio(self) -> bytes:
        """PCM16 mono at 24 kHz: the WAV if one is named, else a cough or speech synthesized from the transcript."""
        if self._audio is None:
            if self.wav is not None:
                path = Path(self.wav)
                if not path.is_absolute() and self._base_dir is not None:
                    path = self._base_dir / path
                self._audio = read_wav_pcm16(path)
            elif self.kind == "cough":
                self._audio = cough()
            else:
                self._audio = voice(self.transcript, pitch=self.pitch)
        return self._audio

    @property
    def answered(self) -> bool:
        """Whether the model answers this step: a cough or a backchannel is not a turn."""
        return self.kind == "speech"


class ModelReply(_Strict):
    role: Literal["model"] = "model"
    transcript: str = ""
    text_only: bool = Field(False, description="The model answers in text although audio was asked for.")
    tool_calls: list[ToolCall] = Field(default_factory=list)
    pitch: float = MODEL_PITCH
    faults: Faults = Field(default_factory=Faults)
    _audio: bytes | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _says_something(self) -> ModelReply:
        if not self.transcript and not self.tool_calls:
            raise ValueError("a model reply needs a transcript, tool_calls, or both")
        return self

    def audio(self) -> bytes:
        """The reply as PCM16 mono at 24 kHz (empty for text-only and pure tool-call replies)."""
        if self.text_only or not self.transcript:
            return b""
        if self._audio is None:
            self._audio = voice(self.transcript, pitch=self.pitch)
        return self._audio

    @property
    def audio_ms(self) -> float:
        return len(self.audio()) / 2 / RATE * 1000


Step = Annotated[CallerTurn | ModelReply, Field(discriminator="role")]


class Scenario(_Strict):
    name: str = "scenario"
    description: str = ""
    steps: list[Step]

    @model_validator(mode="after")
    def _turns_one_way(self) -> Scenario:
        # A session either detects turns (server VAD) or is told them (push-to-talk): not both.
        kinds = {s.push_to_talk for s in self.caller_turns if s.answered}
        if len(kinds) > 1:
            raise ValueError("push-to-talk turns and detected turns cannot be mixed in one scenario")
        return self

    @property
    def push_to_talk(self) -> bool:
        """The application opens and closes the caller's turns (manual turns, no server VAD)."""
        return any(s.push_to_talk for s in self.caller_turns)

    def bind(self, base_dir: Path | None) -> Scenario:
        """Resolve relative WAV paths against ``base_dir`` (what ``load_scenario`` passes)."""
        for step in self.steps:
            if isinstance(step, CallerTurn):
                step._base_dir = base_dir
        return self

    @property
    def caller_turns(self) -> list[CallerTurn]:
        return [s for s in self.steps if isinstance(s, CallerTurn)]

    @property
    def replies(self) -> list[ModelReply]:
        return [s for s in self.steps if isinstance(s, ModelReply)]


class ScenarioCursor:
    """One connection's place in a scenario (each connection replays it from the start)."""

    def __init__(self, scenario: Scenario) -> None:
        self.steps = scenario.steps
        self.index = 0

    def next_caller(self) -> CallerTurn | None:
        """The caller turn due now, or None when the script expects the model next (unscripted speech)."""
        if self.index < len(self.steps):
            step = self.steps[self.index]
            if isinstance(step, CallerTurn):
                self.index += 1
                return step
        return None

    def skip_past_tool_calls(self) -> None:
        """Move past the next reply that calls tools (and the caller turns before it), if
        there is one ahead: its results have come, and the reply after it is due."""
        for i in range(self.index, len(self.steps)):
            step = self.steps[i]
            if isinstance(step, ModelReply) and step.tool_calls:
                self.index = i + 1
                return

    def next_reply(self) -> ModelReply | None:
        """The next model reply; caller turns that never arrived as audio are skipped."""
        while self.index < len(self.steps):
            step = self.steps[self.index]
            self.index += 1
            if isinstance(step, ModelReply):
                return step
        return None


def cough(ms: int = COUGH_MS, rate: int = RATE) -> bytes:
    """A cough: a burst of noise, loud at once and dying away; no voice, no words."""
    n = rate * ms // 1000
    noise = np.random.default_rng(ms).standard_normal(n)
    envelope = np.exp(-np.arange(n) / (n / 4))
    pcm: bytes = np.clip(noise * envelope * 9000, -32768, 32767).astype(np.int16).tobytes()
    return pcm


def read_wav_pcm16(path: Path, rate: int = RATE) -> bytes:
    """A 16-bit PCM WAV as mono PCM16 at ``rate`` (channels averaged, linear resampling)."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit PCM WAV files are supported")
        channels, src_rate = w.getnchannels(), w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float64)
    mono = data.reshape(-1, channels).mean(axis=1)
    if src_rate != rate and len(mono):
        n = round(len(mono) * rate / src_rate)
        mono = np.interp(np.arange(n) * src_rate / rate, np.arange(len(mono)), mono)
    pcm: bytes = np.clip(np.round(mono), -32768, 32767).astype(np.int16).tobytes()
    return pcm


def load_scenario(path: str | Path | None = None) -> Scenario:
    """Load a scenario file; ``None`` loads the bundled demo (``scenarios/demo.json``)."""
    if path is None:
        text = resources.files(__package__ or "turnstile.adapters").joinpath("scenarios", "demo.json").read_text()
        return Scenario.model_validate(json.loads(text)).bind(None)
    path = Path(path)
    return Scenario.model_validate_json(path.read_text()).bind(path.parent)


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario file (``turnstile scenario --schema``)."""
    return Scenario.model_json_schema()
