"""Provider-neutral events: what a provider session tells the agent.

A provider adapter parses its own wire protocol and hands the agent these models. They are
the only vocabulary the runtime understands, so OpenAI Realtime, Gemini Live and the
scripted provider all speak it. Control events become chart events; audio and transcript
deltas go straight to playout and never reach the chart.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AudioDelta",
    "FunctionCall",
    "InputAudioCommitted",
    "InputSpeechStarted",
    "InputSpeechStopped",
    "InputTranscriptionCompleted",
    "ProviderError",
    "ProviderEvent",
    "ResponseContentAdded",
    "ResponseContentDone",
    "ResponseCreated",
    "ResponseDone",
    "ServerInterrupted",
    "SessionLost",
    "SessionReady",
    "ToolCallsCancelled",
    "ToolCallsRequested",
    "TranscriptDelta",
    "Usage",
]


class _Event(BaseModel):
    # Frozen: an event is a fact that happened; handlers must not edit it for the next one.
    # defer_build (here and on every model of the core): validators are built on first
    # use, not at import, so importing turnstile.machine stays cheap; RealtimeAgent builds
    # them before a call (warm_models), so the first event of a call pays nothing.
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class SessionReady(_Event):
    """The session is configured and accepts audio (first connect or a reconnect)."""

    kind: Literal["session_ready"] = "session_ready"


class SessionLost(_Event):
    """The socket dropped. ``will_reconnect`` is false after the last retry, or when the
    server refused the session for good; ``code`` is then the server's own (Gemini's close
    code), the code of the one fatal error the agent reports."""

    kind: Literal["session_lost"] = "session_lost"
    reason: str = ""
    will_reconnect: bool = True
    code: str | None = None


class InputSpeechStarted(_Event):
    kind: Literal["input_speech_started"] = "input_speech_started"
    item_id: str | None = None
    audio_start_ms: int | None = None


class InputSpeechStopped(_Event):
    kind: Literal["input_speech_stopped"] = "input_speech_stopped"
    item_id: str | None = None
    audio_end_ms: int | None = None


class InputAudioCommitted(_Event):
    """The user's turn was committed to the conversation as an item."""

    kind: Literal["input_audio_committed"] = "input_audio_committed"
    item_id: str | None = None


class InputTranscriptionCompleted(_Event):
    kind: Literal["input_transcription_completed"] = "input_transcription_completed"
    item_id: str | None = None
    transcript: str


class ResponseCreated(_Event):
    kind: Literal["response_created"] = "response_created"
    response_id: str


Modality = Literal["audio", "text"]


class ResponseContentAdded(_Event):
    kind: Literal["response_content_added"] = "response_content_added"
    response_id: str
    item_id: str
    content_index: int = 0
    modality: Modality = "audio"


class AudioDelta(_Event):
    """PCM16 mono at the provider's output rate, already decoded from the wire."""

    kind: Literal["audio_delta"] = "audio_delta"
    response_id: str
    item_id: str
    content_index: int = 0
    data: bytes


class TranscriptDelta(_Event):
    """A piece of the agent's transcript (of its audio, or its text in a text response)."""

    kind: Literal["transcript_delta"] = "transcript_delta"
    response_id: str
    item_id: str
    content_index: int = 0
    delta: str


class ResponseContentDone(_Event):
    kind: Literal["response_content_done"] = "response_content_done"
    response_id: str
    item_id: str
    content_index: int = 0
    modality: Modality = "audio"
    text: str = ""


class FunctionCall(_Event):
    call_id: str
    name: str
    arguments: str = Field(default="{}", description="JSON text, as the model wrote it")
    item_id: str | None = None


class ToolCallsRequested(_Event):
    kind: Literal["tool_calls_requested"] = "tool_calls_requested"
    calls: tuple[FunctionCall, ...]
    response_id: str | None = None


class ToolCallsCancelled(_Event):
    kind: Literal["tool_calls_cancelled"] = "tool_calls_cancelled"
    call_ids: tuple[str, ...]


class Usage(_Event):
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    input_audio_tokens: int = 0
    input_text_tokens: int = 0
    output_audio_tokens: int = 0
    output_text_tokens: int = 0


ResponseStatus = Literal["completed", "cancelled", "failed", "incomplete", "in_progress"]


class ResponseDone(_Event):
    kind: Literal["response_done"] = "response_done"
    response_id: str
    status: ResponseStatus = "completed"
    usage: Usage | None = None
    error: str | None = None


class ServerInterrupted(_Event):
    """The server decided the user barged in (Gemini Live's ``serverContent.interrupted``)."""

    kind: Literal["server_interrupted"] = "server_interrupted"


class ProviderError(_Event):
    kind: Literal["provider_error"] = "provider_error"
    code: str = ""
    message: str
    recoverable: bool = True


ProviderEvent = (
    SessionReady
    | SessionLost
    | InputSpeechStarted
    | InputSpeechStopped
    | InputAudioCommitted
    | InputTranscriptionCompleted
    | ResponseCreated
    | ResponseContentAdded
    | AudioDelta
    | TranscriptDelta
    | ResponseContentDone
    | ToolCallsRequested
    | ToolCallsCancelled
    | ResponseDone
    | ServerInterrupted
    | ProviderError
)
