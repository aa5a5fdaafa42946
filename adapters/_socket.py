"""A websocket that reconnects: what every provider session shares.

Sends are synchronous (the chart's actions call them): a frame goes into an outbox that a
writer task drains, so no action ever waits on the network. A drop is retried with bounded
exponential backoff and jitter; subclasses say what to send on each connection and how to
read a frame, and decide which close codes are final.

What keeps a session alive, and what ends it:

* A frame never ends the session: whatever ``on_frame`` raises is counted in
  ``malformed_events`` and logged, and the next frame is read.
* Retries are bounded across a flapping server: the attempt counter starts again only
  after a connection proved healthy, i.e. it became ready (``mark_ready``) and stayed up
  ``healthy_after_s`` seconds. A server that accepts and closes, or that completes the
  setup and then drops at once, ends in ``SessionLost(will_reconnect=False)`` after
  ``max_retries`` reconnects.
* The handshake is bounded by ``connect_timeout_s`` (a timeout is a failed attempt), the
  socket sends a ping after ``heartbeat_s`` without traffic and treats a missing pong
  (``heartbeat_s / 2`` later) as a drop, and a frame over ``max_msg_size`` is a counted,
  logged drop that reconnects.
* Nothing raised or logged carries a secret: aiohttp's handshake errors hold the request
  headers (the API key), so what ends a session is a ``FatalClose`` or ``ConnectionError``
  built from a plain description (no cause, no context), and every reason string has the
  header values blanked out.
* ``reconnect()`` drops a connection that never became ready (the agent's session
  timeout); it counts as a failed attempt.

``frame_tap`` (None unless a recorder sets it) sees the wire as it is: ``("open", "")`` per
connection, ``("client", frame)`` as a frame goes out, ``("server", frame)`` as one is read,
and ``("close", '{"code":..,"reason":..}')`` when the server closes. It never sees headers or
the URL, so no credential reaches it; it must return at once (a recorder enqueues).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import aiohttp

from turnstile.machine import ProviderEvent, SessionLost

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT_S", "DEFAULT_HEALTHY_AFTER_S", "DEFAULT_HEARTBEAT_S", "DEFAULT_MAX_MSG_SIZE",
    "FatalClose", "ReconnectingSocket", "socket_settings",
]  # fmt: skip

logger = logging.getLogger("turnstile.socket")

DEFAULT_CONNECT_TIMEOUT_S = 10.0
DEFAULT_HEARTBEAT_S = 15.0  # a dead peer is noticed within 15 s of silence + 7.5 s for the pong
DEFAULT_MAX_MSG_SIZE = 16 * 1024 * 1024  # a second of 24 kHz PCM16 in base64 is 64 kB: ample
DEFAULT_HEALTHY_AFTER_S = 5.0
_FATAL_STATUS = (401, 403)  # a retry with the same credentials cannot succeed
_REDACTED = "<redacted>"


class FatalClose(ConnectionError):
    """The server closed, or refused the handshake, for a reason a retry will not fix
    (bad key, bad request). What ``connect()`` and the session's task raise then; ``code``
    is the server's (a close code), reported as the agent's one fatal error's code."""

    def __init__(self, reason: str, code: str | None = None) -> None:
        super().__init__(reason)
        self.code = code


class _GaveUp(ConnectionError):
    """The last retry failed; the SessionLost before it said so."""


def socket_settings(provider: object) -> dict[str, Any]:
    """ReconnectingSocket's keyword arguments from a provider's config: url and retries,
    which every config has, and the liveness and size limits, which keep their defaults
    where a config does not set them."""
    optional = {
        "connect_timeout_s": DEFAULT_CONNECT_TIMEOUT_S, "heartbeat_s": DEFAULT_HEARTBEAT_S,
        "max_msg_size": DEFAULT_MAX_MSG_SIZE, "healthy_after_s": DEFAULT_HEALTHY_AFTER_S,
    }  # fmt: skip
    required = ("url", "max_retries", "backoff_base_s", "backoff_max_s")
    return {name: getattr(provider, name) for name in required} | {
        name: getattr(provider, name, default) for name, default in optional.items()
    }


class _HandshakeTimeout(ConnectionError):
    """The server did not complete the websocket handshake within ``connect_timeout_s``."""


class ReconnectingSocket:
    def __init__(
        self,
        on_event: Callable[[ProviderEvent], None],
        *,
        url: str,
        max_retries: int,
        backoff_base_s: float,
        backoff_max_s: float,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        heartbeat_s: float | None = DEFAULT_HEARTBEAT_S,
        max_msg_size: int = DEFAULT_MAX_MSG_SIZE,
        healthy_after_s: float = DEFAULT_HEALTHY_AFTER_S,
    ) -> None:
        self.url = url
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.connect_timeout_s = connect_timeout_s
        self.heartbeat_s = heartbeat_s
        self.max_msg_size = max_msg_size
        self.healthy_after_s = healthy_after_s
        self._on_event = on_event
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._outbox: deque[str] = deque()
        self._wake = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._ready_at: float | None = None  # monotonic time this connection became ready
        self._closed = False
        self._planned = False
        self._abandoned = False  # reconnect() dropped this connection
        self._closing: set[asyncio.Task[Any]] = set()
        self.connects = 0
        self.unknown_events = 0
        self.malformed_events = 0
        self.oversize_frames = 0
        self.frame_tap: Callable[[str, str | bytes], None] | None = None

    # What a provider fills in -------------------------------------------------------------
    def headers(self) -> dict[str, str]:
        raise NotImplementedError

    def opening_frames(self) -> list[str]:
        """What opens a conversation on each connection (configuration, replayed history)."""
        raise NotImplementedError

    def on_frame(self, raw: str | bytes) -> None:
        raise NotImplementedError

    def close_reason(self, code: int | None, reason: str) -> str:
        """Why the server closed; raise FatalClose when retrying cannot help."""
        return f"closed by server (code {code}) {reason}".strip()

    # Lifecycle ----------------------------------------------------------------------------
    async def connect(self) -> None:
        """Connect (retrying as on a drop); returns once the first connection is ready."""
        self._http = aiohttp.ClientSession()
        self._runner = asyncio.get_running_loop().create_task(self._run(), name="provider-socket")
        self._runner.add_done_callback(_log_end)
        ready = asyncio.ensure_future(self._ready.wait())
        done, _ = await asyncio.wait({ready, self._runner}, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            self._runner.result()  # raises what ended it

    @property
    def ready(self) -> bool:
        """Connected and configured: a frame sent now reaches this connection's session."""
        return self._ws is not None and self._ready.is_set()

    def mark_ready(self) -> None:
        if self._ready_at is None:
            self._ready_at = time.monotonic()
        self._ready.set()

    async def aclose(self) -> None:
        self._closed = True
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._runner
        if self._ws is not None:
            await self._ws.close()
        if self._http is not None:
            await self._http.close()

    def reconnect(self) -> None:
        """Drop the current connection and connect anew: the agent waited too long for it
        to become ready. The drop counts as a failed attempt; nothing if none is open."""
        ws = self._ws
        if ws is None or self._closed:
            return
        self._abandoned = True
        task = asyncio.get_running_loop().create_task(ws.close(message=b"not ready in time"))
        self._closing.add(task)  # held: the loop keeps only weak references to tasks
        task.add_done_callback(self._closing.discard)

    async def reconnect_now(self) -> None:
        """Close the socket on purpose; the run loop reconnects at once (a planned hand-off)."""
        self._planned = True
        if self._ws is not None:
            await self._ws.close()

    async def _run(self) -> None:
        attempt = 0
        while not self._closed:
            self._ready_at, self._abandoned = None, False
            reason, fatal, code = await self._connection()
            if self._closed:
                return
            if fatal:
                logger.error("provider session ended: %s", reason)
                self._emit(SessionLost(reason=reason, will_reconnect=False, code=code))
                # Built from a string, outside any except block: no __cause__ or __context__
                # leads back to aiohttp's error and the request headers it holds.
                raise FatalClose(reason, code)
            if self._planned:
                continue  # a hand-off, not a failure: no backoff, no SessionLost
            if self._proved_healthy():
                attempt = 0  # it was up and working: the next drop starts the backoff anew
            attempt += 1
            will_retry = attempt <= self.max_retries
            logger.warning("provider socket lost (%s); %s", reason, "reconnecting" if will_retry else "giving up")
            self._ready.clear()
            self._emit(SessionLost(reason=reason, will_reconnect=will_retry))
            if not will_retry:
                raise _GaveUp(f"gave up after {self.max_retries} reconnects: {reason}")
            delay = min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1))
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # jitter: no thundering herd

    def _proved_healthy(self) -> bool:
        return self._ready_at is not None and time.monotonic() - self._ready_at >= self.healthy_after_s

    async def _connection(self) -> tuple[str, bool, str | None]:
        """One connection, from handshake to its end: why it ended, whether for good, and
        the server's code when it ended it for good.

        Returns a description instead of raising what aiohttp raised: a handshake error
        carries the request's headers, the API key among them.
        """
        try:
            await self._connect_once()
            self._planned = False
            return self._redact(await self._pump()), False, None
        except FatalClose as exc:
            return self._redact(str(exc)), True, exc.code
        except aiohttp.ClientResponseError as exc:  # the upgrade was answered with an HTTP error
            fatal = exc.status in _FATAL_STATUS
            return f"websocket handshake rejected: HTTP {exc.status}", fatal, None
        except _HandshakeTimeout as exc:
            return str(exc), False, None
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return self._redact(f"{type(exc).__name__}: {exc}"), False, None

    async def _connect_once(self) -> None:
        assert self._http is not None
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                self._ws = await self._http.ws_connect(
                    self.url,
                    headers=self.headers(),
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0),
                    heartbeat=self.heartbeat_s,
                    max_msg_size=self.max_msg_size,
                )
        except TimeoutError:
            raise _HandshakeTimeout(f"no websocket handshake within {self.connect_timeout_s:g} s") from None
        self.connects += 1
        if self.frame_tap is not None:
            self._tap("open", "")
        if not self._planned:
            self._outbox.clear()  # frames queued while down belonged to the old connection
        # The opening goes before anything queued during a planned hand-off.
        self._outbox.extendleft(reversed(self.opening_frames()))
        self._wake.set()

    async def _pump(self) -> str:
        """Read and write until the socket ends; returns why it ended."""
        assert self._ws is not None
        ws = self._ws
        writer = asyncio.get_running_loop().create_task(self._write(ws))
        try:
            while True:
                # receive() rather than iteration: the CLOSE frame carries the reason, which
                # is how some providers (Gemini) report errors.
                msg = await ws.receive()
                if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    self._frame(msg.data)
                elif self._abandoned:  # our own close: not the server's reason, not its error
                    return "no session ready in time: connecting anew"
                elif msg.type == aiohttp.WSMsgType.CLOSE:
                    if self.frame_tap is not None:
                        self._tap("close", json.dumps({"code": msg.data, "reason": self._redact(msg.extra or "")}))
                    return self.close_reason(msg.data, msg.extra or "")
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    # The error rides in the message; ws.exception() is set only on some paths.
                    return self._socket_error(msg.data if isinstance(msg.data, BaseException) else ws.exception())
                else:  # CLOSING / CLOSED: gone without a close frame
                    return self.close_reason(ws.close_code, "")
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
            self._ws = None

    def _frame(self, data: str | bytes) -> None:
        if self.frame_tap is not None:
            self._tap("server", data)
        # One bad frame must not end the session: whatever a frame does to the parser or
        # the mapper, it is counted and the next frame is read.
        try:
            self.on_frame(data)
        except Exception as exc:
            self.malformed_events += 1
            logger.warning("server frame dropped (%s: %s)", type(exc).__name__, _clip(str(exc)))

    def _socket_error(self, exc: BaseException | None) -> str:
        if isinstance(exc, aiohttp.WebSocketError) and exc.code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG:
            # aiohttp closes with 1009 on its own; this connection is lost, the next one may do.
            self.oversize_frames += 1
            self.malformed_events += 1
            logger.warning("server frame over max_msg_size (%d bytes): reconnecting", self.max_msg_size)
            return f"frame over max_msg_size ({self.max_msg_size} bytes)"
        if isinstance(exc, aiohttp.ServerTimeoutError):
            return f"heartbeat: {exc}"  # no pong: the peer or the path to it is gone
        return f"socket error: {exc}"

    async def _write(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            while self._outbox:
                frame = self._outbox.popleft()
                if self.frame_tap is not None:  # before the send: an answer is never tapped before its cause
                    self._tap("client", frame)
                await ws.send_str(frame)
            self._wake.clear()
            await self._wake.wait()

    def _tap(self, direction: str, data: str | bytes) -> None:
        tap = self.frame_tap
        if tap is None:  # callers check first (one test per frame); this is for mypy
            return
        try:
            tap(direction, data)
        except Exception as exc:  # a recorder's bug must not cost the call: it stops seeing frames
            self.frame_tap = None
            logger.error("the frame tap failed (%s: %s); it is detached", type(exc).__name__, _clip(str(exc)))

    def _redact(self, text: str) -> str:
        """``text`` with every credential this socket sends blanked out (belt and braces:
        server close reasons and library messages are not ours to trust)."""
        for value in self.headers().values():
            for token in value.split():
                if len(token) >= 8 and token in text:
                    text = text.replace(token, _REDACTED)
        return text

    def _emit(self, ev: ProviderEvent) -> None:
        try:
            self._on_event(ev)
        except Exception:  # the agent never raises, but a user's callback path might
            logger.exception("the agent failed on %s", ev.kind)

    def send_text(self, frame: str) -> None:
        if self._ws is None and not self._planned:
            logger.debug("socket down; not sending a frame")
            return
        self._outbox.append(frame)
        self._wake.set()


def _clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _log_end(task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    exc = task.exception()  # retrieved here, whether or not connect() is still waiting
    # A fatal close and the last retry were logged where they happened, once.
    if exc is not None and not isinstance(exc, (FatalClose, _GaveUp)):
        logger.error("provider session ended: %s", exc)
