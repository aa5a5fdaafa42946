"""A Gemini Live session survives any frame: a frame is handled or counted as malformed,
never the end of the session, and a bad one never leaves a turn half-opened. The frames
broken here are a real reply of the loopback server, captured over a socket."""

from __future__ import annotations

import asyncio
import json
import math
import random

import aiohttp

from turnstile.adapters.gemini import GeminiLive
from turnstile.adapters.gemini._loopback import GeminiLiveServer
from turnstile.adapters.gemini._session import GeminiLiveSession
from turnstile.adapters.gemini._wire import encode_base64
from turnstile.adapters.scenario import load_scenario
from turnstile.machine import AudioDelta, ChatContext, ProviderEvent

from ..test_socket import Events, TinyServer, mutated, ready_then, sender

SETUP_COMPLETE = json.dumps({"setupComplete": {}})


def audio_chunk(data: str) -> str:
    part = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": data}}
    return json.dumps({"serverContent": {"modelTurn": {"parts": [part]}}})


BAD_FRAMES: dict[str, str | bytes] = {
    "invalid base64 audio": audio_chunk("!!not base64!!"),
    "audio data that is a number": json.dumps(
        {"serverContent": {"modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm", "data": 7}}]}}}
    ),
    "server content that is a list": json.dumps({"serverContent": [1]}),
    "two message types": json.dumps({"setupComplete": {}, "goAway": {}}),
    "random bytes": bytes(range(256)),
    "nesting 100k deep": "[" * 100_000 + "]" * 100_000,
    "an object nested 100k deep": '{"a":' * 100_000 + "1" + "}" * 100_000,
    "not an object": "[1, 2]",
}


def session_for(url: str, events: Events | list[ProviderEvent]) -> GeminiLiveSession:
    on_event = events if isinstance(events, Events) else events.append
    return GeminiLive(api_key="g-test", url=url).session(chat_ctx=ChatContext(), tools=[], on_event=on_event)


async def captured_reply() -> list[str]:
    """Every message of the loopback server's first reply, as it sent them."""
    server = GeminiLiveServer(load_scenario(), pace=math.inf, playout_speed=math.inf)
    async with server as srv, aiohttp.ClientSession() as http:
        ws = await http.ws_connect(srv.url, headers={"x-goog-api-key": "g-test"})
        await ws.send_str(json.dumps({"setup": {"model": "models/m", "outputAudioTranscription": {}}}))
        await ws.send_str(json.dumps({"clientContent": {"turnComplete": True}}))
        frames: list[str] = []
        async with asyncio.timeout(10):
            while not frames or "turnComplete" not in frames[-1]:
                frames.append((await ws.receive()).data.decode())
        await ws.close()
    assert any("inlineData" in f for f in frames)
    return frames


async def test_each_bad_frame_is_counted_once_and_emits_nothing() -> None:
    for name, frame in BAD_FRAMES.items():
        events: list[ProviderEvent] = []
        session = session_for("ws://127.0.0.1:9/x", events)
        session.on_frame(frame)  # raises nothing
        assert (session.malformed_events, session.unknown_events, events) == (1, 0, []), name


async def test_bad_audio_does_not_leave_a_turn_half_opened() -> None:
    events: list[ProviderEvent] = []
    session = session_for("ws://127.0.0.1:9/x", events)
    session.on_frame(audio_chunk("!!not base64!!"))
    session.on_frame(audio_chunk(encode_base64(b"\1\0")))
    # The turn opens with the first good chunk, as if the bad one had never come.
    assert [ev.kind for ev in events] == ["response_created", "response_content_added", "audio_delta"]


async def test_every_mutated_frame_is_handled_or_counted() -> None:
    frames = await captured_reply()
    rng = random.Random(20261)
    session = session_for("ws://127.0.0.1:9/x", [])
    for _ in range(1500):
        counted = session.malformed_events + session.unknown_events
        session.on_frame(mutated(rng.choice(frames), rng))  # raises nothing
        assert session.malformed_events + session.unknown_events - counted in (0, 1)
    assert session.malformed_events > 100  # the mutations did break frames


async def test_a_stream_of_broken_frames_over_a_socket_never_ends_the_session() -> None:
    frames = await captured_reply()
    rng = random.Random(8)
    bad = list(BAD_FRAMES.values())
    fuzz = bad + [mutated(rng.choice(frames), rng) for _ in range(400)]
    last = [json.dumps({"serverContent": {"turnComplete": True}}), audio_chunk(encode_base64(b"\1\0"))]
    events = Events()
    async with TinyServer(ready_then(sender([*fuzz, *last]), ready=SETUP_COMPLETE)) as server:
        session = session_for(server.gemini_url, events)
        try:
            await asyncio.wait_for(session.connect(), 10)
            # The frames after all the broken ones arrive, decoded: the session read on.
            delta = await events.wait_for(lambda ev: isinstance(ev, AudioDelta) and ev.data == b"\1\0")
            assert isinstance(delta, AudioDelta)
            assert session._runner is not None and not session._runner.done()
            assert events.lost == [] and session.connects == 1
            assert session.malformed_events >= len(bad)
        finally:
            await session.aclose()
