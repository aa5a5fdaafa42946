"""The recording file: one JSON object a line, each with a ``kind``.

In the order they are written::

    {"kind": "header", "format": 1, "provider": "openai", "dialect": "ga", ...}
    {"kind": "open", "t": 0.0012, "conn": 1}                       a provider connection
    {"kind": "frame", "t": 0.0031, "conn": 1, "dir": "client", "text": "{...}"}
    {"kind": "frame", "t": 0.0502, "conn": 1, "dir": "server", "binary": "<base64>"}
    {"kind": "close", "t": 9.1, "conn": 1, "code": 1011, "reason": "..."}   the server closed
    {"kind": "room", "t": 0.0009, "fact": "linked", "participant": "caller"}
    {"kind": "room", "t": 4.2, "fact": "stopped", "heard_ms": 2210, "interrupted": true, ...}
    {"kind": "app", "t": 0.8, "call": "generate_reply", "on_duplicate": "cancel_existing"}
    {"kind": "dropped", "count": 3}            frames lost to a full queue, where they were lost
    {"kind": "truncated", "t": 61.0, "max_bytes": 52428800}   no more frames after this
    {"kind": "trace", "record": {"t": ..., "event": ..., "source": ..., "target": ...}}
    {"kind": "chat", "messages": [...]}        the final chat context
    {"kind": "end", "t": 62.3, "frames": 1234, "dropped": 3}

Times are seconds on the monotonic clock since the recorder started. Frames are as they
went over the wire, except what the recorder was told to take out: stripped audio becomes
``"<audio stripped: N bytes>"`` (its decoded length), a redacted field ``"<redacted>"``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "FORMAT_VERSION", "REDACTED", "AudioMode", "Recording", "RecordingError", "audio_bytes_marker",
    "dump_line", "restore_audio", "scrub_frame",
]  # fmt: skip

FORMAT_VERSION = 1
REDACTED = "<redacted>"
AudioMode = Literal["keep", "strip"]

_MARKER = re.compile(r"<audio stripped: (\d+) bytes>")
# Frames that may carry audio, by a substring test before any parse: most frames of a call
# are audio, and the few that are not need no JSON round trip.
_AUDIO_HINTS = (
    '"response.output_audio.delta"', '"response.audio.delta"', '"input_audio_buffer.append"',
    '"inlineData"', '"realtimeInput"',
)  # fmt: skip


class RecordingError(ValueError):
    """A recording that cannot be read: the message is one line, naming the file and the line."""


def dump_line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n"


def audio_bytes_marker(b64: str) -> str:
    """The stand-in for a base64 payload: its decoded length, without decoding it."""
    stripped = b64.rstrip("=")
    return f"<audio stripped: {len(stripped) * 3 // 4} bytes>"


# Stripping and redacting -------------------------------------------------------------------
def scrub_frame(text: str, *, strip_audio: bool, redact: tuple[tuple[str, ...], ...]) -> str:
    """``text`` with audio payloads replaced by markers and the named fields redacted.
    A frame that is not a JSON object is returned as it is (it is recorded, not judged)."""
    if not redact and not (strip_audio and any(h in text for h in _AUDIO_HINTS)):
        return text
    try:
        obj = json.loads(text)
    except ValueError:
        return text
    if not isinstance(obj, dict):
        return text
    if strip_audio:
        _strip_audio(obj)
    for path in redact:
        redact_path(obj, path)
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _strip_audio(obj: dict[str, Any]) -> None:
    kind = obj.get("type")
    if kind in ("response.output_audio.delta", "response.audio.delta") and isinstance(obj.get("delta"), str):
        obj["delta"] = audio_bytes_marker(obj["delta"])
    elif kind == "input_audio_buffer.append" and isinstance(obj.get("audio"), str):
        obj["audio"] = audio_bytes_marker(obj["audio"])
    rt = obj.get("realtimeInput")
    if isinstance(rt, dict):
        blobs = [rt.get("audio"), *(rt.get("mediaChunks") or [])]
        for blob in blobs:
            _strip_blob(blob)
    content = obj.get("serverContent")
    if isinstance(content, dict):
        turn = content.get("modelTurn")
        parts = turn.get("parts") if isinstance(turn, dict) else None
        for part in parts if isinstance(parts, list) else []:
            if isinstance(part, dict):
                _strip_blob(part.get("inlineData"))


def _strip_blob(blob: object) -> None:
    if isinstance(blob, dict) and isinstance(blob.get("data"), str):
        blob["data"] = audio_bytes_marker(blob["data"])


def redact_path(obj: Any, path: tuple[str, ...]) -> None:
    """Replace the value at ``path`` (keys; a list on the way applies to each element)."""
    if isinstance(obj, list):
        for item in obj:
            redact_path(item, path)
        return
    if not isinstance(obj, dict) or not path or path[0] not in obj:
        return
    if len(path) == 1:
        obj[path[0]] = REDACTED
    else:
        redact_path(obj[path[0]], path[1:])


def restore_audio(text: str, make: Any) -> str:
    """Put audio back where markers are: ``make(n)`` gives base64 for ``n`` bytes."""
    if "<audio stripped: " not in text:
        return text
    return _MARKER.sub(lambda m: str(make(int(m.group(1)))), text)


# Reading -----------------------------------------------------------------------------------
@dataclass
class Recording:
    """A recording read back: the header, then what happened in order, then the tail."""

    path: Path
    header: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    """open, frame, close, room and app lines, in the order they were written."""
    trace: list[dict[str, Any]] = field(default_factory=list)
    chat: list[dict[str, Any]] | None = None
    dropped: int = 0
    truncated: bool = False
    complete: bool = False
    """An ``end`` line was read: the session was closed, not cut off mid-write."""

    @property
    def provider(self) -> str:
        return str(self.header.get("provider"))

    def frames(self, direction: str | None = None) -> Iterator[dict[str, Any]]:
        for ev in self.events:
            if ev["kind"] == "frame" and (direction is None or ev["dir"] == direction):
                yield ev

    @classmethod
    def load(cls, path: str | Path) -> Recording:
        p = Path(path)
        try:
            lines = p.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise RecordingError(f"{p}: no such file") from None
        except IsADirectoryError:
            raise RecordingError(f"{p}: is a directory, not a recording") from None
        except UnicodeDecodeError:
            raise RecordingError(f"{p}: not a recording (not UTF-8 text)") from None
        except OSError as exc:
            raise RecordingError(f"{p}: cannot read it ({exc.strerror or exc})") from None
        return cls.parse(p, lines)

    @classmethod
    def parse(cls, path: Path, lines: Iterable[str]) -> Recording:
        rec: Recording | None = None
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            obj = _object(path, n, line)
            kind = obj.get("kind")
            if rec is None:
                rec = cls(path, _header(path, n, obj))
                continue
            rec._take(path, n, kind, obj)
        if rec is None:
            raise RecordingError(f"{path}: empty; not a turnstile recording")
        return rec

    def _take(self, path: Path, n: int, kind: object, obj: dict[str, Any]) -> None:
        if kind in ("open", "close", "room", "app"):
            self.events.append(obj)
        elif kind == "frame":
            _check_frame(path, n, obj)
            self.events.append(obj)
        elif kind == "trace" and isinstance(obj.get("record"), dict):
            self.trace.append(obj["record"])
        elif kind == "chat" and isinstance(obj.get("messages"), list):
            self.chat = obj["messages"]
        elif kind == "dropped":
            self.dropped += int(obj.get("count", 0))
        elif kind == "truncated":
            self.truncated = True
        elif kind == "end":
            self.complete = True
        else:
            raise RecordingError(f"{path} line {n}: unknown line kind {kind!r}")


def _object(path: Path, n: int, line: str) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except ValueError as exc:
        raise RecordingError(f"{path} line {n}: not JSON ({exc.args[0].split(':')[0]})") from None
    if not isinstance(obj, dict):
        raise RecordingError(f"{path} line {n}: not a JSON object")
    return obj


def _header(path: Path, n: int, obj: dict[str, Any]) -> dict[str, Any]:
    if obj.get("kind") != "header":
        raise RecordingError(f"{path} line {n}: expected the header line first; not a turnstile recording")
    version = obj.get("format")
    if not isinstance(version, int) or version < 1:
        raise RecordingError(f"{path} line {n}: the header has no format version")
    if version > FORMAT_VERSION:
        raise RecordingError(f"{path}: format {version} is newer than this turnstile reads ({FORMAT_VERSION})")
    if obj.get("provider") not in ("openai", "gemini"):
        raise RecordingError(f"{path} line {n}: unknown provider {obj.get('provider')!r} (openai or gemini)")
    return obj


def _check_frame(path: Path, n: int, obj: dict[str, Any]) -> None:
    if obj.get("dir") not in ("client", "server"):
        raise RecordingError(f"{path} line {n}: a frame's dir must be 'client' or 'server'")
    if not isinstance(obj.get("t"), (int, float)) or not isinstance(obj.get("conn"), int):
        raise RecordingError(f"{path} line {n}: a frame needs a time t and a connection number conn")
    if not isinstance(obj.get("text"), str):
        binary = obj.get("binary")
        if not isinstance(binary, str):
            raise RecordingError(f"{path} line {n}: a frame needs text (or binary as base64)")
        try:
            obj["text"] = base64.b64decode(binary, validate=True).decode("utf-8")  # sent back as binary
        except (ValueError, UnicodeDecodeError):
            raise RecordingError(f"{path} line {n}: a binary frame that is not base64 of UTF-8 JSON") from None
