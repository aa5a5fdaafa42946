"""ScriptedRealtime: an in-process provider that a test drives step by step.

It implements the same session port as the socket adapters: the agent calls its methods
(which are recorded as ``sent``), and the test emits provider events into the agent as a
reader task would. Capabilities are settable per test, so one script can play OpenAI (with
truncation) or Gemini (without).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from typing import Any

from turnstile.machine import (
    AudioDelta,
    Capabilities,
    ChatContext,
    FunctionCall,
    ProviderEvent,
    ResponseContentAdded,
    ResponseContentDone,
    ResponseCreated,
    ResponseDone,
    SessionReady,
    ToolCallsRequested,
    ToolOutput,
    ToolSchema,
    TranscriptDelta,
)

__all__ = ["ScriptedRealtime", "ScriptedSession", "Sent", "pcm_tone"]


class Sent:
    """One call the agent made on the session."""

    __slots__ = ("args", "name")

    def __init__(self, name: str, args: dict[str, Any]) -> None:
        self.name = name
        self.args = args

    def __repr__(self) -> str:
        return f"Sent({self.name!r}, {self.args!r})"


class ScriptedSession:
    def __init__(
        self,
        provider: ScriptedRealtime,
        chat_ctx: ChatContext,
        tools: Sequence[ToolSchema],
        on_event: Callable[[ProviderEvent], None],
    ) -> None:
        self._provider = provider
        self.chat_ctx = chat_ctx
        self.tools = list(tools)
        self._on_event = on_event
        self.sent: list[Sent] = []
        self.audio_chunks: list[bytes] = []
        self.closed = False
        self._changed = asyncio.Event()
        self._ids = itertools.count(1)

    @property
    def capabilities(self) -> Capabilities:
        return self._provider.capabilities

    # The port ---------------------------------------------------------------------
    async def connect(self) -> None:
        self._record("connect")
        if self._provider.ready_on_connect:
            self.emit(SessionReady())

    def push_audio(self, pcm: bytes) -> None:
        self.audio_chunks.append(pcm)
        self._changed.set()

    def commit_audio(self) -> None:
        self._record("commit_audio")

    def clear_audio(self) -> None:
        self._record("clear_audio")

    def start_user_turn(self) -> None:
        self._record("start_user_turn")

    def commit_user_turn(self) -> None:
        self._record("commit_user_turn")

    def clear_user_turn(self) -> None:
        self._record("clear_user_turn")

    def create_response(self, instructions: str | None = None) -> None:
        if instructions is None:
            self._record("create_response")
        else:
            self._record("create_response", instructions=instructions)

    def cancel_response(self) -> None:
        self._record("cancel_response")

    def truncate(self, item_id: str, content_index: int, audio_end_ms: int) -> None:
        self._record(
            "truncate", item_id=item_id, content_index=content_index, audio_end_ms=audio_end_ms
        )

    def delete_item(self, item_id: str) -> None:
        self._record("delete_item", item_id=item_id)

    def recover_from_text_response(self, item_id: str) -> None:
        self._record("recover_from_text_response", item_id=item_id)

    def send_tool_outputs(self, outputs: Sequence[ToolOutput]) -> None:
        self._record("send_tool_outputs", outputs=list(outputs))

    def reconnect(self) -> None:
        self._record("reconnect")

    def update_chat_ctx(self, ctx: ChatContext) -> None:
        self.chat_ctx = ctx.copy()
        self._record("update_chat_ctx", messages=len(ctx.messages))

    async def aclose(self) -> None:
        self.closed = True
        self._record("aclose")

    # Scripting ----------------------------------------------------------------------
    def emit(self, *events: ProviderEvent) -> None:
        """Deliver events to the agent, as the adapter's reader task would."""
        for ev in events:
            self._on_event(ev)

    def names(self) -> list[str]:
        return [s.name for s in self.sent]

    def last(self, name: str) -> Sent:
        for s in reversed(self.sent):
            if s.name == name:
                return s
        raise LookupError(f"the agent never called {name!r}; it called {self.names()}")

    async def wait_sent(self, name: str, *, count: int = 1, timeout: float = 5.0) -> Sent:
        """Wait until the agent has called ``name`` ``count`` times; returns the last call."""
        async with asyncio.timeout(timeout):
            while sum(1 for s in self.sent if s.name == name) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.last(name)

    async def wait_audio(self, chunks: int, *, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.audio_chunks) < chunks:
                self._changed.clear()
                await self._changed.wait()

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids)}"

    def start_audio_response(
        self, pcm: bytes, *, transcript: str = "", chunk_ms: int = 100, done: bool = True
    ) -> tuple[str, str]:
        """Emit a response with one audio item: created, content, deltas, (done).

        Returns (response_id, item_id). With ``done=False`` the test finishes it with
        ``finish_response``.
        """
        rid, iid = self.new_id("resp"), self.new_id("item")
        rate = self.capabilities.output_sample_rate
        self.emit(
            ResponseCreated(response_id=rid),
            ResponseContentAdded(response_id=rid, item_id=iid),
        )
        if transcript:
            self.emit(TranscriptDelta(response_id=rid, item_id=iid, delta=transcript))
        step = rate * chunk_ms // 1000 * 2
        for i in range(0, len(pcm), step):
            self.emit(AudioDelta(response_id=rid, item_id=iid, data=pcm[i : i + step]))
        if done:
            self.finish_response(rid, iid, transcript=transcript)
        return rid, iid

    def finish_response(self, rid: str, iid: str | None, *, transcript: str = "", status: str = "completed") -> None:
        if iid is not None:
            self.emit(ResponseContentDone(response_id=rid, item_id=iid, text=transcript))
        self.emit(ResponseDone(response_id=rid, status=status))  # type: ignore[arg-type]

    def text_response(self, text: str) -> tuple[str, str]:
        rid, iid = self.new_id("resp"), self.new_id("item")
        self.emit(
            ResponseCreated(response_id=rid),
            ResponseContentAdded(response_id=rid, item_id=iid, modality="text"),
            ResponseContentDone(response_id=rid, item_id=iid, modality="text", text=text),
            ResponseDone(response_id=rid),
        )
        return rid, iid

    def tool_call(self, name: str, arguments: str, *, call_id: str | None = None) -> str:
        """Emit a response that asks for one tool call, then its end."""
        rid = self.new_id("resp")
        cid = call_id or self.new_id("call")
        self.emit(
            ResponseCreated(response_id=rid),
            ToolCallsRequested(
                calls=(FunctionCall(call_id=cid, name=name, arguments=arguments),), response_id=rid
            ),
            ResponseDone(response_id=rid),
        )
        return cid

    def _record(self, name: str, **args: Any) -> None:
        self.sent.append(Sent(name, args))
        self._changed.set()


class ScriptedRealtime:
    """A RealtimeProvider whose sessions a test scripts."""

    def __init__(
        self, capabilities: Capabilities | None = None, *, ready_on_connect: bool = True
    ) -> None:
        self.capabilities = capabilities or Capabilities()
        self.ready_on_connect = ready_on_connect
        self.sessions: list[ScriptedSession] = []

    def session(
        self,
        *,
        chat_ctx: ChatContext,
        tools: Sequence[ToolSchema],
        on_event: Callable[[ProviderEvent], None],
    ) -> ScriptedSession:
        session = ScriptedSession(self, chat_ctx, tools, on_event)
        self.sessions.append(session)
        return session

    @property
    def last_session(self) -> ScriptedSession:
        if not self.sessions:
            raise LookupError("no session was opened: start the agent first")
        return self.sessions[-1]


def pcm_tone(ms: int, *, sample_rate: int = 24000, freq: float = 440.0, level: int = 8000) -> bytes:
    """A sine tone as PCM16 mono: recognisable audio for tests and demos, never silent."""
    import numpy as np

    t = np.arange(sample_rate * ms // 1000) / sample_rate
    return (np.sin(2 * np.pi * freq * t) * level).astype(np.int16).tobytes()
