"""ReconnectingSocket, through the real provider sessions, against servers on 127.0.0.1 that
misbehave in one way each: accept and close, never answer the upgrade, stop answering pings,
send a frame too large, refuse the key. Every test ends within a bounded time or fails."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from turnstile.adapters._loopback import LoopbackServer
from turnstile.adapters._socket import ReconnectingSocket
from turnstile.adapters.gemini import GeminiLive
from turnstile.adapters.local import LocalRoom
from turnstile.adapters.openai import OpenAIRealtime
from turnstile.adapters.openai._server import OpenAIRealtimeServer
from turnstile.adapters.openai._session import OpenAIRealtimeSession
from turnstile.adapters.scenario import load_scenario
from turnstile.machine import AgentError, ChatContext, ProviderEvent, RealtimeAgent, SessionLost

from ._util import wait_until

WsHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MARKER = "sk-MARKER-3f9a1c7e-never-shown"
GEMINI_PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
READY = json.dumps({"type": "session.updated", "session": {"type": "realtime"}})


class TinyServer(LoopbackServer):
    """A websocket server whose every connection runs ``handler``; counts connections."""

    def __init__(self, handler: WsHandler) -> None:
        self.host, self.port = "127.0.0.1", 0
        self.handler = handler
        self.connections = 0
        self.sockets: set[web.WebSocketResponse] = set()

    def routes(self) -> dict[str, WsHandler]:
        return {"/v1/realtime": self._handle, GEMINI_PATH: self._handle}

    async def close_connections(self) -> None:
        for ws in list(self.sockets):
            await ws.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.connections += 1
        return await self.handler(request)

    @property
    def url(self) -> str:
        return f"ws://{self._authority}/v1/realtime"

    @property
    def gemini_url(self) -> str:
        return f"ws://{self._authority}{GEMINI_PATH}"


async def accept_and_close(request: web.Request) -> web.StreamResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    await ws.close()
    return ws


async def ready_then_close(request: web.Request) -> web.StreamResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    await ws.receive()  # session.update
    await ws.send_str(READY)
    await ws.close()
    return ws


def ready_then(
    then: Callable[[web.WebSocketResponse], Awaitable[None]], *, autoping: bool = True, ready: str = READY
) -> WsHandler:
    """Answer the client's opening frame with ``ready``, run ``then``, then read (and
    ignore) until the client goes."""

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=autoping)
        await ws.prepare(request)
        await ws.receive()
        await ws.send_str(ready)
        await then(ws)
        async for _ in ws:
            pass  # with autoping off, the client's pings arrive here and go unanswered
        return ws

    return handler


async def nothing(ws: web.WebSocketResponse) -> None:
    return None


class Events:
    """The session's on_event callback; wait on what it was given."""

    def __init__(self) -> None:
        self.items: list[ProviderEvent] = []
        self._changed = asyncio.Event()

    def __call__(self, ev: ProviderEvent) -> None:
        self.items.append(ev)
        self._changed.set()

    async def wait_for(self, predicate: Callable[[ProviderEvent], bool], timeout: float = 10.0) -> ProviderEvent:
        async with asyncio.timeout(timeout):
            while True:
                found = next((ev for ev in self.items if predicate(ev)), None)
                if found is not None:
                    return found
                self._changed.clear()
                await self._changed.wait()

    @property
    def lost(self) -> list[SessionLost]:
        return [ev for ev in self.items if isinstance(ev, SessionLost)]


def final_loss(ev: ProviderEvent) -> bool:
    return isinstance(ev, SessionLost) and not ev.will_reconnect


QUICK_RETRIES: dict[str, Any] = {"max_retries": 2, "backoff_base_s": 0.01, "backoff_max_s": 0.05}


def openai_session(url: str, events: Events, **kw: Any) -> OpenAIRealtimeSession:
    provider = OpenAIRealtime(api_key="sk-test", url=url, **(QUICK_RETRIES | kw))
    return provider.session(chat_ctx=ChatContext(), tools=[], on_event=events)


def gemini_quick(url: str, events: Events, **kw: Any) -> ReconnectingSocket:
    provider = GeminiLive(api_key="g-test", url=url, **(QUICK_RETRIES | kw))
    return provider.session(chat_ctx=ChatContext(), tools=[], on_event=events)


# Retries ----------------------------------------------------------------------------------


async def test_a_server_that_accepts_and_closes_is_retried_max_retries_times_then_given_up() -> None:
    events = Events()
    async with TinyServer(accept_and_close) as server:
        session = openai_session(server.url, events)
        try:
            async with asyncio.timeout(10):
                with pytest.raises(ConnectionError, match="gave up after 2 reconnects"):
                    await session.connect()
        finally:
            await session.aclose()
    assert server.connections == 3
    assert [ev.will_reconnect for ev in events.lost] == [True, True, False]


async def test_a_server_that_gets_ready_and_drops_at_once_is_not_healthy() -> None:
    # Ready, then closed straight away, again and again: each connection counts as a failed
    # attempt, because none stayed up healthy_after_s.
    events = Events()
    async with TinyServer(ready_then_close) as server:
        session = openai_session(server.url, events)
        try:
            await asyncio.wait_for(session.connect(), 10)  # the first connection got ready
            await events.wait_for(final_loss)
        finally:
            await session.aclose()
    assert server.connections == 3
    assert [ev.will_reconnect for ev in events.lost] == [True, True, False]


async def test_a_connection_that_proved_healthy_starts_the_count_again() -> None:
    events = Events()
    async with TinyServer(ready_then_close) as server:
        session = openai_session(server.url, events, max_retries=1)
        session.healthy_after_s = 0.0  # every ready connection counts as healthy
        try:
            await asyncio.wait_for(session.connect(), 10)
            await events.wait_for(lambda _: len(events.lost) >= 6)  # far past max_retries
        finally:
            await session.aclose()
    assert all(ev.will_reconnect for ev in events.lost)


async def test_an_agent_against_a_flapping_server_closes_with_a_fatal_error() -> None:
    async with TinyServer(accept_and_close) as server:
        provider = OpenAIRealtime(api_key="sk-test", url=server.url, max_retries=2, backoff_base_s=0.01)
        agent, room = RealtimeAgent(provider), LocalRoom()
        errors: list[AgentError] = []
        agent.on("error", errors.append)
        try:
            await agent.start(room)
            await agent.wait_for_state("closed", timeout=10)
        finally:
            await agent.aclose()
            await room.aclose()
    assert server.connections == 3
    assert errors and not errors[-1].recoverable


# Liveness ---------------------------------------------------------------------------------


async def never_ready(request: web.Request) -> web.StreamResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for _ in ws:
        pass  # reads session.update, never answers it
    return ws


@pytest.mark.parametrize("provider", ["openai", "gemini"])
async def test_reconnect_drops_a_connection_that_never_got_ready_as_a_failed_attempt(provider: str) -> None:
    # What the agent does when initializing outlasts its session_timeout_s.
    events = Events()
    async with TinyServer(never_ready) as server:
        if provider == "openai":
            session: ReconnectingSocket = openai_session(server.url, events, max_retries=1)
        else:
            session = gemini_quick(server.gemini_url, events, max_retries=1)
        session.reconnect()  # nothing open yet: nothing happens
        connecting = asyncio.ensure_future(session.connect())
        try:
            await wait_until(lambda: session._ws is not None, timeout=5)
            session.reconnect()
            lost = await events.wait_for(lambda ev: isinstance(ev, SessionLost))
            assert isinstance(lost, SessionLost) and lost.will_reconnect and "no session ready" in lost.reason
            await wait_until(lambda: session.connects == 2 and session._ws is not None, timeout=5)
            session.reconnect()  # the second in a row: past max_retries=1
            await events.wait_for(final_loss)
            with pytest.raises(ConnectionError, match="gave up after 1 reconnects: no session ready"):
                await asyncio.wait_for(connecting, 5)
        finally:
            connecting.cancel()
            await session.aclose()
    assert server.connections == 2
    assert [ev.kind for ev in events.items] == ["session_lost", "session_lost"]  # no error of the server's




async def test_a_server_that_never_answers_the_upgrade_times_out_each_attempt() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        await reader.read()  # holds the connection open, says nothing

    tcp = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = tcp.sockets[0].getsockname()[1]
    events = Events()
    session = openai_session(f"ws://127.0.0.1:{port}/v1/realtime", events, connect_timeout_s=0.3)
    started = time.monotonic()
    try:
        async with asyncio.timeout(10):
            with pytest.raises(ConnectionError, match=r"no websocket handshake within 0\.3 s"):
                await session.connect()
    finally:
        await session.aclose()
        for writer in accepted:
            writer.close()
        tcp.close()
        await tcp.wait_closed()
    # Three attempts of 0.3 s, with two short backoffs between them.
    assert len(accepted) == 3 and time.monotonic() - started < 3 * 0.3 + 1.0
    assert [ev.will_reconnect for ev in events.lost] == [True, True, False]


async def test_a_server_that_stops_answering_pings_is_a_drop_that_reconnects() -> None:
    events = Events()
    async with TinyServer(ready_then(nothing, autoping=False)) as server:
        session = openai_session(server.url, events)
        session.heartbeat_s = 0.2  # a ping after 0.2 s of silence, a drop 0.1 s later without a pong
        try:
            await asyncio.wait_for(session.connect(), 10)
            lost = await events.wait_for(lambda ev: isinstance(ev, SessionLost), timeout=5)
            assert isinstance(lost, SessionLost) and lost.will_reconnect and "PONG" in lost.reason
            await events.wait_for(lambda _: session.connects == 2, timeout=5)
        finally:
            await session.aclose()


async def test_the_session_sends_pings_by_default() -> None:
    events = Events()
    async with TinyServer(accept_and_close) as server:
        session = openai_session(server.url, events)
        await session.aclose()
    assert session.heartbeat_s is not None and 0 < session.heartbeat_s <= 30
    assert session.connect_timeout_s == 10.0  # OpenAIRealtime's connect_timeout_s reaches the socket


# Sizes ------------------------------------------------------------------------------------


async def send_oversize(ws: web.WebSocketResponse) -> None:
    await ws.send_str(json.dumps({"type": "x_padding", "pad": "a" * 100_000}))


async def test_a_frame_over_max_msg_size_is_a_counted_drop_that_reconnects(caplog: pytest.LogCaptureFixture) -> None:
    events = Events()
    async with TinyServer(ready_then(send_oversize)) as server:
        session = openai_session(server.url, events)
        session.max_msg_size = 64 * 1024
        try:
            await asyncio.wait_for(session.connect(), 10)
            lost = await events.wait_for(lambda ev: isinstance(ev, SessionLost))
            assert isinstance(lost, SessionLost) and lost.will_reconnect and "max_msg_size" in lost.reason
            assert session.oversize_frames == 1 and session.malformed_events == 1
            await events.wait_for(lambda _: session.connects == 2)
        finally:
            await session.aclose()
    assert any("max_msg_size" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


async def test_the_default_frame_limit_is_bounded() -> None:
    session = openai_session("ws://127.0.0.1:9/v1/realtime", Events())
    assert 0 < session.max_msg_size <= 64 * 1024 * 1024


# Frames the session cannot handle ---------------------------------------------------------


class Exploding(OpenAIRealtimeSession):
    """A session whose frame handling has a bug for frames that mention "boom"."""

    def on_frame(self, raw: str | bytes) -> None:
        if "boom" in (raw if isinstance(raw, str) else raw.decode()):
            raise RuntimeError("a bug in frame handling")
        super().on_frame(raw)


async def send_boom_then_speech(ws: web.WebSocketResponse) -> None:
    await ws.send_str('{"type": "boom"}')
    await ws.send_str(json.dumps({"type": "input_audio_buffer.speech_started", "audio_start_ms": 0, "item_id": "s"}))


async def test_an_exception_from_a_frame_never_ends_the_session(caplog: pytest.LogCaptureFixture) -> None:
    events = Events()
    async with TinyServer(ready_then(send_boom_then_speech)) as server:
        provider = OpenAIRealtime(api_key="sk-test", url=server.url)
        session = Exploding(provider, ChatContext(), [], events)
        try:
            await asyncio.wait_for(session.connect(), 10)
            await events.wait_for(lambda ev: ev.kind == "input_speech_started")  # the frame after it
            assert session.malformed_events == 1 and events.lost == []
            assert session._runner is not None and not session._runner.done()
        finally:
            await session.aclose()
    assert any("RuntimeError: a bug in frame handling" in r.getMessage() for r in caplog.records)


# Secrets ----------------------------------------------------------------------------------


def texts_of(exc: BaseException | None, seen: set[int] | None = None) -> list[str]:
    """Everything an exception shows: repr, str, args, attributes, and its chain."""
    seen = set() if seen is None else seen
    if exc is None or id(exc) in seen:
        return []
    seen.add(id(exc))
    out = [repr(exc), str(exc), repr(exc.args), repr(getattr(exc, "__dict__", {}))]
    return out + texts_of(exc.__cause__, seen) + texts_of(exc.__context__, seen)


async def refuse(request: web.Request) -> web.StreamResponse:
    return web.json_response({"error": {"message": "Incorrect API key provided."}}, status=401)


def gemini_session(url: str, events: Events) -> ReconnectingSocket:
    return GeminiLive(api_key=MARKER, url=url).session(chat_ctx=ChatContext(), tools=[], on_event=events)


def openai_marked(url: str, events: Events) -> ReconnectingSocket:
    return OpenAIRealtime(api_key=MARKER, url=url).session(chat_ctx=ChatContext(), tools=[], on_event=events)


@pytest.mark.parametrize("make", [openai_marked, gemini_session], ids=["openai", "gemini"])
async def test_a_refused_handshake_shows_no_key_anywhere(
    make: Callable[[str, Events], ReconnectingSocket], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    events = Events()
    async with TinyServer(refuse) as server:
        session = make(server.gemini_url if make is gemini_session else server.url, events)
        try:
            with pytest.raises(ConnectionError) as caught:
                await asyncio.wait_for(session.connect(), 10)
            runner = session._runner
            assert runner is not None and runner.done()
            task_error = runner.exception()
        finally:
            await session.aclose()
    assert server.connections == 1  # a 401 is final: no retry
    assert "HTTP 401" in str(caught.value)
    shown = texts_of(caught.value) + texts_of(task_error) + [repr(ev) for ev in events.items]
    formatter = logging.Formatter()
    shown += [formatter.format(r) for r in caplog.records]
    leaks = [text for text in shown if MARKER in text or MARKER[3:] in text]
    assert leaks == []


async def test_an_agent_refused_by_the_loopback_server_shows_no_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with OpenAIRealtimeServer(load_scenario(), api_key="the-right-key") as server:
        provider = OpenAIRealtime(api_key=MARKER, url=server.url)
        agent, room = RealtimeAgent(provider), LocalRoom()
        errors: list[AgentError] = []
        agent.on("error", errors.append)
        try:
            await agent.start(room)
            await agent.wait_for_state("closed", timeout=10)
        finally:
            await agent.aclose()
            await room.aclose()
    assert errors and all(e.code != "internal" for e in errors)
    formatter = logging.Formatter()
    shown = [repr(e) for e in errors] + [formatter.format(r) for r in caplog.records]
    assert [text for text in shown if MARKER in text] == []


# Frame fuzzing, shared with tests/openai/test_robustness.py and tests/gemini/test_robustness.py.

ODD_VALUES: list[Any] = [
    None, True, 0, -1, 2**70, 1.5, "", "!!not base64!!", "AAE", [], {}, ["x"], {"type": ["x"]},
    {"type": {"a": 1}}, {"type": "message", "role": ["user"]}, {"type": None},
]  # fmt: skip
_DEEP = "@@deep@@"


def _paths(obj: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    children = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for key, value in children:
        found += _paths(value, (*path, key))
    return found


def _replaced(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return obj


def mutated(frame: str, rng: random.Random) -> str | bytes:
    """``frame`` broken one way: bytes flipped, cut short, or one value (anywhere in it)
    replaced by a value of another type, possibly nested thousands deep."""
    kind = rng.random()
    if kind < 0.15:
        data = bytearray(frame.encode())
        for _ in range(rng.randint(1, 5)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    if kind < 0.2:
        return frame[: rng.randrange(len(frame))]
    obj = json.loads(frame)
    depth = rng.choice([0] * 8 + [64, 5000])
    value = "[" * depth + json.dumps(rng.choice(ODD_VALUES)) + "]" * depth
    text = json.dumps(_replaced(obj, rng.choice(_paths(obj)), _DEEP)).replace(json.dumps(_DEEP), value)
    return text if rng.random() < 0.8 else text.encode()


def sender(frames: list[str | bytes]) -> Callable[[web.WebSocketResponse], Awaitable[None]]:
    async def send(ws: web.WebSocketResponse) -> None:
        for frame in frames:
            await (ws.send_bytes(frame) if isinstance(frame, bytes) else ws.send_str(frame))

    return send
