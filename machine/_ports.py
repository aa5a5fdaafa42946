"""The ports: what the core needs from a provider and from a room.

Adapters implement these protocols; the core never imports an adapter. Every method the
chart's actions call is synchronous and non-blocking (it enqueues a send and returns),
because callbacks never await I/O: an awaiting callback would delay the next barge-in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ._chat import ChatContext
from ._events import ProviderEvent
from ._tools import ToolOutput, ToolSchema

if TYPE_CHECKING:  # the core runs without LiveKit's native library loaded (Gemini, OpenAI)
    from livekit import rtc

__all__ = [
    "AgentTranscription",
    "AudioOutput",
    "Capabilities",
    "RealtimeProvider",
    "RealtimeSession",
    "RoomLink",
    "RoomPort",
    "TranscriptSegment",
]


MIN_SAMPLE_RATE = 8000  # telephony; the lowest rate WebRTC and the providers speak
MAX_SAMPLE_RATE = 48000  # WebRTC's (LiveKit's) native rate


class Capabilities(BaseModel):
    """What a provider can do; the runtime asks these instead of checking provider types."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    supports_truncate: bool = True
    """Cancel and truncate are only sent where this holds (OpenAI yes, Gemini no)."""
    input_sample_rate: int = 24000
    output_sample_rate: int = 24000
    """Hz, 8000 to 48000 and a whole number of samples per 10 ms (the agent's frame)."""
    server_turn_detection: bool = True
    """The server detects the end of the user's turn; else generate_reply commits first."""
    replies_to_turns: bool = True
    """A committed user turn is answered without a response request from the agent."""
    server_interrupts: bool = False
    """The server decides barge-ins (Gemini's ``interrupted``) instead of speech_started."""
    holds_playout: bool = False
    """The server keeps generating while the user talks, so a held playout can resume
    (OpenAI with ``interrupt_response`` off; Gemini with ``NO_INTERRUPTION``). Where it
    does not, the server has cut its response already: only what was received can resume."""
    speech_padding_ms: int = Field(default=0, ge=0)
    """A reported speech start lies this far before the speech itself (OpenAI server VAD's
    ``prefix_padding_ms``: ``audio_start_ms`` includes it)."""
    speech_stop_delay_ms: int = Field(default=0, ge=0)
    """A reported speech stop comes this long after the speech ended (server VAD's
    ``silence_duration_ms``: ``audio_end_ms`` includes it). A hold waits it out before
    it confirms a barge-in by duration, and measures the speech without it."""

    @field_validator("input_sample_rate", "output_sample_rate")
    @classmethod
    def _rate(cls, rate: int) -> int:
        # Checked here, not at start: a rate of 0 used to fail there as "range() arg 3
        # must not be zero", and 22050 Hz would split 10 ms frames mid-sample.
        if not (MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE and rate % 100 == 0):
            raise ValueError(
                f"{rate} Hz: must be {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz and a multiple "
                "of 100 (whole samples in a 10 ms frame)"
            )
        return rate


class RealtimeSession(Protocol):
    """One live conversation with a provider."""

    @property
    def capabilities(self) -> Capabilities: ...

    async def connect(self) -> None:
        """Open the socket and configure it; emit SessionReady when audio is accepted.

        The session reconnects by itself on a drop, emitting SessionLost then SessionReady.
        """

    def push_audio(self, pcm: bytes) -> None:
        """Append PCM16 mono at ``input_sample_rate`` (the agent sends 100 ms chunks)."""

    def commit_audio(self) -> None: ...

    def clear_audio(self) -> None: ...

    def start_user_turn(self) -> None:
        """The user starts a turn the agent delimits (push-to-talk): drop the input the
        provider holds so far, so the turn is only what is pushed from now on (OpenAI
        ``input_audio_buffer.clear``; Gemini ``activityStart``, which also stops the model).
        Raises ``RuntimeError`` where the provider's settings refuse manual turns."""

    def commit_user_turn(self) -> None:
        """End the turn: what was pushed since ``start_user_turn`` becomes the user's message
        (OpenAI ``input_audio_buffer.commit``; Gemini ``activityEnd``). The agent then asks
        for the answer with ``create_response``; a provider that answers a closed turn by
        itself (Gemini) sends nothing for that one request."""

    def clear_user_turn(self) -> None:
        """Discard the turn: nothing pushed since ``start_user_turn`` reaches the model, and
        no answer comes (OpenAI ``input_audio_buffer.clear``; Gemini: the turn's audio was
        held back and is dropped, see the adapter)."""

    def create_response(self, instructions: str | None = None) -> None:
        """Ask for a response; ``instructions`` guide this one only (OpenAI
        ``response.instructions``; Gemini: a user-role text turn, its only way to say it)."""

    def cancel_response(self) -> None: ...

    def truncate(self, item_id: str, content_index: int, audio_end_ms: int) -> None: ...

    def delete_item(self, item_id: str) -> None: ...

    def recover_from_text_response(self, item_id: str) -> None:
        """Drop a text-only answer and nudge the model back to audio."""

    def send_tool_outputs(self, outputs: Sequence[ToolOutput]) -> None: ...

    def reconnect(self) -> None:
        """Drop the current connection and connect anew, counted as a failed attempt
        (a connected server that never became ready); nothing if none is open."""

    def update_chat_ctx(self, ctx: ChatContext) -> None:
        """Take ``ctx`` as the conversation: a session opened or reconnected from now on
        starts from it. Items already on a live server are left as they are (OpenAI and
        Gemini adapters today): an edit reaches the model on the next connection."""

    async def aclose(self) -> None: ...


@runtime_checkable
class RealtimeProvider(Protocol):
    """A factory of sessions with fixed capabilities (an OpenAI model, a Gemini model...)."""

    @property
    def capabilities(self) -> Capabilities: ...

    def session(
        self,
        *,
        chat_ctx: ChatContext,
        tools: Sequence[ToolSchema],
        on_event: Callable[[ProviderEvent], None],
    ) -> RealtimeSession: ...


class AudioOutput(Protocol):
    """Where the agent's voice goes: a published track, or LocalRoom's speaker."""

    @property
    def sample_rate(self) -> int: ...

    async def write(self, pcm: bytes) -> None:
        """Queue PCM16 mono (whole 10 ms frames, up to 100 ms); waits while the output's
        small queue has no room for it. Count it as queued before waiting, as
        ``rtc.AudioSource`` does: the heard position is written minus queued."""

    def clear(self) -> None:
        """Drop everything queued: playout stops within the frame now playing."""

    @property
    def queued_samples(self) -> int:
        """Samples written but not heard yet (exact where the output knows it)."""

    async def wait_for_playout(self) -> None:
        """Return once everything written has been heard."""


class TranscriptSegment(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    participant: str
    segment_id: str
    text: str
    final: bool


class AgentTranscription(Protocol):
    """Publishes the agent's words as they become audible (a room link may offer one as
    ``agent_transcription``). Every call is synchronous: the runtime calls it from playout."""

    @property
    def item_id(self) -> str | None: ...

    def start(self, item_id: str) -> None: ...

    def push_text(self, delta: str) -> None: ...

    def heard(self, samples: int, sample_rate: int) -> None: ...

    def interrupt(self, heard_text: str | None) -> None: ...

    def finish(self) -> None: ...


class RoomLink(Protocol):
    """The agent's link to one participant of a room."""

    @property
    def participant(self) -> str: ...

    @property
    def output(self) -> AudioOutput: ...

    def audio_frames(
        self, sample_rate: int | None = None, frame_ms: int | None = None
    ) -> AsyncIterator[rtc.AudioFrame]:
        """The linked participant's microphone. Both arguments are hints: ``sample_rate``
        is the provider's input rate, ``frame_ms`` the length the agent sends audio in. A
        room that resamples and frames natively delivers at them (one frame per chunk
        the agent sends, not ten); the agent resamples and re-chunks whatever arrives."""

    async def set_attributes(self, attributes: dict[str, str]) -> None: ...

    async def publish_transcription(self, segment: TranscriptSegment) -> None: ...

    async def aclose(self) -> None: ...


class RoomPort(Protocol):
    async def link(
        self, participant: str | None, *, output_sample_rate: int
    ) -> RoomLink: ...
