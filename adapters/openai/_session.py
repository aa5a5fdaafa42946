"""One OpenAI Realtime conversation over an aiohttp websocket, reconnecting on a drop.

The port's methods are synchronous: they queue a frame for the writer task and return, so
the chart's actions never wait on the network. While the socket is down, control frames
are dropped (the conversation is replayed from the agent's chat context on reconnect) and
the agent holds the user's audio in its own bounded buffer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import aiohttp

from turnstile.machine import (
    Capabilities,
    ChatContext,
    ProviderEvent,
    SessionLost,
    SessionReady,
    ToolOutput,
    ToolSchema,
)

from . import _beta as beta
from . import _ga as ga
from ._mapping import EventMapper, history_items
from ._protocol import (
    ClientEventModel,
    ConversationItemDelete,
    ConversationItemTruncate,
    InputAudioBufferAppend,
    InputAudioBufferClear,
    InputAudioBufferCommit,
    ProtocolError,
    ResponseCancel,
    UnknownServerEvent,
    dump_client_event,
    parse_server_event,
)

if TYPE_CHECKING:
    from ._config import OpenAIRealtime

__all__ = ["OpenAIRealtimeSession"]

logger = logging.getLogger("turnstile.openai")


class OpenAIRealtimeSession:
    def __init__(
        self,
        provider: OpenAIRealtime,
        chat_ctx: ChatContext,
        tools: Sequence[ToolSchema],
        on_event: Callable[[ProviderEvent], None],
    ) -> None:
        self._p = provider
        self.chat_ctx = chat_ctx  # the agent's own, live: replayed as it is at reconnect
        self.tools = list(tools)
        self._on_event = on_event
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._outbox: deque[str] = deque()
        self._wake = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._closed = False
        self.connects = 0
        self.unknown_events = 0
        self.malformed_events = 0

    @property
    def capabilities(self) -> Capabilities:
        return self._p.capabilities

    # Lifecycle ------------------------------------------------------------------------
    async def connect(self) -> None:
        """Connect (retrying as on a drop); returns once the first connection is ready."""
        self._http = aiohttp.ClientSession()
        self._runner = asyncio.get_running_loop().create_task(self._run(), name="openai-session")
        self._runner.add_done_callback(_log_end)
        ready = asyncio.ensure_future(self._ready.wait())
        done, _ = await asyncio.wait({ready, self._runner}, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            self._runner.result()  # raises what ended it

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

    async def _run(self) -> None:
        attempt = 0
        while not self._closed:
            try:
                await self._connect_once()
                attempt = 0  # it was up: the next drop starts the backoff anew
                reason = await self._pump()
            except asyncio.CancelledError:
                raise
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
                if isinstance(exc, aiohttp.WSServerHandshakeError) and exc.status in (401, 403):
                    self._emit(SessionLost(reason=f"rejected: HTTP {exc.status}", will_reconnect=False))
                    raise
            if self._closed:
                return
            attempt += 1
            will_retry = attempt <= self._p.max_retries
            logger.warning("realtime socket lost (%s); %s", reason, "reconnecting" if will_retry else "giving up")
            self._ready.clear()
            self._emit(SessionLost(reason=reason, will_reconnect=will_retry))
            if not will_retry:
                raise ConnectionError(f"gave up after {self._p.max_retries} reconnects: {reason}")
            delay = min(self._p.backoff_max_s, self._p.backoff_base_s * 2 ** (attempt - 1))
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # jitter: no thundering herd

    async def _connect_once(self) -> None:
        assert self._http is not None
        self._ws = await self._http.ws_connect(
            self._p.url,
            headers=self._p.headers(),
            timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5.0),  # type: ignore[call-arg]
            max_msg_size=0,
            autoping=True,
        )
        self.connects += 1
        self._mapper = EventMapper()
        self._outbox.clear()  # frames queued while down belonged to the old conversation
        self._send(self._p.session_update(self.tools))
        if self.connects > 1:
            for event in history_items(self.chat_ctx, self._p.dialect):
                self._send(event)

    async def _pump(self) -> str:
        """Read and write until the socket ends; returns why it ended."""
        assert self._ws is not None
        ws = self._ws
        writer = asyncio.get_running_loop().create_task(self._write(ws))
        try:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    self._handle(msg.data)
                elif msg.type == aiohttp.WSMsgType.BINARY:
                    self._handle(msg.data)
                elif msg.type == aiohttp.WSMsgType.ERROR:
                    return f"socket error: {ws.exception()}"
            return f"closed by server (code {ws.close_code})"
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

    def _handle(self, raw: str | bytes) -> None:
        try:
            ev = parse_server_event(raw, self._p.dialect)
        except ProtocolError as exc:
            self.malformed_events += 1
            logger.warning("malformed server event (%s): %s", exc.event_type or "?", exc)
            return
        if isinstance(ev, UnknownServerEvent):
            self.unknown_events += 1
            logger.info("unknown server event type %r ignored", ev.type)
            return
        was_ready = self._mapper.session_updated
        for out in self._mapper.map(ev):
            self._emit(out)
        if not was_ready and self._mapper.session_updated:
            self._ready.set()
            self._emit(SessionReady())

    def _emit(self, ev: ProviderEvent) -> None:
        try:
            self._on_event(ev)
        except Exception:  # the agent never raises, but a user's callback path might
            logger.exception("the agent failed on %s", ev.kind)

    def _send(self, event: ClientEventModel) -> None:
        if self._ws is None:
            logger.debug("socket down; not sending %s", event.type)
            return
        self._outbox.append(dump_client_event(event))
        self._wake.set()

    # The port -------------------------------------------------------------------------
    def push_audio(self, pcm: bytes) -> None:
        self._send(InputAudioBufferAppend.from_pcm(pcm))

    def commit_audio(self) -> None:
        self._send(InputAudioBufferCommit())

    def clear_audio(self) -> None:
        self._send(InputAudioBufferClear())

    def create_response(self) -> None:
        self._send(beta.BetaResponseCreate() if self._p.dialect == "beta" else ga.ResponseCreate())

    def cancel_response(self) -> None:
        self._send(ResponseCancel())

    def truncate(self, item_id: str, content_index: int, audio_end_ms: int) -> None:
        self._send(
            ConversationItemTruncate(item_id=item_id, content_index=content_index, audio_end_ms=audio_end_ms)
        )

    def delete_item(self, item_id: str) -> None:
        self._send(ConversationItemDelete(item_id=item_id))

    def recover_from_text_response(self, item_id: str) -> None:
        # Forget the text answer and ask again, saying explicitly that audio is wanted.
        self._send(ConversationItemDelete(item_id=item_id))
        if self._p.dialect == "beta":
            self._send(beta.BetaResponseCreate(response=beta.BetaResponseParams(modalities=["audio", "text"])))
        else:
            self._send(ga.ResponseCreate(response=ga.ResponseCreateParams(output_modalities=["audio"])))

    def send_tool_outputs(self, outputs: Sequence[ToolOutput]) -> None:
        create = beta.BetaConversationItemCreate if self._p.dialect == "beta" else ga.ConversationItemCreate
        for out in outputs:
            self._send(create(item=ga.FunctionCallOutputItem(call_id=out.call_id, output=out.output)))

    def update_chat_ctx(self, ctx: ChatContext) -> None:
        # The server's copy is rebuilt on the next connection; items already on the server
        # stay as they are (they were created from what was heard).
        self.chat_ctx = ctx


def _log_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("realtime session ended: %s", task.exception())
