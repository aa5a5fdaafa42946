"""A websocket that reconnects: what every provider session shares.

Sends are synchronous (the chart's actions call them): a frame goes into an outbox that a
writer task drains, so no action ever waits on the network. A drop is retried with bounded
exponential backoff and jitter; subclasses say what to send on each connection and how to
read a frame, and decide which close codes are final.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Callable

import aiohttp

from turnstile.machine import ProviderEvent, SessionLost

__all__ = ["FatalClose", "ReconnectingSocket"]

logger = logging.getLogger("turnstile.socket")


class FatalClose(Exception):
    """The server closed for a reason a retry will not fix (bad key, bad request)."""


class ReconnectingSocket:
    def __init__(
        self,
        on_event: Callable[[ProviderEvent], None],
        *,
        url: str,
        max_retries: int,
        backoff_base_s: float,
        backoff_max_s: float,
    ) -> None:
        self.url = url
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self._on_event = on_event
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._outbox: deque[str] = deque()
        self._wake = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._closed = False
        self._planned = False
        self.connects = 0
        self.unknown_events = 0
        self.malformed_events = 0

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

    def mark_ready(self) -> None:
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

    async def reconnect_now(self) -> None:
        """Close the socket on purpose; the run loop reconnects at once (a planned hand-off)."""
        self._planned = True
        if self._ws is not None:
            await self._ws.close()

    async def _run(self) -> None:
        attempt = 0
        while not self._closed:
            try:
                await self._connect_once()
                self._planned = False
                attempt = 0  # it was up: the next drop starts the backoff anew
                reason = await self._pump()
            except asyncio.CancelledError:
                raise
            except FatalClose as exc:
                self._emit(SessionLost(reason=str(exc), will_reconnect=False))
                raise
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
                if isinstance(exc, aiohttp.WSServerHandshakeError) and exc.status in (401, 403):
                    self._emit(SessionLost(reason=f"rejected: HTTP {exc.status}", will_reconnect=False))
                    raise
            if self._closed:
                return
            if self._planned:
                continue  # a hand-off, not a failure: no backoff, no SessionLost
            attempt += 1
            will_retry = attempt <= self.max_retries
            logger.warning("provider socket lost (%s); %s", reason, "reconnecting" if will_retry else "giving up")
            self._ready.clear()
            self._emit(SessionLost(reason=reason, will_reconnect=will_retry))
            if not will_retry:
                raise ConnectionError(f"gave up after {self.max_retries} reconnects: {reason}")
            delay = min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1))
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # jitter: no thundering herd

    async def _connect_once(self) -> None:
        assert self._http is not None
        self._ws = await self._http.ws_connect(
            self.url,
            headers=self.headers(),
            timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0),  # type: ignore[call-arg]
            max_msg_size=0,
        )
        self.connects += 1
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
                    self.on_frame(msg.data)
                elif msg.type == aiohttp.WSMsgType.CLOSE:
                    return self.close_reason(msg.data, msg.extra or "")
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    return f"socket error: {ws.exception()}"
                else:  # CLOSING / CLOSED: gone without a close frame
                    return self.close_reason(ws.close_code, "")
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
            self._ws = None

    async def _write(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            while self._outbox:
                await ws.send_str(self._outbox.popleft())
            self._wake.clear()
            await self._wake.wait()

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


def _log_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("provider session ended: %s", task.exception())
