"""Shared building blocks for the Gemini Live wire models.

The Live API speaks proto3-JSON: camelCase keys, enums as strings, ``bytes``
as base64 strings, int64 as (sometimes) decimal strings, zero values omitted.
Python code uses snake_case, so every model maps attributes to wire names
through an alias generator and accepts either spelling on input.
"""

from __future__ import annotations

import base64
import binascii

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

__all__ = [
    "ClientModel",
    "ProtocolError",
    "ServerModel",
    "decode_base64",
    "encode_base64",
]


class ProtocolError(ValueError):
    """The server sent something that is not a valid Live API message.

    Raised for undecodable frames, non-object JSON, known message types whose
    contents have the wrong shape, and undecodable base64 payloads. It is a
    ``ValueError`` so generic "bad input" handlers still catch it.
    """


class ClientModel(BaseModel):
    """Base for messages we send.

    ``extra="forbid"``: a misspelt keyword would otherwise be silently dumped
    onto the wire and rejected by the server at runtime, or worse, ignored.
    """

    # populate_by_name (rather than the 2.11+ validate_by_name) keeps us
    # compatible with the pydantic>=2.6 floor in pyproject.
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
    )


class ServerModel(BaseModel):
    """Base for messages we receive.

    ``extra="allow"``: Google adds fields to the Live API without notice; a new
    field must never break a live call, and keeping it (in ``model_extra``)
    lets callers inspect it before we model it.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="allow",
    )


# proto3-JSON parsers accept both base64 alphabets. The server emits the
# standard one, but google-genai (and so any fake built from it) emits the
# URL-safe one, so decoding must take either.
_URLSAFE_TO_STANDARD = str.maketrans("-_", "+/")


def decode_base64(data: str) -> bytes:
    """Decode standard or URL-safe base64, padded or not.

    Raises ``ProtocolError`` rather than silently dropping bad characters
    (which is what ``base64.b64decode`` does by default, corrupting audio).
    """
    if "-" in data or "_" in data:
        data = data.translate(_URLSAFE_TO_STANDARD)
    missing_padding = -len(data) % 4
    if missing_padding:
        data += "=" * missing_padding
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(f"invalid base64 payload: {exc}") from exc


def encode_base64(data: bytes) -> str:
    """Encode with the standard alphabet, the canonical proto3-JSON form."""
    return base64.b64encode(data).decode("ascii")
