"""Recorder: a session's wire and room facts into one JSONL file, never in the agent's way.

Everything the agent's loop does is an append to a bounded queue: the socket's frame tap,
an agent event, the trace at the end. A writer task takes the queue in batches and hands
each batch to a thread, which strips, redacts, serialises and writes it, so neither JSON
work on 60 kB audio frames nor a slow disk ever runs on the loop. A frame that finds the
queue full is dropped and counted, and a ``dropped`` line says where; past ``max_bytes`` no
more frames are written (a ``truncated`` line says so), though the trace and the chat
context still are. A write that fails (disk full) is logged once and ends the recording,
not the call.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, NamedTuple

from ._format import FORMAT_VERSION, AudioMode, dump_line, redact_path, scrub_frame

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_QUEUE", "Recorder"]

logger = logging.getLogger("turnstile.recording")

DEFAULT_MAX_BYTES = 50 * 1024 * 1024  # about 7 minutes of both directions' audio kept; hours stripped
DEFAULT_MAX_QUEUE = 2000  # frames waiting for the writer: tens of seconds of a call's traffic


class _Frame(NamedTuple):
    """A frame still to scrub and serialise (on the writer's thread)."""

    t: float
    conn: int
    direction: str
    data: str | bytes


# A queued item: a finished line (header, facts, tail) or a frame.
_Item = dict[str, Any] | _Frame


class Recorder:
    """Writes one session to ``target``: a file, or a new file in a directory.

    ``audio="strip"`` replaces audio payloads by their length; ``redact`` names fields
    (``"item.output"``, ``"serverContent.outputTranscription.text"``) whose values are
    replaced by ``"<redacted>"`` in every frame and in the recorded provider options.
    Attach it with :func:`attach_recorder` before the agent starts.
    """

    def __init__(
        self,
        target: str | Path,
        *,
        audio: AudioMode = "keep",
        redact: Iterable[str] = (),
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_queue: int = DEFAULT_MAX_QUEUE,
    ) -> None:
        if audio not in ("keep", "strip"):
            raise ValueError(f"Recorder: audio={audio!r}: must be 'keep' or 'strip'")
        if max_bytes <= 0 or max_queue <= 0:
            raise ValueError("Recorder: max_bytes and max_queue must be positive")
        paths = tuple(redact)
        if any(not isinstance(p, str) or not p or "" in p.split(".") for p in paths):
            raise ValueError(f"Recorder: redact={paths!r}: each must be a dotted path such as 'item.output'")
        self.target = Path(target)
        # Path("rec/") is Path("rec"): a trailing separator asks for a directory, kept here.
        self._into_dir = str(target).endswith(("/", "\\"))
        self.audio: AudioMode = audio
        self.redact = paths
        self._redact = tuple(tuple(p.split(".")) for p in paths)
        self.max_bytes = max_bytes
        self.max_queue = max_queue
        self.path: Path | None = None
        """The file written; known once the header is (a directory target picks a new name)."""
        self.dropped = 0
        """Frames that found the queue full: not in the file (``dropped`` lines say where)."""
        self.frames = 0
        self.bytes_written = 0
        self.truncated = False
        self.failed: str | None = None
        self._t0 = time.monotonic()
        self._conn = 0
        self._unmarked = 0
        self._queue: deque[_Item] = deque()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._finished = False
        self._file: IO[str] | None = None

    def __repr__(self) -> str:
        return f"Recorder({str(self.path or self.target)!r}, audio={self.audio!r}, frames={self.frames})"

    def attach(self, agent: Any) -> Recorder:
        """Record ``agent``'s session (``attach_recorder(agent, self)``): what an agent
        given ``recorder=`` calls, without the core importing this package."""
        from ._attach import attach_recorder

        return attach_recorder(agent, self)

    def now(self) -> float:
        return round(time.monotonic() - self._t0, 6)

    # What the agent's side calls (all synchronous, all O(1)) ------------------------------
    def start(self, header: dict[str, Any]) -> None:
        """Queue the header: the first line. Picks the file name for a directory target."""
        if self.path is not None:
            raise RuntimeError("this recorder already records a session; use one Recorder per session")
        if self.target.is_dir() or self._into_dir:
            stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
            self.path = self.target / f"{stamp}-{header.get('provider', 'session')}-{uuid.uuid4().hex[:8]}.jsonl"
        else:
            self.path = self.target
        options = header.get("provider_options")
        for path in self._redact:
            redact_path(options, path)
        meta = {"format": FORMAT_VERSION, "audio": self.audio, "redacted": list(self.redact)}
        self._put({"kind": "header", **meta, **header})

    def tap(self, direction: str, data: str | bytes) -> None:
        """The provider socket's ``frame_tap``."""
        if self._finished:
            return
        t = self.now()
        if direction == "open":
            self._conn += 1
            self._put({"kind": "open", "t": t, "conn": self._conn})
        elif direction == "close":
            closed = json.loads(data) if isinstance(data, str) else {}
            self._put({"kind": "close", "t": t, "conn": self._conn, **closed})
        elif len(self._queue) >= self.max_queue:
            self.dropped += 1
            self._unmarked += 1
        else:
            self._put(_Frame(t, self._conn, direction, data))

    def fact(self, kind: str, **fields: Any) -> None:
        """A room fact (``kind="room"``) or an application call (``kind="app"``)."""
        if not self._finished:
            self._put({"kind": kind, "t": self.now(), **fields})

    def finish(self, trace: Iterable[dict[str, Any]], chat: list[dict[str, Any]]) -> None:
        """Queue the tail (trace, chat context, end); nothing is recorded after it."""
        if self._finished:
            return
        for record in trace:
            self._put({"kind": "trace", "record": record})
        self._put({"kind": "chat", "messages": chat})
        self._put({"kind": "end", "t": self.now(), "dropped": self.dropped})
        self._finished = True
        if self._wake is not None:
            self._wake.set()

    async def aclose(self) -> None:
        """Wait until everything queued is written and the file closed (finishing first,
        with no trace, if nobody did)."""
        self.finish((), [])
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._task)
        elif self._queue:  # never started on a loop: write it here
            await asyncio.to_thread(self._write_batch, self._take())
            await asyncio.to_thread(self._close_file)

    # The writer ---------------------------------------------------------------------------
    def _put(self, item: _Item) -> None:
        if self._unmarked:
            self._queue.append({"kind": "dropped", "count": self._unmarked})
            self._unmarked = 0
        self._queue.append(item)
        if self._task is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop yet: the first item queued on one starts the writer
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._run(), name="recorder")
        if self._wake is not None:
            self._wake.set()

    def _take(self) -> list[_Item]:
        batch = list(self._queue)
        self._queue.clear()
        return batch

    async def _run(self) -> None:
        assert self._wake is not None
        try:
            while True:
                if not self._queue:
                    if self._finished:
                        break
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                await asyncio.to_thread(self._write_batch, self._take())
        finally:
            await asyncio.to_thread(self._close_file)

    def _write_batch(self, batch: list[_Item]) -> None:
        """On a worker thread: scrub, serialise and write one batch."""
        if self.failed is not None:
            return
        out: list[str] = []
        size = self.bytes_written  # characters: the lines are JSON, nearly all ASCII
        for item in batch:
            if not isinstance(item, _Frame):
                out.append(dump_line(item))
            elif not self.truncated:
                line = self._frame_line(item)
                size += len(line)
                if size > self.max_bytes:
                    self.truncated = True
                    out.append(dump_line({"kind": "truncated", "t": item.t, "max_bytes": self.max_bytes}))
                    logger.warning("recording %s reached max_bytes (%d): no more frames recorded", self.path,
                                   self.max_bytes)
                else:
                    out.append(line)
                    self.frames += 1
        text = "".join(out)
        try:
            if self._file is None:
                assert self.path is not None
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("w", encoding="utf-8")
            self._file.write(text)
        except OSError as exc:
            self.failed = f"{type(exc).__name__}: {exc.strerror or exc}"
            logger.error("recording %s stopped: %s", self.path, self.failed)
            return
        self.bytes_written += len(text)

    def _frame_line(self, frame: _Frame) -> str:
        data = frame.data
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        text = scrub_frame(text, strip_audio=self.audio == "strip", redact=self._redact)
        entry: dict[str, Any] = {"kind": "frame", "t": frame.t, "conn": frame.conn, "dir": frame.direction}
        if isinstance(data, bytes):
            entry["binary"] = base64.b64encode(text.encode("utf-8")).decode("ascii")
        else:
            entry["text"] = text
        return dump_line(entry)

    def _close_file(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
