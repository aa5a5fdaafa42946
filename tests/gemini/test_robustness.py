"""A Gemini Live session survives any frame: a frame is handled or counted as malformed,
never the end of the session, and a bad one never leaves a turn half-opened. The frames
broken here are a real reply of the loopback server, captured over a socket. And the
loopback server stays flat: what it records is bounded, and keeps no audio but the newest
replies'."""

from __future__ import annotations

import asyncio
import json
import math
import random

import aiohttp
from aiohttp import WSMsgType

from turnstile.adapters._loopback import KEEP_EVENTS
from turnstile.adapters.gemini import GeminiLive
from turnstile.adapters.gemini._client import ClientContent, RealtimeInput
from turnstile.adapters.gemini._loopback import GeminiLiveServer
from turnstile.adapters.gemini._session import GeminiLiveSession
from turnstile.adapters.gemini._wire import encode_base64
from turnstile.adapters.scenario import ModelReply, Scenario, load_scenario
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


# The loopback server's own limits -----------------------------------------------------------


async def test_a_long_call_does_not_grow_the_servers_record() -> None:
    scenario = Scenario.model_validate({"steps": [{"role": "model", "transcript": "Heard you."}]})
    blob = {"mimeType": "audio/pcm;rate=16000", "data": encode_base64(bytes(320))}  # 10 ms of silence
    chunk = json.dumps({"realtimeInput": {"audio": blob}})
    sends = KEEP_EVENTS + 100
    srv = GeminiLiveServer(scenario, pace=math.inf, playout_speed=math.inf)
    async with srv, aiohttp.ClientSession() as http:
        ws = await http.ws_connect(srv.url, headers={"x-goog-api-key": "g-test"})
        await ws.send_str(json.dumps({"setup": {"model": "models/m"}}))
        for _ in range(sends):
            await ws.send_str(chunk)
        await ws.send_str(json.dumps({"clientContent": {"turnComplete": True}}))
        async with asyncio.timeout(20):
            while b"turnComplete" not in (await ws.receive()).data:
                pass
        await ws.close()
        record = srv.connections[0]
    assert len(record.received) == KEEP_EVENTS and isinstance(record.received[-1], ClientContent)
    assert {m.audio.data for m in record.received if isinstance(m, RealtimeInput) and m.audio} == {""}
    sent_audio = [m for m in record.sent if "inlineData" in json.dumps(m)]
    assert sent_audio and all(p["inlineData"]["data"] == "" for m in sent_audio
                              for p in m["serverContent"]["modelTurn"]["parts"])  # fmt: skip
    assert record.replies[0].audio == ModelReply(transcript="Heard you.").audio()  # kept where tests read it


async def test_only_the_newest_replies_keep_their_audio() -> None:
    steps = [{"role": "model", "transcript": t} for t in ("First.", "Second.", "Third.")]
    srv = GeminiLiveServer(Scenario.model_validate({"steps": steps}), pace=math.inf, playout_speed=math.inf)
    srv.reply_audio_kept = 2
    async with srv, aiohttp.ClientSession() as http:
        ws = await http.ws_connect(srv.url, headers={"x-goog-api-key": "g-test"})
        await ws.send_str(json.dumps({"setup": {"model": "models/m"}}))
        for _ in steps:
            await ws.send_str(json.dumps({"clientContent": {"turnComplete": True}}))
            async with asyncio.timeout(10):
                while b"turnComplete" not in (await ws.receive()).data:
                    pass
        await ws.close()
        replies = srv.connections[0].replies
    assert [(r.transcript, r.audio_released, len(r.audio) > 0) for r in replies] == [
        ("First.", True, False), ("Second.", False, True), ("Third.", False, True),
    ]  # fmt: skip


async def test_the_server_keeps_the_newest_resumption_handles() -> None:
    steps = [{"role": "model", "transcript": t} for t in ("First.", "Second.", "Third.")]
    srv = GeminiLiveServer(Scenario.model_validate({"steps": steps}), pace=math.inf, playout_speed=math.inf)
    srv.handles.maxlen = 2  # type: ignore[attr-defined]
    srv.connections.maxlen = 1  # type: ignore[attr-defined]
    async with srv, aiohttp.ClientSession() as http:
        ws = await http.ws_connect(srv.url, headers={"x-goog-api-key": "g-test"})
        await ws.send_str(json.dumps({"setup": {"model": "models/m", "sessionResumption": {}}}))
        issued: list[str] = []
        for _ in steps:
            await ws.send_str(json.dumps({"clientContent": {"turnComplete": True}}))
            async with asyncio.timeout(10):  # the handle issued at the end of the turn
                update: dict[str, str] = {}
                while not update.get("newHandle"):
                    update = json.loads((await ws.receive()).data).get("sessionResumptionUpdate") or {}
            issued.append(update["newHandle"])
        await ws.close()
        assert list(srv.handles) == issued[1:]
        # The oldest handle is forgotten: resuming from it is refused, as an expired handle is.
        ws = await http.ws_connect(srv.url, headers={"x-goog-api-key": "g-test"})
        await ws.send_str(json.dumps({"setup": {"model": "models/m", "sessionResumption": {"handle": issued[0]}}}))
        closed = await ws.receive(timeout=10)
        assert closed.type == WSMsgType.CLOSE and closed.data == 1008
    assert len(srv.connections) == 1 and srv.connections[0].resumed_from is None
