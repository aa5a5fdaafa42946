"""OpenAI Realtime API wire protocol: parse and dump entry points.

The API exists in two dialects, and a connection speaks exactly one:

* ``"ga"`` (the default): the generally available API, ``openai.types.realtime``.
  Session config is nested (``session.audio.input.format``) and output events are
  named ``response.output_audio.*`` / ``response.output_text.*``.
* ``"beta"``: the preview API still served by Azure OpenAI and older deployments,
  ``openai.types.beta.realtime``. Session config is flat
  (``input_audio_format: "pcm16"``) and output events are ``response.audio.*`` /
  ``response.text.*``.

Layout: this module holds the two entry points and re-exports the shared
building blocks, so callers import everything dialect-neutral from here.
``_base`` holds the base classes, envelopes, open unions, base64 audio codec and
``ProtocolError``; ``_common_events`` the events whose wire shape is the same in
both dialects and the data shapes they carry. ``_ga`` (with ``_ga_session``) and
``_beta`` hold the dialect-specific models and the discriminated unions
(``GAServerEvent``, ``GAClientEvent``, ``BetaServerEvent``, ``BetaClientEvent``).

    parse_server_event(frame, "ga")  -> GAServerEvent | UnknownServerEvent
    dump_client_event(event)         -> str, one JSON text frame
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal, get_args, overload

from pydantic import ValidationError

# Re-exported: the names below were defined here before the split, and
# dialect modules, the session and the tests import them from this module.
from ._base import _LENIENT as _LENIENT
from ._base import _LENIENT_KEY as _LENIENT_KEY
from ._base import ClientEventModel as ClientEventModel
from ._base import ClientModel as ClientModel
from ._base import ProtocolError as ProtocolError
from ._base import ResponseContentEventBase as ResponseContentEventBase
from ._base import ResponseItemEventBase as ResponseItemEventBase
from ._base import ServerEventModel as ServerEventModel
from ._base import ServerModel as ServerModel
from ._base import Unrecognized as Unrecognized
from ._base import _field as _field
from ._base import _lenient as _lenient
from ._base import decode_audio as decode_audio
from ._base import encode_audio as encode_audio
from ._base import item_tag as item_tag
from ._base import open_union as open_union
from ._base import type_tag as type_tag
from ._common_events import (
    CachedTokenDetails,
    ConversationCreated,
    ConversationInfo,
    ConversationItemDelete,
    ConversationItemDeleted,
    ConversationItemInputAudioTranscriptionCompleted,
    ConversationItemInputAudioTranscriptionDelta,
    ConversationItemInputAudioTranscriptionFailed,
    ConversationItemRetrieve,
    ConversationItemTruncate,
    ConversationItemTruncated,
    ErrorDetail,
    ErrorEvent,
    InputAudioBufferAppend,
    InputAudioBufferClear,
    InputAudioBufferCleared,
    InputAudioBufferCommit,
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    InputTokenDetails,
    LogProb,
    OutputAudioBufferClear,
    OutputAudioBufferCleared,
    OutputAudioBufferStarted,
    OutputAudioBufferStopped,
    OutputTokenDetails,
    RateLimit,
    RateLimitsUpdated,
    ResponseCancel,
    ResponseContentPart,
    ResponseContentPartAdded,
    ResponseContentPartDone,
    ResponseFunctionCallArgumentsDelta,
    ResponseFunctionCallArgumentsDone,
    ResponseStatusDetails,
    ResponseStatusError,
    ResponseUsage,
    TranscriptionLanguage,
    TranscriptionTokenDetails,
    TranscriptionUsageDuration,
    TranscriptionUsageTokens,
)

if TYPE_CHECKING:
    from ._beta import BetaServerEvent
    from ._ga import GAServerEvent

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


def dump_client_event(event: ClientEventModel) -> str:
    """Serialise one client event to the JSON text of a websocket frame."""
    if not isinstance(event, ClientEventModel):
        raise TypeError(f"not a client event: {type(event).__name__}")
    return event.model_dump_json()
