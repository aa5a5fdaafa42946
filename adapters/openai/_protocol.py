"""OpenAI Realtime API wire protocol: shared building blocks, parse and dump.

The API exists in two dialects, and a connection speaks exactly one:

* ``"ga"`` (the default): the generally available API, ``openai.types.realtime``.
  Session config is nested (``session.audio.input.format``) and output events are
  named ``response.output_audio.*`` / ``response.output_text.*``.
* ``"beta"``: the preview API still served by Azure OpenAI and older deployments,
  ``openai.types.beta.realtime``. Session config is flat
  (``input_audio_format: "pcm16"``) and output events are ``response.audio.*`` /
  ``response.text.*``.

Layout: this module holds the base classes, the events whose wire shape is the
same in both dialects and the two entry points; ``_ga`` and ``_beta`` hold the
dialect-specific models and the discriminated unions (``GAServerEvent``,
``GAClientEvent``, ``BetaServerEvent``, ``BetaClientEvent``).

    parse_server_event(frame, "ga")  -> GAServerEvent | UnknownServerEvent
    dump_client_event(event)         -> str, one JSON text frame
"""

from __future__ import annotations

import binascii
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Final, Literal, Self, Union, get_args, overload

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    SerializerFunctionWrapHandler,
    Tag,
    ValidationError,
    ValidationInfo,
    model_serializer,
    model_validator,
)

if TYPE_CHECKING:
    from ._beta import BetaClientEvent, BetaServerEvent
    from ._ga import GAClientEvent, GAServerEvent

__all__ = [
    "CachedTokenDetails", "ClientEventModel", "ClientModel", "ConversationCreated", "ConversationInfo",
    "ConversationItemDelete", "ConversationItemDeleted",
    "ConversationItemInputAudioTranscriptionCompleted", "ConversationItemInputAudioTranscriptionDelta",
    "ConversationItemInputAudioTranscriptionFailed", "ConversationItemRetrieve",
    "ConversationItemTruncate", "ConversationItemTruncated", "Dialect", "ErrorDetail", "ErrorEvent",
    "InputAudioBufferAppend", "InputAudioBufferClear", "InputAudioBufferCleared",
    "InputAudioBufferCommit", "InputAudioBufferCommitted", "InputAudioBufferSpeechStarted",
    "InputAudioBufferSpeechStopped", "InputTokenDetails", "LogProb", "OutputAudioBufferClear",
    "OutputAudioBufferCleared", "OutputAudioBufferStarted", "OutputAudioBufferStopped",
    "OutputTokenDetails", "ProtocolError", "RateLimit", "RateLimitsUpdated", "ResponseCancel",
    "ResponseContentPart", "ResponseContentPartAdded", "ResponseContentPartDone",
    "ResponseFunctionCallArgumentsDelta", "ResponseFunctionCallArgumentsDone", "ResponseStatusDetails",
    "ResponseStatusError", "ResponseUsage", "ServerEventModel", "ServerModel", "TranscriptionLanguage",
    "TranscriptionTokenDetails", "TranscriptionUsageDuration", "TranscriptionUsageTokens",
    "UnknownServerEvent", "Unrecognized", "decode_audio", "dump_client_event", "encode_audio",
    "parse_server_event", "server_event_types",
]  # fmt: skip

Dialect = Literal["ga", "beta"]


class ProtocolError(ValueError):
    """A server frame is not a valid Realtime API event.

    Raised for frames that are not JSON objects, lack a string ``type``, or are of
    a known type with fields of the wrong shape; also for undecodable base64 audio.
    A ``ValueError`` so generic bad-input handlers still catch it.
    """

    def __init__(self, message: str, *, event_type: str | None = None) -> None:
        super().__init__(message)
        self.event_type = event_type


# Validation context under which ClientModel shapes accept fields and type tags
# they do not model. Only parse_server_event passes it.
_LENIENT_KEY: Final = "turnstile.openai.lenient"
_LENIENT: Final[Mapping[str, bool]] = MappingProxyType({_LENIENT_KEY: True})


def _lenient(info: ValidationInfo) -> bool:
    ctx = info.context
    return isinstance(ctx, Mapping) and bool(ctx.get(_LENIENT_KEY))


class ServerModel(BaseModel):
    """Base for shapes only the server sends.

    ``extra="allow"``: OpenAI adds fields without notice; a new field must never
    break a live call, and keeping it (in ``model_extra``) lets callers read it
    before we model it.
    """

    model_config = ConfigDict(extra="allow")


class ClientModel(BaseModel):
    """Base for shapes the client sends: client events, session config, items.

    Strict when we build them: an unknown keyword fails at construction, because
    a typo would otherwise reach the server and come back, asynchronously, as an
    "unknown parameter" error mid-call. The same shapes also come back inside
    server events (``session.updated`` echoes the session, ``conversation.item.added``
    carries an item); there the server may add fields, so under the parse
    context extras are kept instead. pydantic's ``extra`` is per class, not per
    call, hence ``extra="allow"`` plus a context-aware check.

    Serialises to the exact wire form: fields left at ``None`` are omitted, except
    those named in ``_nullable`` that were explicitly set to ``None``; for those
    the API gives ``null`` a meaning ("turn_detection": null turns VAD off) that
    differs from absence (keep the current setting).
    """

    model_config = ConfigDict(extra="allow")
    _nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _reject_unknown_fields(self, info: ValidationInfo) -> Self:
        extra = self.__pydantic_extra__
        if extra and not _lenient(info):
            raise ValueError(f"unknown field(s) for {type(self).__name__}: {', '.join(sorted(extra))}")
        return self

    @model_serializer(mode="wrap")
    def _wire_form(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        out = {k: v for k, v in data.items() if v is not None}
        for name in self._nullable:
            # Re-added even if the caller dumped with exclude_none=True.
            if name in self.model_fields_set and getattr(self, name) is None:
                out[name] = None
        tag = self.__dict__.get("type")
        if isinstance(tag, str):
            # The type tag leads (readable logs) and is never left out, even by a
            # dump with exclude_unset / exclude_defaults: without it the server
            # cannot tell what the object is.
            out = {"type": tag, **out}
        return out


class Unrecognized(ClientModel):
    """An object inside a server event whose ``type`` tag no model here covers.

    Stands in for, say, a conversation item type added to the API after this
    module was written, so the rest of the event still parses. Only the server
    parse produces it: built by hand it is an error, so a mistyped tag in client
    code fails at construction. Its fields are in ``model_extra``.
    """

    type: str | None = None

    @model_validator(mode="after")
    def _reject_unknown_fields(self, info: ValidationInfo) -> Self:  # overrides ClientModel's
        if not _lenient(info):
            raise ValueError(f"unsupported type tag {self.type!r}")
        return self


def _field(obj: Any, name: str) -> Any:
    # Works on raw dicts and model instances (what a Discriminator sees) and on
    # model classes (to read the constant tag a member declares).
    if isinstance(obj, dict):
        return obj.get(name)
    if isinstance(obj, type) and issubclass(obj, BaseModel):
        info = obj.model_fields.get(name)
        return None if info is None else info.default
    return getattr(obj, name, None)


def type_tag(obj: Any) -> Any:
    return _field(obj, "type")


def item_tag(obj: Any) -> Any:
    # Messages share type "message"; their content rules depend on the role.
    kind = _field(obj, "type")
    return f"message/{_field(obj, 'role')}" if kind == "message" else kind


def open_union(*models: type[BaseModel], tag: Callable[[Any], Any] = type_tag) -> Any:
    """A union discriminated by ``tag``, with ``Unrecognized`` for unknown tags.

    A plain discriminated union rejects an unknown tag, which would turn one new
    item or tool type into a ProtocolError for the whole event carrying it.
    Dispatching on the tag also keeps validation to one member, not a trial of all.
    """
    by_tag = {tag(m): m for m in models}
    if None in by_tag or len(by_tag) != len(models):
        raise TypeError(f"members need distinct constant tags: {models}")

    def pick(value: Any) -> str:
        found = tag(value)
        return found if found in by_tag else "*"

    choices = tuple(Annotated[m, Tag(t)] for t, m in by_tag.items())
    return Annotated[Union[(*choices, Annotated[Unrecognized, Tag("*")])], Discriminator(pick)]


def decode_audio(b64: str) -> bytes:
    """Decode a base64 audio payload (``delta``, ``audio``) to raw bytes.

    Strict: ``base64.b64decode`` silently skips bad characters, which would
    corrupt audio instead of reporting the broken frame.
    """
    try:
        return binascii.a2b_base64(b64, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(f"invalid base64 audio payload: {exc}") from exc


def encode_audio(pcm: bytes) -> str:
    """Encode raw audio bytes for ``input_audio_buffer.append`` and item content."""
    return binascii.b2a_base64(pcm, newline=False).decode("ascii")


# ---------------------------------------------------------------- client events
# Events both dialects define identically. Envelope: {"type": ..., "event_id"?}.


class ClientEventModel(ClientModel):
    # Optional, client-chosen; the server echoes it in error.event_id, which is how
    # an error event is tied back to the client event that caused it.
    event_id: str | None = None


class InputAudioBufferAppend(ClientEventModel):
    type: Literal["input_audio_buffer.append"] = "input_audio_buffer.append"
    audio: str  # base64 of audio in the session's input format

    @classmethod
    def from_pcm(cls, pcm: bytes, *, event_id: str | None = None) -> Self:
        return cls(audio=encode_audio(pcm), event_id=event_id)


class InputAudioBufferCommit(ClientEventModel):
    type: Literal["input_audio_buffer.commit"] = "input_audio_buffer.commit"


class InputAudioBufferClear(ClientEventModel):
    type: Literal["input_audio_buffer.clear"] = "input_audio_buffer.clear"


class ConversationItemTruncate(ClientEventModel):
    type: Literal["conversation.item.truncate"] = "conversation.item.truncate"
    item_id: str
    content_index: int
    audio_end_ms: int


class ConversationItemDelete(ClientEventModel):
    type: Literal["conversation.item.delete"] = "conversation.item.delete"
    item_id: str


class ConversationItemRetrieve(ClientEventModel):
    type: Literal["conversation.item.retrieve"] = "conversation.item.retrieve"
    item_id: str


class ResponseCancel(ClientEventModel):
    type: Literal["response.cancel"] = "response.cancel"
    response_id: str | None = None  # None: the response in progress


class OutputAudioBufferClear(ClientEventModel):
    # WebRTC/SIP only: over a websocket the client owns playback.
    type: Literal["output_audio_buffer.clear"] = "output_audio_buffer.clear"


# ----------------------------------------------------------- server data shapes


class ServerEventModel(ServerModel):
    # Every documented event has one, but nothing here depends on it, so its
    # absence (the GA dtmf event, some Azure builds) must not reject the event.
    event_id: str | None = None


class ResponseItemEventBase(ServerEventModel):
    response_id: str
    item_id: str
    output_index: int


class ResponseContentEventBase(ResponseItemEventBase):
    content_index: int


class ErrorDetail(ServerModel):
    # All optional: this shape is also used for transcription failures, where
    # the API documents every field as optional.
    type: str | None = None
    code: str | None = None
    message: str | None = None
    param: str | None = None
    event_id: str | None = None  # the client event_id that caused the error


class LogProb(ServerModel):
    token: str
    logprob: float
    bytes: list[int]


class TranscriptionLanguage(ServerModel):
    code: str


class TranscriptionTokenDetails(ServerModel):
    text_tokens: int | None = None
    audio_tokens: int | None = None


class TranscriptionUsageTokens(ServerModel):
    type: Literal["tokens"] = "tokens"
    input_tokens: int
    output_tokens: int
    total_tokens: int
    input_token_details: TranscriptionTokenDetails | None = None


class TranscriptionUsageDuration(ServerModel):
    type: Literal["duration"] = "duration"  # whisper-1 bills by audio length
    seconds: float


class CachedTokenDetails(ServerModel):
    text_tokens: int | None = None
    audio_tokens: int | None = None
    image_tokens: int | None = None


class InputTokenDetails(ServerModel):
    cached_tokens: int | None = None
    text_tokens: int | None = None
    audio_tokens: int | None = None
    image_tokens: int | None = None
    cached_tokens_details: CachedTokenDetails | None = None


class OutputTokenDetails(ServerModel):
    text_tokens: int | None = None
    audio_tokens: int | None = None


class ResponseUsage(ServerModel):
    total_tokens: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    input_token_details: InputTokenDetails | None = None
    output_token_details: OutputTokenDetails | None = None


class ResponseStatusError(ServerModel):
    type: str | None = None
    code: str | None = None
    message: str | None = None


class ResponseStatusDetails(ServerModel):
    # Plain str, not Literal: a new reason must not make response.done unparseable.
    type: str | None = None  # completed | cancelled | incomplete | failed
    reason: str | None = None  # turn_detected | client_cancelled | max_output_tokens | content_filter
    error: ResponseStatusError | None = None


class RateLimit(ServerModel):
    name: str | None = None  # requests | tokens
    limit: int | None = None
    remaining: int | None = None
    reset_seconds: float | None = None


class ConversationInfo(ServerModel):
    id: str | None = None
    object: str | None = None


class ResponseContentPart(ServerModel):
    # str, not Literal: the SDK documents "text" | "audio" here even for GA, whose
    # items name the same parts "output_text" | "output_audio". Accept either.
    type: str | None = None
    text: str | None = None
    audio: str | None = None
    transcript: str | None = None


# ---------------------------------------------------------------- server events


class ErrorEvent(ServerEventModel):
    # Not named "Error" (the mirror of its type string): too generic to export.
    type: Literal["error"] = "error"
    error: ErrorDetail


class ConversationCreated(ServerEventModel):
    type: Literal["conversation.created"] = "conversation.created"
    conversation: ConversationInfo


class ConversationItemDeleted(ServerEventModel):
    type: Literal["conversation.item.deleted"] = "conversation.item.deleted"
    item_id: str


class ConversationItemTruncated(ServerEventModel):
    type: Literal["conversation.item.truncated"] = "conversation.item.truncated"
    item_id: str
    content_index: int
    audio_end_ms: int


class ConversationItemInputAudioTranscriptionCompleted(ServerEventModel):
    type: Literal["conversation.item.input_audio_transcription.completed"] = (
        "conversation.item.input_audio_transcription.completed"
    )
    item_id: str
    content_index: int
    transcript: str
    usage: TranscriptionUsageTokens | TranscriptionUsageDuration | None = None
    logprobs: list[LogProb] | None = None
    languages: list[TranscriptionLanguage] | None = None  # GA only


class ConversationItemInputAudioTranscriptionDelta(ServerEventModel):
    type: Literal["conversation.item.input_audio_transcription.delta"] = (
        "conversation.item.input_audio_transcription.delta"
    )
    item_id: str
    content_index: int | None = None
    delta: str | None = None
    logprobs: list[LogProb] | None = None


class ConversationItemInputAudioTranscriptionFailed(ServerEventModel):
    type: Literal["conversation.item.input_audio_transcription.failed"] = (
        "conversation.item.input_audio_transcription.failed"
    )
    item_id: str
    content_index: int
    error: ErrorDetail


class InputAudioBufferCommitted(ServerEventModel):
    type: Literal["input_audio_buffer.committed"] = "input_audio_buffer.committed"
    item_id: str
    previous_item_id: str | None = None


class InputAudioBufferCleared(ServerEventModel):
    type: Literal["input_audio_buffer.cleared"] = "input_audio_buffer.cleared"


class InputAudioBufferSpeechStarted(ServerEventModel):
    type: Literal["input_audio_buffer.speech_started"] = "input_audio_buffer.speech_started"
    item_id: str
    audio_start_ms: int


class InputAudioBufferSpeechStopped(ServerEventModel):
    type: Literal["input_audio_buffer.speech_stopped"] = "input_audio_buffer.speech_stopped"
    item_id: str
    audio_end_ms: int


# WebRTC/SIP only (the server plays the audio), but harmless to parse anywhere.
class OutputAudioBufferStarted(ServerEventModel):
    type: Literal["output_audio_buffer.started"] = "output_audio_buffer.started"
    response_id: str


class OutputAudioBufferStopped(ServerEventModel):
    type: Literal["output_audio_buffer.stopped"] = "output_audio_buffer.stopped"
    response_id: str


class OutputAudioBufferCleared(ServerEventModel):
    type: Literal["output_audio_buffer.cleared"] = "output_audio_buffer.cleared"
    response_id: str


class RateLimitsUpdated(ServerEventModel):
    type: Literal["rate_limits.updated"] = "rate_limits.updated"
    rate_limits: list[RateLimit]


class ResponseContentPartAdded(ResponseContentEventBase):
    type: Literal["response.content_part.added"] = "response.content_part.added"
    part: ResponseContentPart


class ResponseContentPartDone(ResponseContentEventBase):
    type: Literal["response.content_part.done"] = "response.content_part.done"
    part: ResponseContentPart


class ResponseFunctionCallArgumentsDelta(ResponseItemEventBase):
    type: Literal["response.function_call_arguments.delta"] = "response.function_call_arguments.delta"
    call_id: str
    delta: str


class ResponseFunctionCallArgumentsDone(ResponseItemEventBase):
    type: Literal["response.function_call_arguments.done"] = "response.function_call_arguments.done"
    call_id: str
    arguments: str  # JSON text, as the model produced it; may be invalid JSON
    name: str | None = None  # GA only


# ----------------------------------------------------------------- entry points


@dataclass(frozen=True, slots=True)
class UnknownServerEvent:
    """A well-formed event whose ``type`` is not modelled for the dialect.

    Returned, never raised: the API adds event types over time and a session
    must survive them. ``raw`` is the decoded JSON object.
    """

    type: str
    raw: dict[str, Any]


_TABLES: dict[str, Mapping[str, type[ServerModel]]] = {}


def server_event_types(dialect: Dialect = "ga") -> Mapping[str, type[ServerModel]]:
    """The event ``type`` string -> model class table ``parse_server_event`` uses."""
    table = _TABLES.get(dialect)
    if table is not None:
        return table
    # Imported here, not at the top: _ga and _beta build on this module.
    if dialect == "ga":
        from ._ga import GAServerEvent as union
    elif dialect == "beta":
        from ._beta import BetaServerEvent as union
    else:
        raise ValueError(f"unknown dialect {dialect!r}; expected 'ga' or 'beta'")
    members: tuple[type[ServerModel], ...] = get_args(get_args(union)[0])
    by_type = {m.model_fields["type"].default: m for m in members}
    if len(by_type) != len(members):
        raise TypeError(f"duplicate event type in the {dialect} server union")
    table = _TABLES[dialect] = MappingProxyType(by_type)
    return table


# Servers put "type" first. When a frame does, its model can validate the raw
# text with pydantic's own JSON parser, skipping a json.loads pass that costs
# more than the validation itself for a 10 kB audio delta. Anchored at the first
# key, so a nested "type" never matches; any other frame takes the slow path.
_LEADING_TYPE: Final = re.compile(r'\s*\{\s*"type"\s*:\s*"([^"\\]*)"')
_LEADING_TYPE_BYTES: Final = re.compile(rb'\s*\{\s*"type"\s*:\s*"([^"\\]*)"')


def _validate(model: type[ServerModel], data: str | bytes | dict[str, Any], event_type: str) -> ServerModel:
    try:
        if isinstance(data, dict):
            return model.model_validate(data, context=_LENIENT)
        return model.model_validate_json(data, context=_LENIENT)
    except ValidationError as exc:
        raise ProtocolError(f"invalid {event_type!r} event: {exc}", event_type=event_type) from exc


@overload
def parse_server_event(
    raw: str | bytes, dialect: Literal["ga"] = ...
) -> GAServerEvent | UnknownServerEvent: ...
@overload
def parse_server_event(
    raw: str | bytes, dialect: Literal["beta"]
) -> BetaServerEvent | UnknownServerEvent: ...
def parse_server_event(raw: str | bytes, dialect: Dialect = "ga") -> ServerModel | UnknownServerEvent:
    """Parse one server frame.

    Unknown types come back as ``UnknownServerEvent``; anything else that is not
    a valid event raises ``ProtocolError``. Dispatches on ``type`` through a dict,
    so only one model validates each frame (audio deltas arrive ~50 per second).
    """
    table = server_event_types(dialect)
    if isinstance(raw, bytes):
        lead_b = _LEADING_TYPE_BYTES.match(raw)
        event_type = lead_b.group(1).decode("utf-8", "replace") if lead_b else None
    else:
        lead = _LEADING_TYPE.match(raw)
        event_type = lead.group(1) if lead else None
    model = table.get(event_type) if event_type is not None else None
    if model is not None and event_type is not None:
        return _validate(model, raw, event_type)
    # Slow path: "type" is not the first key, or it is not a type we model.
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise ProtocolError(f"server frame is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ProtocolError(f"server frame is a JSON {type(data).__name__}, expected an object")
    event_type = data.get("type")
    if not isinstance(event_type, str):
        raise ProtocolError("server frame has no string 'type' field")
    model = table.get(event_type)
    if model is None:
        return UnknownServerEvent(type=event_type, raw=data)
    return _validate(model, data, event_type)


def dump_client_event(event: GAClientEvent | BetaClientEvent) -> str:
    """Serialise one client event to the JSON text of a websocket frame."""
    if not isinstance(event, ClientEventModel):
        raise TypeError(f"not a client event: {type(event).__name__}")
    return event.model_dump_json()
