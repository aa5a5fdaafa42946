"""Wire helpers for the Gemini Live loopback server: what it reads, what it writes, how it refuses.

The real service reports every error by closing the websocket: a close code
from the gRPC status behind it (INVALID_ARGUMENT -> 1007, PERMISSION_DENIED,
NOT_FOUND, UNIMPLEMENTED and a missing key -> 1008, INTERNAL, UNAVAILABLE and
DEADLINE_EXCEEDED -> 1011) and the status message as the reason. The reasons
below are the service's own texts where they are known from live sessions.

Server messages go out as UTF-8 JSON in *binary* frames, pretty-printed with a
two-space indent and a trailing newline, as the service writes them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import BaseModel, ValidationError

from ._client import ClientContent, ClientMessage, RealtimeInput, Setup, ToolResponse

__all__ = [
    "BAD_KEY", "CLOSE_INTERNAL", "CLOSE_INVALID", "CLOSE_POLICY", "DEADLINE", "INVALID_ARGUMENT", "NOT_FOUND",
    "NO_KEY", "CloseError", "ParsedMessage", "client_without_audio", "close_reason", "duration", "encode",
    "parse_client_message", "usage", "without_audio",
]  # fmt: skip

CLOSE_INVALID: Final = 1007  # INVALID_ARGUMENT
CLOSE_POLICY: Final = 1008  # PERMISSION_DENIED, NOT_FOUND, UNIMPLEMENTED, no credentials
CLOSE_INTERNAL: Final = 1011  # INTERNAL, UNAVAILABLE, DEADLINE_EXCEEDED

INVALID_ARGUMENT: Final = "Request contains an invalid argument."
NO_KEY: Final = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
BAD_KEY: Final = "API key not valid. Please pass a valid API key."
NOT_FOUND: Final = "Requested entity was not found."
DEADLINE: Final = "Deadline expired before operation could complete."

_MAX_REASON: Final = 123  # bytes: a close frame's payload is 125 at most, 2 of them the code


class CloseError(Exception):
    """End the connection with this close code and reason (the API's only way to report an error)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code, self.reason = code, reason


def close_reason(text: str) -> str:
    """``text`` cut to fit a close frame, on a UTF-8 character boundary."""
    raw = text.encode()
    return text if len(raw) <= _MAX_REASON else raw[:_MAX_REASON].decode(errors="ignore")


# ------------------------------------------------------------------ client messages

_MODELS: Final[dict[str, type[BaseModel]]] = {
    "setup": Setup, "clientContent": ClientContent, "realtimeInput": RealtimeInput, "toolResponse": ToolResponse,
}  # fmt: skip
# proto3-JSON parsers take a field's proto name as well as its lowerCamelCase JSON name.
_PROTO_NAMES: Final[dict[str, str]] = {"client_content": "clientContent", "realtime_input": "realtimeInput",
                       "tool_response": "toolResponse"}  # fmt: skip


@dataclass
class ParsedMessage:
    message: ClientMessage
    raw: dict[str, Any]  # the payload under the message's key, as sent
    # Fields the API has but our models do not (the API knows many more than we send):
    # accepted, and listed so a test can insist there are none.
    unmodelled: list[str] = field(default_factory=list)


def _path(key: str, loc: tuple[int | str, ...]) -> str:
    out = key
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _drop(payload: Any, loc: tuple[int | str, ...]) -> None:
    node = payload
    for part in loc[:-1]:
        node = node[part]
    del node[loc[-1]]


def parse_client_message(raw: str | bytes) -> ParsedMessage:
    """One client frame as our client models; raises ``CloseError`` (1007) as the service would."""
    try:
        data = json.loads(raw)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise CloseError(CLOSE_INVALID, f"Invalid JSON payload received. {exc}.") from exc
    if not isinstance(data, dict):
        got = type(data).__name__
        raise CloseError(CLOSE_INVALID, f"Invalid JSON payload received. Expected an object, got {got}.")
    for name in data:
        if _PROTO_NAMES.get(name, name) not in _MODELS:
            raise CloseError(CLOSE_INVALID, f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.')
    if len(data) != 1:
        raise CloseError(CLOSE_INVALID, INVALID_ARGUMENT)  # the message is a oneof: exactly one field
    ((name, payload),) = data.items()
    key = _PROTO_NAMES.get(name) or str(name)  # a JSON key: always a str
    if not isinstance(payload, dict):
        raise CloseError(CLOSE_INVALID, f"Invalid value at '{key}', expected an object.")
    model = _MODELS[key]
    work = json.loads(json.dumps(payload))  # a copy to strip unmodelled fields from
    unmodelled: list[str] = []
    while True:
        try:
            message = model.model_validate(work)
            break
        except ValidationError as exc:
            errors = exc.errors()
            extra = [e["loc"] for e in errors if e["type"] == "extra_forbidden"]
            if not extra or len(extra) != len(errors):
                first = next(e for e in errors if e["type"] != "extra_forbidden")
                raise CloseError(
                    CLOSE_INVALID, f"Invalid value at '{_path(key, first['loc'])}': {first['msg']}."
                ) from exc
            for loc in extra:
                unmodelled.append(_path(key, loc))
                _drop(work, loc)
    return ParsedMessage(message=message, raw=payload, unmodelled=unmodelled)  # type: ignore[arg-type]


# ------------------------------------------------------------------ server messages


def encode(message: dict[str, Any]) -> bytes:
    """A server message as the service frames it (binary, indented, newline-terminated)."""
    return (json.dumps(message, indent=2, ensure_ascii=False) + "\n").encode()


def duration(seconds: float) -> str:
    """A google.protobuf.Duration in proto3 JSON: "10s", "1.500s"."""
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{seconds:.3f}s"


AUDIO_TOKENS_PER_SECOND: Final = 32  # Gemini counts audio at 32 tokens a second
CHARS_PER_TOKEN: Final = 4


def _count(modality: str, tokens: int) -> dict[str, Any]:
    # proto3 JSON omits zero values, so an empty count is just the modality.
    return {"modality": modality, "tokenCount": tokens} if tokens else {"modality": modality}


def usage(
    *, prompt_chars: int, prompt_audio_ms: float, response_chars: int, response_audio_ms: float, vertex: bool = False
) -> dict[str, Any]:
    """``usageMetadata`` for a turn: the whole context as prompt, the turn's output as response.

    Vertex AI names the output ``candidates`` (``candidatesTokenCount``), as in
    generateContent; the Gemini API names it ``response``.
    """
    text_in = math.ceil(prompt_chars / CHARS_PER_TOKEN)
    audio_in = math.ceil(prompt_audio_ms * AUDIO_TOKENS_PER_SECOND / 1000)
    text_out = math.ceil(response_chars / CHARS_PER_TOKEN)
    audio_out = math.ceil(response_audio_ms * AUDIO_TOKENS_PER_SECOND / 1000)
    prompt, response = text_in + audio_in, text_out + audio_out
    out = "candidates" if vertex else "response"
    body: dict[str, Any] = {}
    if prompt:
        body["promptTokenCount"] = prompt
    if response:
        body[f"{out}TokenCount"] = response
    if prompt + response:
        body["totalTokenCount"] = prompt + response
    body["promptTokensDetails"] = [_count("TEXT", text_in)] + ([_count("AUDIO", audio_in)] if audio_in else [])
    if response:
        body[f"{out}TokensDetails"] = [_count("AUDIO", audio_out) if audio_out else _count("TEXT", text_out)]
    return body


# What the records keep: the messages as they were, with their base64 audio blanked.


def without_audio(message: dict[str, Any]) -> dict[str, Any]:
    parts = ((message.get("serverContent") or {}).get("modelTurn") or {}).get("parts")
    if not parts or not any("inlineData" in p for p in parts):
        return message
    kept = [{**p, "inlineData": {**p["inlineData"], "data": ""}} if "inlineData" in p else p for p in parts]
    content = message["serverContent"]
    return {**message, "serverContent": {**content, "modelTurn": {**content["modelTurn"], "parts": kept}}}


def client_without_audio(message: ClientMessage) -> ClientMessage:
    if not isinstance(message, RealtimeInput) or (message.audio is None and not message.media_chunks):
        return message
    update: dict[str, Any] = {}
    if message.audio is not None:
        update["audio"] = message.audio.model_copy(update={"data": ""})
    if message.media_chunks:
        update["media_chunks"] = [b.model_copy(update={"data": ""}) for b in message.media_chunks]
    return message.model_copy(update=update)
