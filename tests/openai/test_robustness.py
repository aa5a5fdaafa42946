"""An OpenAI Realtime session survives any frame (both dialects): a frame is handled or
counted as malformed, never the end of the session. The frames broken here are a real
reply of the loopback server, captured over a socket. And the loopback server stays flat:
what it records is bounded, and a client that never completes its request is closed."""

from __future__ import annotations

import asyncio
import json
import math
import random

import aiohttp
import pytest

from turnstile.adapters._loopback import KEEP_EVENTS, BoundedDict, BoundedLog
from turnstile.adapters.openai import OpenAIRealtime
from turnstile.adapters.openai._protocol import InputAudioBufferAppend, encode_audio
from turnstile.adapters.openai._server import OpenAIRealtimeServer
from turnstile.adapters.openai._session import OpenAIRealtimeSession
from turnstile.adapters.scenario import load_scenario
from turnstile.machine import AudioDelta, ChatContext, ProviderEvent

from ..test_socket import Events, TinyServer, mutated, ready_then, sender

DIALECTS = ["ga", "beta"]
WHERE = {"response_id": "resp_1", "item_id": "item_1", "output_index": 0, "content_index": 0}


def audio_delta(dialect: str) -> str:
    return "response.output_audio.delta" if dialect == "ga" else "response.audio.delta"


def bad_frames(dialect: str) -> dict[str, str | bytes]:
    """One frame for each way a frame used to end the session, and a few more."""
    created = "conversation.item.added" if dialect == "ga" else "conversation.item.created"
    return {
        "invalid base64 audio": json.dumps({"type": audio_delta(dialect), **WHERE, "delta": "!!not base64!!"}),
        "a type that is a list": json.dumps({"type": ["session.updated"]}),
        "an item type that is an object": json.dumps(
            {"type": created, "previous_item_id": None, "item": {"id": "item_2", "type": {"a": 1}}}
        ),
        "an item type that is a list": json.dumps(
            {"type": created, "previous_item_id": None, "item": {"id": "item_2", "type": ["message"]}}
        ),
        "a content part type that is a list": json.dumps(
            {"type": "response.content_part.added", **WHERE, "part": {"type": ["audio"]}}
        ),
        "random bytes": bytes(range(256)),
        "nesting 100k deep": "[" * 100_000 + "]" * 100_000,
        "not an object": "[1, 2]",
    }


def session_for(dialect: str, url: str, events: Events | list[ProviderEvent]) -> OpenAIRealtimeSession:
    provider = OpenAIRealtime(api_key="sk-test", url=url, dialect=dialect)  # type: ignore[arg-type]
    on_event = events if isinstance(events, Events) else events.append
    return provider.session(chat_ctx=ChatContext(), tools=[], on_event=on_event)


async def captured_reply(dialect: str) -> list[str]:
    """Every frame of the loopback server's first reply, as it sent them."""
    headers = {"Authorization": "Bearer sk-test"} | ({"OpenAI-Beta": "realtime=v1"} if dialect == "beta" else {})
    async with OpenAIRealtimeServer(load_scenario(), pace=math.inf) as srv, aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"{srv.url}?model=gpt-realtime", headers=headers)
        await ws.send_str(json.dumps({"type": "response.create"}))
        frames: list[str] = []
        async with asyncio.timeout(10):
            while not frames or '"response.done"' not in frames[-1]:
                frames.append((await ws.receive()).data)
        await ws.close()
    assert any(f'"{audio_delta(dialect)}"' in f for f in frames)
    return frames


@pytest.mark.parametrize("name", list(bad_frames("ga")))
@pytest.mark.parametrize("dialect", DIALECTS)
async def test_each_bad_frame_is_counted_once_and_emits_nothing(dialect: str, name: str) -> None:
    events: list[ProviderEvent] = []
    session = session_for(dialect, "ws://127.0.0.1:9/v1/realtime", events)
    session.on_frame(bad_frames(dialect)[name])  # raises nothing
    assert (session.malformed_events, session.unknown_events, events) == (1, 0, [])


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_every_mutated_frame_is_handled_or_counted(dialect: str) -> None:
    frames = await captured_reply(dialect)
    rng = random.Random(20260)
    session = session_for(dialect, "ws://127.0.0.1:9/v1/realtime", [])
    for _ in range(1500):
        counted = session.malformed_events + session.unknown_events
        session.on_frame(mutated(rng.choice(frames), rng))  # raises nothing
        assert session.malformed_events + session.unknown_events - counted in (0, 1)
    assert session.malformed_events > 100  # the mutations did break frames


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_stream_of_broken_frames_over_a_socket_never_ends_the_session(dialect: str) -> None:
    frames = await captured_reply(dialect)
    rng = random.Random(7)
    bad = list(bad_frames(dialect).values())
    fuzz = bad + [mutated(rng.choice(frames), rng) for _ in range(400)]
    last = json.dumps({"type": audio_delta(dialect), **WHERE, "item_id": "last", "delta": encode_audio(b"\1\0")})
    events = Events()
    async with TinyServer(ready_then(sender([*fuzz, last]))) as server:
        session = session_for(dialect, server.url, events)
        try:
            await asyncio.wait_for(session.connect(), 10)
            # The frame after all the broken ones arrives, decoded: the session read on.
            delta = await events.wait_for(lambda ev: isinstance(ev, AudioDelta) and ev.item_id == "last")
            assert isinstance(delta, AudioDelta) and delta.data == b"\1\0"
            assert session._runner is not None and not session._runner.done()
            assert events.lost == [] and session.connects == 1
            assert session.malformed_events >= len(bad)
        finally:
            await session.aclose()


# The loopback server's own limits -----------------------------------------------------------


def test_bounded_records_keep_the_newest_entries() -> None:
    log: BoundedLog[int] = BoundedLog(3)
    log.extend(range(5))
    log.append(5)
    assert log == [3, 4, 5] and log[-2:] == [4, 5] and log.dropped == 3
    table: BoundedDict[str, float] = BoundedDict(2)
    table["a"], table["b"] = 1.0, 2.0
    table["a"] += 1.0  # an update is not a new key: nothing is forgotten
    table["c"] = 3.0
    assert table == {"b": 2.0, "c": 3.0}


async def test_a_long_call_does_not_grow_the_servers_record() -> None:
    chunk = encode_audio(bytes(480))  # 10 ms of silence
    appends = KEEP_EVENTS + 100
    async with OpenAIRealtimeServer(load_scenario()) as srv, aiohttp.ClientSession() as http:
        ws = await http.ws_connect(srv.url, headers={"Authorization": "Bearer sk-test"})
        for _ in range(appends):
            await ws.send_str(json.dumps({"type": "input_audio_buffer.append", "audio": chunk}))
        await ws.send_str(json.dumps({"type": "input_audio_buffer.clear"}))
        async with asyncio.timeout(20):
            while '"input_audio_buffer.cleared"' not in (await ws.receive()).data:
                pass
        await ws.close()
        record = srv.received[0]
    assert len(record) == KEEP_EVENTS and record[-1].type == "input_audio_buffer.clear"
    assert {e.audio for e in record if isinstance(e, InputAudioBufferAppend)} == {""}  # no audio kept
    assert srv.connections[0].received.dropped == appends + 1 - KEEP_EVENTS  # type: ignore[attr-defined]


async def test_a_client_that_never_completes_its_request_is_closed() -> None:
    srv = OpenAIRealtimeServer(load_scenario())
    srv.header_timeout_s = 0.2
    async with srv, aiohttp.ClientSession() as http:
        ws = await http.ws_connect(srv.url, headers={"Authorization": "Bearer sk-test"})
        reader, writer = await asyncio.open_connection(srv.host, srv.port)
        writer.write(b"GET /v1/realtime HTTP/1.1\r\nHost: loopback\r\n")  # and never the end of the headers
        started = asyncio.get_running_loop().time()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
        assert asyncio.get_running_loop().time() - started < 2
        writer.close()
        # The websocket opened before it is idle longer than the header timeout and still served.
        await ws.send_str(json.dumps({"type": "input_audio_buffer.clear"}))
        async with asyncio.timeout(5):
            while '"input_audio_buffer.cleared"' not in (await ws.receive()).data:
                pass
        await ws.close()


async def test_the_server_keeps_the_newest_connections_and_items() -> None:
    srv = OpenAIRealtimeServer(load_scenario(), pace=math.inf)
    srv.connections.maxlen = 2  # type: ignore[attr-defined]
    srv.audio_sent_ms.maxlen = 1  # type: ignore[attr-defined]
    async with srv, aiohttp.ClientSession() as http:
        for _ in range(3):
            ws = await http.ws_connect(srv.url, headers={"Authorization": "Bearer sk-test"})
            await ws.send_str(json.dumps({"type": "response.create"}))
            async with asyncio.timeout(10):
                while '"response.done"' not in (await ws.receive()).data:
                    pass
            await ws.close()
    assert len(srv.connections) == 2 and srv.connections.dropped == 1  # type: ignore[attr-defined]
    assert len(srv.audio_sent_ms) == 1
