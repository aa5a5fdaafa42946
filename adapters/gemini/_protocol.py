"""Gemini Live API (BidiGenerateContent) wire protocol: parse and dump.

This is the one import point for the protocol models; the models themselves
live in ``_client`` (what we send) and ``_server`` (what we receive).

    parse_server_message(frame)   -> ServerMessage  (never raises on new types)
    dump_client_message(payload)  -> str            (JSON for one text frame)
"""

from __future__ import annotations

import json
from typing import Any, Final, cast

from pydantic import ValidationError

from ._client import (
    ActivityEnd,
    ActivityHandling,
    ActivityStart,
    AudioTranscriptionConfig,
    AutomaticActivityDetection,
    Blob,
    ClientContent,
    ClientMessage,
    CodeExecution,
    Content,
    ContextWindowCompressionConfig,
    EndSensitivity,
    FunctionDeclaration,
    FunctionResponse,
    GenerationConfig,
    GoogleSearch,
    Part,
    PrebuiltVoiceConfig,
    ProactivityConfig,
    RealtimeInput,
    RealtimeInputConfig,
    SessionResumptionConfig,
    Setup,
    SlidingWindow,
    SpeechConfig,
    StartSensitivity,
    ThinkingConfig,
    Tool,
    ToolResponse,
    TurnCoverage,
    VoiceConfig,
)
from ._server import (
    FunctionCall,
    GoAway,
    GoAwayMessage,
    ModalityTokenCount,
    ReceivedBlob,
    ReceivedContent,
    ReceivedPart,
    ServerContent,
    ServerContentMessage,
    ServerMessage,
    SessionResumptionUpdate,
    SessionResumptionUpdateMessage,
    SetupComplete,
    SetupCompleteMessage,
    ToolCall,
    ToolCallCancellation,
    ToolCallCancellationMessage,
    ToolCallMessage,
    Transcription,
    UnknownServerMessage,
    UsageMetadata,
    UsageMetadataMessage,
    VoiceActivity,
    VoiceActivityMessage,
    _Envelope,
)
from ._wire import ProtocolError, decode_base64, encode_base64

__all__ = [  # noqa: RUF022 - grouped by kind, sorted within each group
    # functions and errors
    "ProtocolError",
    "decode_base64",
    "dump_client_message",
    "encode_base64",
    "parse_server_message",
    # client messages
    "ActivityEnd",
    "ActivityHandling",
    "ActivityStart",
    "AudioTranscriptionConfig",
    "AutomaticActivityDetection",
    "Blob",
    "ClientContent",
    "ClientMessage",
    "CodeExecution",
    "Content",
    "ContextWindowCompressionConfig",
    "EndSensitivity",
    "FunctionDeclaration",
    "FunctionResponse",
    "GenerationConfig",
    "GoogleSearch",
    "Part",
    "PrebuiltVoiceConfig",
    "ProactivityConfig",
    "RealtimeInput",
    "RealtimeInputConfig",
    "SessionResumptionConfig",
    "Setup",
    "SlidingWindow",
    "SpeechConfig",
    "StartSensitivity",
    "ThinkingConfig",
    "Tool",
    "ToolResponse",
    "TurnCoverage",
    "VoiceConfig",
    # server messages
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

# The proto oneof of server message types. usageMetadata and voiceActivity are
# deliberately not here: they sit *beside* one of these, or stand alone.
_DISPATCH: Final[dict[str, type[_Envelope]]] = {
    cls.WIRE_KEY: cls
    for cls in (
        SetupCompleteMessage,
        ServerContentMessage,
        ToolCallMessage,
        ToolCallCancellationMessage,
        GoAwayMessage,
        SessionResumptionUpdateMessage,
    )
}

_CLIENT_TYPES: Final = (Setup, ClientContent, RealtimeInput, ToolResponse)


def parse_server_message(raw: str | bytes | bytearray) -> ServerMessage:
    """Parse one websocket frame from the Live API.

    The server sends JSON in *binary* frames, so UTF-8 ``bytes`` is the
    normal input; ``str`` is accepted for text frames and tests.

    Dispatches on the top-level key, so only the one matching model is
    validated (no trial-and-error over a union, which matters at ~50
    audio messages a second). Returns ``UnknownServerMessage`` for a message
    type we do not model. Raises ``ProtocolError`` for anything that is not
    a JSON object, for two message types in one object, and for known
    message types whose contents have the wrong types or shape.
    """
    try:
        data: Any = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, deep nesting
        raise ProtocolError(f"server frame is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ProtocolError(f"server frame is JSON {type(data).__name__}, expected an object")

    # Messages have one or two keys, so scanning them beats set operations.
    known = [key for key in data if key in _DISPATCH]
    model: type[_Envelope] | type[UsageMetadataMessage] | type[VoiceActivityMessage]
    if len(known) == 1:
        key = known[0]
        model = _DISPATCH[key]
    elif known:
        raise ProtocolError(f"server message has several message types: {known}")
    elif VoiceActivityMessage.WIRE_KEY in data:
        # Even beside a type we do not model (kept in model_extra): the user's speech
        # starting or stopping must not be lost to a field added next to it.
        key = VoiceActivityMessage.WIRE_KEY
        model = VoiceActivityMessage
    elif len(data) == 1 and UsageMetadataMessage.WIRE_KEY in data:
        key = UsageMetadataMessage.WIRE_KEY
        model = UsageMetadataMessage
    else:
        # Includes usageMetadata next to an unknown type: the unknown part is
        # what matters, and `raw` keeps the usage too.
        return UnknownServerMessage(raw=data)

    try:
        # Every _Envelope subclass is a ServerMessage member; mypy cannot see
        # that through the abstract base the dispatch table is typed with.
        return cast(ServerMessage, model.model_validate(data))
    except ValidationError as exc:
        raise ProtocolError(f"invalid {key!r} server message: {exc}") from exc


def dump_client_message(msg: ClientMessage) -> str:
    """JSON text of one client message, wrapped in its top-level key.

    Unset (None) fields are omitted: the API treats absent and default
    differently in places (e.g. sessionResumption {} vs no resumption).
    """
    if not isinstance(msg, _CLIENT_TYPES):
        raise TypeError(f"not a Live API client message: {type(msg).__name__}")
    # Splicing the key around pydantic's own JSON avoids a dict round trip.
    body = msg.model_dump_json(by_alias=True, exclude_none=True)
    return f'{{"{msg.WIRE_KEY}":{body}}}'
