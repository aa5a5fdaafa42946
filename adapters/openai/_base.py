"""Building blocks of the Realtime API wire models, shared by both dialects.

The base classes (``ServerModel`` lenient, ``ClientModel`` strict when built and
lenient when parsed), the event envelopes, the open unions that tolerate type
tags added to the API later, the base64 audio codec and ``ProtocolError``.
Everything here is re-exported by ``_protocol``, the package's entry point.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Final, Self, Union

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
from pydantic_core import SchemaValidator, core_schema

__all__ = [
    "ClientEventModel", "ClientModel", "ProtocolError", "ResponseContentEventBase",
    "ResponseItemEventBase", "ServerEventModel", "ServerModel", "Unrecognized", "decode_audio",
    "encode_audio", "item_tag", "open_union", "type_tag",
]  # fmt: skip


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
        # A tag that is a list or an object (unhashable) is as unknown as a new string:
        # Unrecognized then rejects it, and the frame is reported malformed, not raised past.
        return found if isinstance(found, str) and found in by_tag else "*"

    choices = tuple(Annotated[m, Tag(t)] for t, m in by_tag.items())
    return Annotated[Union[(*choices, Annotated[Unrecognized, Tag("*")])], Discriminator(pick)]


def _rust_base64() -> SchemaValidator | None:
    """pydantic-core's base64 decoder (a JSON string into bytes), if this version has one."""
    try:
        validator = SchemaValidator(core_schema.bytes_schema(), core_schema.CoreConfig(val_json_bytes="base64"))
        # An older pydantic-core ignores the setting and hands back the text's own bytes.
        return validator if validator.validate_json('"QUJD"') == b"ABC" else None
    except Exception:  # noqa: BLE001 (any failure here only means: no fast path)
        return None


_RUST_BASE64: Final = _rust_base64()


def decode_audio(b64: str) -> bytes:
    """Decode a base64 audio payload (``delta``, ``audio``) to raw bytes.

    Strict: ``base64.b64decode`` silently skips bad characters, which would
    corrupt audio instead of reporting the broken frame.

    Audio deltas arrive ten a second per call, and binascii takes ~3x as long as
    pydantic-core's decoder for one: that decoder goes first where its answer is
    binascii's. It refuses every character outside the base64 alphabets, padding
    anywhere but the end and data after it; what it accepts that strict binascii
    does not (the URL-safe ``-`` and ``_``, missing padding) never reaches it, and
    whatever it refuses (also non-zero trailing bits, which binascii allows) is
    decoded by binascii, which accepts or names the fault as it always did.
    """
    if (
        _RUST_BASE64 is not None
        and type(b64) is str
        and not len(b64) % 4
        # The URL-safe alphabet, which pydantic-core accepts and strict binascii does
        # not; and an escape, which would change the text once quoted as JSON (a quote
        # only makes the JSON invalid: refused, binascii decides).
        and "-" not in b64
        and "_" not in b64
        and "\\" not in b64
    ):
        try:
            decoded: bytes = _RUST_BASE64.validate_json('"' + b64 + '"')
            return decoded
        except ValidationError:
            pass  # binascii says what is wrong, or that it is not (trailing bits)
    try:
        return binascii.a2b_base64(b64, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(f"invalid base64 audio payload: {exc}") from exc


def encode_audio(pcm: bytes) -> str:
    """Encode raw audio bytes for ``input_audio_buffer.append`` and item content."""
    return binascii.b2a_base64(pcm, newline=False).decode("ascii")


# ------------------------------------------------------------------- envelopes


class ClientEventModel(ClientModel):
    # Optional, client-chosen; the server echoes it in error.event_id, which is how
    # an error event is tied back to the client event that caused it.
    event_id: str | None = None


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

