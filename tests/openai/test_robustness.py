"""An OpenAI Realtime session survives any frame (both dialects): a frame is handled or
counted as malformed, never the end of the session. The frames broken here are a real
reply of the loopback server, captured over a socket."""

from __future__ import annotations

import asyncio
import json
import math
import random

import aiohttp
import pytest

from turnstile.adapters.openai import OpenAIRealtime
from turnstile.adapters.openai._protocol import encode_audio
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
