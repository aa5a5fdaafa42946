"""The loopback server's side of the wire: parse client frames, build server frames.

``parse_client_event`` is the mirror of ``_protocol.parse_server_event``: it reads
a frame a client sent, strictly (an unknown field is an error, as on the real
server, which answers "Unknown parameter"), and raises ``ClientEventError``
carrying the ``error`` payload the server should send back.

Server frames are built as plain JSON dicts rather than through the models in
``_ga`` / ``_beta``: the real server sends fields those client-strict models do
not declare (``object``, ``expires_at``, explicit ``null``s), and a faithful
loopback must send them too. The tests validate every frame built here against
both our models and the official SDK's.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, Literal, TypeAlias, Union, cast, get_args, overload

from pydantic import ValidationError

from ._beta import BetaClientEvent
from ._ga import GAClientEvent
from ._protocol import ClientEventModel, Dialect

__all__ = [
    "ClientEvent", "ClientEventError", "Frame", "Names", "audio_formats", "client_event_types", "default_session",
    "error_frame", "merge_session", "names", "new_id", "parse_client_event", "session_setting",
    "turn_detection_defaults",
]  # fmt: skip

Frame = dict[str, Any]  # one server event, as JSON
ClientEvent: TypeAlias = Union[GAClientEvent, BetaClientEvent]  # noqa: UP007


def new_id(prefix: str) -> str:
    # The real API's ids look like "item_CGKx8Xc2PZ0a8dJ1eYm3t": a prefix and 21 base62 characters.
    return f"{prefix}_{uuid.uuid4().hex[:21]}"


class ClientEventError(ValueError):
    """A client frame the server rejects; the fields are those of the ``error`` event."""

    def __init__(
        self, message: str, *, code: str | None, param: str | None = None, event_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.event_id = event_id


def error_frame(
    message: str,
    *,
    code: str | None,
    type: str = "invalid_request_error",
    param: str | None = None,
    event_id: str | None = None,
) -> Frame:
    return {
        "type": "error",
        "error": {"type": type, "code": code, "message": message, "param": param, "event_id": event_id},
    }


_TABLES: dict[str, Mapping[str, type[ClientEventModel]]] = {}


def client_event_types(dialect: Dialect) -> Mapping[str, type[ClientEventModel]]:
    """Client event ``type`` -> model, from the dialect's ``*ClientEvent`` union."""
    table = _TABLES.get(dialect)
    if table is None:
        union = GAClientEvent if dialect == "ga" else BetaClientEvent
        members: tuple[type[ClientEventModel], ...] = get_args(get_args(union)[0])
        table = _TABLES[dialect] = MappingProxyType({m.model_fields["type"].default: m for m in members})
    return table


_UNKNOWN_FIELDS: Final = re.compile(r"unknown field\(s\) for \w+: (.+)$")


def _wire_path(loc: tuple[int | str, ...], data: Any) -> list[str]:
    """``loc`` without the member tags pydantic inserts for unions ("realtime", "message/user")."""
    path: list[str] = []
    for part in loc:
        if isinstance(data, dict) and isinstance(part, str):
            if part not in data:
                continue  # a union tag, not a field
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            data = None
        path.append(str(part))
    return path


def _client_error(exc: ValidationError, data: dict[str, Any], event_id: str | None) -> ClientEventError:
    # Reported the way the real server words its own: the first problem only, with a dotted param path.
    err = exc.errors()[0]
    path = _wire_path(err["loc"], data)
    where = ".".join(path)
    if err["type"] == "union_tag_not_found":  # e.g. a GA session without its "type"
        where = ".".join([*path, "type"])
    if err["type"] in ("missing", "union_tag_not_found"):
        return ClientEventError(
            f"Missing required parameter: '{where}'.", code="missing_required_parameter", param=where,
            event_id=event_id,
        )  # fmt: skip
    unknown = _UNKNOWN_FIELDS.search(str(err.get("msg", "")))
    if unknown:
        field = ".".join([*path, unknown.group(1).split(", ")[0]])
        return ClientEventError(
            f"Unknown parameter: '{field}'.", code="unknown_parameter", param=field, event_id=event_id
        )
    return ClientEventError(
        f"Invalid value for '{where}': {err['msg']}.", code="invalid_value", param=where or None, event_id=event_id
    )


@overload
def parse_client_event(raw: str | bytes, dialect: Literal["ga"] = ...) -> GAClientEvent: ...
@overload
def parse_client_event(raw: str | bytes, dialect: Literal["beta"]) -> BetaClientEvent: ...
@overload
def parse_client_event(raw: str | bytes, dialect: Dialect) -> ClientEvent: ...
def parse_client_event(raw: str | bytes, dialect: Dialect = "ga") -> ClientEvent:
    """Parse one client frame, strictly; raises ``ClientEventError`` with the reply's error fields."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ClientEventError(f"Invalid JSON in client event: {exc}.", code="invalid_json") from exc
    if not isinstance(data, dict):
        raise ClientEventError("Client events must be JSON objects.", code="invalid_json")
    event_id = data.get("event_id") if isinstance(data.get("event_id"), str) else None
    kind = data.get("type")
    table = client_event_types(dialect)
    if not isinstance(kind, str):
        raise ClientEventError(
            "Missing required parameter: 'type'.", code="missing_required_parameter", param="type",
            event_id=event_id,
        )  # fmt: skip
    model = table.get(kind)
    if model is None:
        supported = ", ".join(f"'{t}'" for t in table)
        raise ClientEventError(
            f"Invalid value: '{kind}'. Supported values are: {supported}.", code="invalid_value", param="type",
            event_id=event_id,
        )  # fmt: skip
    try:
        return cast("ClientEvent", model.model_validate(data))
    except ValidationError as exc:
        raise _client_error(exc, data, event_id) from exc


# ------------------------------------------------------------------- sessions


def turn_detection_defaults(dialect: Dialect, kind: str) -> Frame:
    """What the server fills in for fields a turn_detection object leaves out."""
    if kind == "semantic_vad":
        return {"type": "semantic_vad", "eagerness": "auto", "create_response": True, "interrupt_response": True}
    vad: Frame = {
        "type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 500,
        "create_response": True, "interrupt_response": True,
    }  # fmt: skip
    if dialect == "ga":
        vad["idle_timeout_ms"] = None
    return vad


def default_session(dialect: Dialect, *, session_id: str, model: str, expires_at: int) -> Frame:
    """The session as ``session.created`` reports it before any ``session.update``."""
    if dialect == "ga":
        pcm = {"type": "audio/pcm", "rate": 24000}
        return {
            "type": "realtime", "object": "realtime.session", "id": session_id, "model": model,
            "output_modalities": ["audio"], "instructions": "", "tools": [], "tool_choice": "auto",
            "max_output_tokens": "inf", "tracing": None, "truncation": "auto", "prompt": None,
            "expires_at": expires_at,
            "audio": {
                "input": {
                    "format": pcm, "transcription": None, "noise_reduction": None,
                    "turn_detection": turn_detection_defaults("ga", "server_vad"),
                },
                "output": {"format": pcm, "voice": "marin", "speed": 1.0},
            },
            "include": None,
        }  # fmt: skip
    return {
        "id": session_id, "object": "realtime.session", "model": model, "expires_at": expires_at,
        "modalities": ["audio", "text"], "instructions": "", "voice": "alloy",
        "input_audio_format": "pcm16", "output_audio_format": "pcm16",
        "input_audio_transcription": None, "input_audio_noise_reduction": None,
        "turn_detection": turn_detection_defaults("beta", "server_vad"),
        "tools": [], "tool_choice": "auto", "temperature": 0.8, "max_response_output_tokens": "inf",
        "speed": 1.0, "tracing": None,
    }  # fmt: skip


def _merge(into: Frame, update: Mapping[str, Any], dialect: Dialect) -> None:
    for key, value in update.items():
        if key == "turn_detection" and isinstance(value, Mapping):
            # Replaced, not merged: a new object starts from the server defaults for its type.
            kind = str(value.get("type", "server_vad"))
            into[key] = {**turn_detection_defaults(dialect, kind), **value}
        elif isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value, dialect)
        else:
            into[key] = value


def merge_session(session: Frame, update: Mapping[str, Any], dialect: Dialect) -> Frame:
    """``session`` with a ``session.update`` applied: nested objects merge, lists and nulls replace."""
    merged: Frame = json.loads(json.dumps(session))
    _merge(merged, update, dialect)
    return merged


def audio_formats(session: Frame, dialect: Dialect) -> list[Any]:
    """[input format, output format] of the session, by name ("audio/pcm", "pcm16", ...)."""
    if dialect == "ga":
        audio = session.get("audio") or {}
        return [((audio.get(d) or {}).get("format") or {}).get("type", "audio/pcm") for d in ("input", "output")]
    return [session.get("input_audio_format", "pcm16"), session.get("output_audio_format", "pcm16")]


def session_setting(session: Frame, dialect: Dialect, name: Literal["turn_detection", "transcription"]) -> Any:
    if dialect == "ga":
        return ((session.get("audio") or {}).get("input") or {}).get(name)
    return session.get("turn_detection" if name == "turn_detection" else "input_audio_transcription")


class Names:
    """Event and content-part names that differ between the dialects (verbatim from the API)."""

    def __init__(self, dialect: Dialect) -> None:
        ga = dialect == "ga"
        self.audio_delta = "response.output_audio.delta" if ga else "response.audio.delta"
        self.audio_done = "response.output_audio.done" if ga else "response.audio.done"
        self.transcript_delta = "response.output_audio_transcript.delta" if ga else "response.audio_transcript.delta"
        self.transcript_done = "response.output_audio_transcript.done" if ga else "response.audio_transcript.done"
        self.text_delta = "response.output_text.delta" if ga else "response.text.delta"
        self.text_done = "response.output_text.done" if ga else "response.text.done"
        # Message content in items; content_part events say "audio" / "text" in both dialects.
        self.audio_content = "output_audio" if ga else "audio"
        self.text_content = "output_text" if ga else "text"


_NAMES = {"ga": Names("ga"), "beta": Names("beta")}


def names(dialect: Dialect) -> Names:
    return _NAMES[dialect]
