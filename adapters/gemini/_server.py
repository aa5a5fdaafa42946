"""Models of the messages the Gemini Live API server sends.

On the wire every server message is a JSON object with exactly one "message
type" key (``setupComplete``, ``serverContent``, ...) plus, optionally,
``usageMetadata`` beside it. The ``*Message`` classes model that envelope so
a parsed message dumps back to the exact wire form (handy for fake servers);
their ``WIRE_KEY`` names the key they are dispatched on.

Everything here is lenient about *additional* fields (see ``ServerModel``) but
strict about the *types* of fields we model: a ``"turnComplete": "yes"`` is a
protocol violation, not a truthy value. Proto3-JSON omits zero values, so
absent booleans, counters and lists default to False / 0 / [].

``voiceActivity`` (what the service's own activity detection heard) is not one of
those message types: it rides beside one (``{"serverContent": {}, "voiceActivity":
{...}}`` in captures of live sessions) or stands alone, as ``usageMetadata`` does. Its wire
form is ``{"type": "ACTIVITY_START" | "ACTIVITY_END", "audioOffset": "0.840s"}``: the
SDKs read ``type`` into their ``voice_activity_type`` (googleapis/python-genai
google/genai/_live_converters.py ``_VoiceActivity_from_mldev`` / ``_from_vertex``, added
in b7b1c2e8 "feat: voice activity support", ``audioOffset`` in fb785e40; googleapis/js-genai
src/converters/_live_converters.ts ``voiceActivityFromMldev``). No setup field asks for
it (``explicitVadSignal`` is Vertex-only and about signals the client sends; the server's
``voiceActivityDetectionSignal`` is "allowlisted only" and not modelled here). The
ai.google.dev reference did not list it in BidiGenerateContentServerMessage as of
2026-09 (python-genai issue 2981). Which models send it is in ``_mapping``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, ClassVar, TypeAlias

from pydantic import AliasChoices, Field, StrictBool, field_validator

from ._wire import ServerModel, decode_base64

__all__ = [
    "FunctionCall",
    "GoAway",
    "GoAwayMessage",
    "ModalityTokenCount",
    "ReceivedBlob",
    "ReceivedContent",
    "ReceivedPart",
    "ServerContent",
    "ServerContentMessage",
    "ServerMessage",
    "SessionResumptionUpdate",
    "SessionResumptionUpdateMessage",
    "SetupComplete",
    "SetupCompleteMessage",
    "ToolCall",
    "ToolCallCancellation",
    "ToolCallCancellationMessage",
    "ToolCallMessage",
    "Transcription",
    "UnknownServerMessage",
    "UsageMetadata",
    "UsageMetadataMessage",
    "VoiceActivity",
    "VoiceActivityMessage",
]


# --- content -------------------------------------------------------------


class ReceivedBlob(ServerModel):
    """Inline media from the server (typically 24 kHz PCM audio).

    ``data`` stays base64 text: decoding costs a copy, and consumers that
    forward audio elsewhere may not need the bytes at all.
    """

    mime_type: str | None = None
    data: str = ""

    def decode(self) -> bytes:
        """The raw bytes; raises ``ProtocolError`` if ``data`` is not base64."""
        return decode_base64(self.data)


class ReceivedPart(ServerModel):
    """One part of a model turn. Other part kinds land in ``model_extra``."""

    text: str | None = None
    inline_data: ReceivedBlob | None = None
    # True when `text` is the model's reasoning rather than its answer.
    thought: StrictBool = False


class ReceivedContent(ServerModel):
    role: str | None = None
    parts: list[ReceivedPart] = Field(default_factory=list)


class Transcription(ServerModel):
    text: str = ""
    # Set on the last fragment of a transcribed utterance (when sent at all).
    finished: StrictBool = False


class ServerContent(ServerModel):
    model_turn: ReceivedContent | None = None
    # The model will say nothing more this turn; it waits for the user.
    turn_complete: StrictBool = False
    # Generation finished, but buffered audio may still be playing out.
    generation_complete: StrictBool = False
    # The user barged in: drop any queued model audio now.
    interrupted: StrictBool = False
    input_transcription: Transcription | None = None
    output_transcription: Transcription | None = None
    # Opaque to us; passed through for callers that render citations.
    grounding_metadata: dict[str, Any] | None = None
    # An enum, kept as str so new reasons do not break parsing.
    turn_complete_reason: str | None = None
    waiting_for_input: StrictBool = False

    def iter_audio(self) -> Iterator[bytes]:
        """Decoded bytes of each audio part of ``model_turn``, in order."""
        if self.model_turn is None:
            return
        for part in self.model_turn.parts:
            blob = part.inline_data
            if blob is not None and (blob.mime_type or "").startswith("audio/"):
                yield blob.decode()


class SetupComplete(ServerModel):
    session_id: str | None = None


class FunctionCall(ServerModel):
    # Echo `id` in the FunctionResponse; the Gemini API pairs them by it.
    id: str | None = None
    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class ToolCall(ServerModel):
    function_calls: list[FunctionCall] = Field(default_factory=list)


class ToolCallCancellation(ServerModel):
    """Calls the model no longer wants answered (e.g. the user interrupted)."""

    ids: list[str] = Field(default_factory=list)


# proto3-JSON google.protobuf.Duration: seconds with up to 9 fractional
# digits, suffixed "s" ("10s", "1.500s").
_DURATION_RE = re.compile(r"-?\d+(?:\.\d{1,9})?s")


def _duration(value: str | None) -> str | None:
    if value is not None and not _DURATION_RE.fullmatch(value):
        raise ValueError(f"not a protobuf Duration: {value!r}")
    return value


def _seconds(value: str | None) -> float | None:
    return None if value is None else float(value[:-1])


class GoAway(ServerModel):
    """The server will close this connection soon; resume on a new one."""

    time_left: str | None = None

    _is_duration = field_validator("time_left")(_duration)

    @property
    def time_left_seconds(self) -> float | None:
        return _seconds(self.time_left)


class VoiceActivity(ServerModel):
    """The service's activity detection heard the user start or stop (``type``)."""

    # The wire name is ``type`` (the SDKs rename it voice_activity_type). An enum kept as
    # str: TYPE_UNSPECIFIED and values added later must not break parsing.
    type: str | None = Field(default=None, validation_alias=AliasChoices("type", "voiceActivityType"))
    # When it was detected, in the audio stream's own time (from the first audio sent).
    audio_offset: str | None = None

    _is_duration = field_validator("audio_offset")(_duration)

    @property
    def audio_offset_ms(self) -> int | None:
        seconds = _seconds(self.audio_offset)
        return None if seconds is None else round(seconds * 1000)


class SessionResumptionUpdate(ServerModel):
    new_handle: str | None = None
    # False while the session is at a point it cannot be resumed from (e.g.
    # mid tool call); the handle must not be used then.
    resumable: StrictBool = False
    # int64, which proto3-JSON may send as a decimal string; lax int parsing
    # accepts both "12" and 12.
    last_consumed_client_message_index: int | None = None


class ModalityTokenCount(ServerModel):
    modality: str | None = None  # enum ("AUDIO", "TEXT", ...), kept open
    token_count: int = 0


class UsageMetadata(ServerModel):
    prompt_token_count: int = 0
    cached_content_token_count: int = 0
    response_token_count: int = 0
    tool_use_prompt_token_count: int = 0
    thoughts_token_count: int = 0
    total_token_count: int = 0
    prompt_tokens_details: list[ModalityTokenCount] = Field(default_factory=list)
    cache_tokens_details: list[ModalityTokenCount] = Field(default_factory=list)
    response_tokens_details: list[ModalityTokenCount] = Field(default_factory=list)
    tool_use_prompt_tokens_details: list[ModalityTokenCount] = Field(default_factory=list)


# --- envelopes -------------------------------------------------------------


class _Envelope(ServerModel):
    WIRE_KEY: ClassVar[str]

    usage_metadata: UsageMetadata | None = None
    voice_activity: VoiceActivity | None = None


class SetupCompleteMessage(_Envelope):
    WIRE_KEY: ClassVar[str] = "setupComplete"
    setup_complete: SetupComplete


class ServerContentMessage(_Envelope):
    WIRE_KEY: ClassVar[str] = "serverContent"
    server_content: ServerContent


class ToolCallMessage(_Envelope):
    WIRE_KEY: ClassVar[str] = "toolCall"
    tool_call: ToolCall


class ToolCallCancellationMessage(_Envelope):
    WIRE_KEY: ClassVar[str] = "toolCallCancellation"
    tool_call_cancellation: ToolCallCancellation


class GoAwayMessage(_Envelope):
    WIRE_KEY: ClassVar[str] = "goAway"
    go_away: GoAway


class SessionResumptionUpdateMessage(_Envelope):
    WIRE_KEY: ClassVar[str] = "sessionResumptionUpdate"
    session_resumption_update: SessionResumptionUpdate


class UsageMetadataMessage(ServerModel):
    """A message carrying nothing but token accounting."""

    WIRE_KEY: ClassVar[str] = "usageMetadata"
    usage_metadata: UsageMetadata


class VoiceActivityMessage(ServerModel):
    """Voice activity beside no message type (alone, or with usage)."""

    WIRE_KEY: ClassVar[str] = "voiceActivity"
    voice_activity: VoiceActivity
    usage_metadata: UsageMetadata | None = None


class UnknownServerMessage(ServerModel):
    """A message type this module does not know (yet). Never an error:
    the API grows new message types, and a live call must survive them."""

    raw: dict[str, Any]


ServerMessage: TypeAlias = (
    SetupCompleteMessage
    | ServerContentMessage
    | ToolCallMessage
    | ToolCallCancellationMessage
    | GoAwayMessage
    | SessionResumptionUpdateMessage
    | UsageMetadataMessage
    | VoiceActivityMessage
    | UnknownServerMessage
)
