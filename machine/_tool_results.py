"""What a tool returns, as text the model can read: serialised safely, within a size limit.

Anything a tool hands back (a circular structure, an object whose ``__str__`` raises, a
model holding an arbitrary object, a list nested 100,000 deep, 50 MB of text) ends either
in text or in a ``ResultError`` whose message is short, names the type, and carries no
memory address: the model reads it, the log gets the details.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import decimal
import enum
import functools
import json
import re
import sys
import uuid
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel, ValidationError

__all__ = [
    "DEFAULT_MAX_ARGUMENTS_BYTES",
    "DEFAULT_MAX_RESULT_BYTES",
    "ResultError",
    "clean_text",
    "describe_exception",
    "exceeds",
    "result_data",
    "result_text",
    "safe_str",
    "type_name",
    "validation_brief",
]

# A realtime model emits at most a few thousand tokens per response (OpenAI's
# max_output_tokens tops out at 4096, ~16 KiB of JSON): 256 KiB of arguments is far beyond
# anything a model writes, and still parses in about a millisecond. Larger is corruption.
DEFAULT_MAX_ARGUMENTS_BYTES = 256 * 1024
# A result goes into the conversation and is replayed after every reconnect. 64 KiB is
# ~16k tokens, half of a 32k-token realtime context window: more would push the
# conversation itself out. A result over the limit becomes an error, not a truncation: a
# cut list reads like a short list, and the model would answer from it with confidence.
DEFAULT_MAX_RESULT_BYTES = 64 * 1024

_MAX_MESSAGE_CHARS = 400
_ADDRESS = re.compile(r" at 0x[0-9A-Fa-f]+")


class ResultError(Exception):
    """A result that cannot be sent; ``str(self)`` is the message for the model."""


class _TooLarge(Exception):
    pass


class _Unsupported(TypeError):
    def __init__(self, obj: object) -> None:
        super().__init__(type_name(obj))
        self.obj = obj


def result_text(name: str, result: object, max_bytes: int) -> str:
    """``result`` as text of at most ``max_bytes`` UTF-8 bytes, or ``ResultError``."""
    try:
        if isinstance(result, str):
            text = str.__str__(result)  # a str subclass's own __str__ is not trusted
        elif isinstance(result, BaseModel):
            text = result.model_dump_json()
        else:
            text = _dump_json(result, max_bytes)
    except _TooLarge as exc:
        raise ResultError(
            f"the result of {name} is larger than {max_bytes} bytes, the limit; it was not sent"
        ) from exc
    except _Unsupported as exc:
        where = "returned" if exc.obj is result else f"returned a {type_name(result)} containing"
        raise ResultError(
            f"{name} {where} a value of type {exc}, which cannot be sent to the model as JSON"
        ) from exc
    except RecursionError as exc:
        raise ResultError(f"{name} returned a structure nested too deeply to send") from exc
    except Exception as exc:  # whatever a hostile object's hooks raise
        message = safe_str(exc)
        if "Circular reference" in message:
            raise ResultError(f"{name} returned a structure that contains itself") from exc
        if "serialization depth" in message:
            raise ResultError(f"{name} returned a structure nested too deeply to send") from exc
        raise ResultError(
            f"the result of {name} ({type_name(result)}) could not be serialised: "
            f"{describe_exception(exc)}"
        ) from exc
    if exceeds(text, max_bytes):
        raise ResultError(
            f"the result of {name} is larger than {max_bytes} bytes, the limit; it was not sent"
        )
    return clean_text(text)


def result_data(result: object, text: str) -> Any:
    """``result`` as a JSON value (parsed back from ``text``, its serialised form, so it holds
    only JSON types), or None where the tool returned text: a string stays a string."""
    if isinstance(result, str) or result is None:
        return None
    try:
        return json.loads(text, parse_constant=_not_json)
    except (ValueError, RecursionError):  # NaN and Infinity are JSON to Python only: text
        return None


def _not_json(constant: str) -> object:
    raise ValueError(f"{constant} is not JSON")


def _dump_json(result: object, max_bytes: int) -> str:
    # The pure-Python encoder streams: a 50 MB result is refused after its first
    # max_bytes characters instead of being built whole (every character is >= 1 byte).
    encoder = json.JSONEncoder(ensure_ascii=False, default=functools.partial(_default, max_bytes))
    parts: list[str] = []
    size = 0
    for chunk in encoder.iterencode(result):
        size += len(chunk)
        if size > max_bytes:
            raise _TooLarge
        parts.append(chunk)
    return "".join(parts)


def _default(max_bytes: int, obj: Any) -> Any:
    """The common types a tool returns, as JSON values; anything else is refused by type."""
    if isinstance(obj, (set, frozenset, collections.deque, Mapping)) and len(obj) > max_bytes:
        raise _TooLarge  # each item takes at least a byte: refused before it is copied
    np = sys.modules.get("numpy")  # not imported here: with no numpy loaded, no array exists
    if np is not None:
        if isinstance(obj, np.ndarray):
            if obj.size > max_bytes:
                raise _TooLarge
            return obj.tolist()
        if isinstance(obj, np.generic):
            return obj.item()
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        # Shallow: the encoder recurses and sees cycles (asdict would deep-copy first).
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (datetime.date, datetime.time)):
        return obj.isoformat()
    if isinstance(obj, datetime.timedelta):
        return obj.total_seconds()
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return f"<binary data, {memoryview(obj).nbytes} bytes>"
    if isinstance(obj, (set, frozenset)):
        try:
            return sorted(obj)  # a stable order when the items allow one
        except Exception:
            return list(obj)
    if isinstance(obj, collections.deque):
        return list(obj)
    if isinstance(obj, Mapping):
        return dict(obj)
    if isinstance(obj, (decimal.Decimal, uuid.UUID, PurePath)):
        return str(obj)
    raise _Unsupported(obj)


def exceeds(text: str, max_bytes: int) -> bool:
    """Whether ``text`` is more than ``max_bytes`` in UTF-8 (without encoding a huge one)."""
    return len(text) > max_bytes or len(text.encode("utf-8", "surrogatepass")) > max_bytes


def clean_text(text: str) -> str:
    """``text`` without lone surrogates, which no provider's JSON encoder accepts."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def type_name(obj: object) -> str:
    """The class's own name: short for the model (the log's traceback has the module)."""
    return getattr(type(obj), "__qualname__", "object")


def safe_str(obj: object) -> str:
    """``str(obj)`` for a message: never raises, short, no memory addresses."""
    try:
        text = str(obj)
    except Exception:
        return ""
    if len(text) > _MAX_MESSAGE_CHARS:
        text = text[:_MAX_MESSAGE_CHARS] + "..."
    return clean_text(_ADDRESS.sub("", text))


def describe_exception(exc: BaseException) -> str:
    """``Type: message`` (or just ``Type`` when the message is empty or its str() fails).

    A pydantic ValidationError (a tool validating data of its own) is shown as its fields
    and problems: its str() carries the input values and a documentation URL per error.
    """
    if isinstance(exc, ValidationError):
        return f"{type(exc).__name__} for {safe_str(exc.title)}: {validation_brief(exc)}"
    message = safe_str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


# pydantic prefixes a validator's own message with these; the model needs only the message.
_VALIDATOR_PREFIXES = ("Value error, ", "Assertion failed, ")


def validation_brief(exc: ValidationError, limit: int = 5) -> str:
    """``field: problem; ...`` for the first ``limit`` errors, without input values or URLs."""
    try:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
    except Exception:  # a hostile validator's message object; the type still says something
        return "the values are invalid"
    parts = []
    for e in errors[:limit]:
        where = ".".join(map(str, e["loc"])) or "arguments"
        msg = e["msg"]
        for prefix in _VALIDATOR_PREFIXES:
            msg = msg.removeprefix(prefix)
        parts.append(f"{where}: {msg}")
    more = f" (and {len(errors) - limit} more)" if len(errors) > limit else ""
    return safe_str("; ".join(parts) + more)
