"""The OpenAI Realtime loopback server, over real sockets on 127.0.0.1.

Every frame the server sends is checked twice as it arrives: it must parse with
our own wire models (``parse_server_event``) and validate against the official
``openai`` package's server event union for its dialect, so the loopback stays
faithful to the API the adapter is written against. Waits are for an expected
event under a timeout, never a sleep.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import subprocess
import sys
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from pydantic import TypeAdapter

from turnstile.adapters.cli import main
from turnstile.adapters.openai import _beta as B
from turnstile.adapters.openai import _ga as G
from turnstile.adapters.openai._protocol import (
    ProtocolError,
    UnknownServerEvent,
    decode_audio,
    encode_audio,
    parse_server_event,
)
from turnstile.adapters.openai._server import OpenAIRealtimeServer
from turnstile.adapters.openai._server_codec import ClientEventError, parse_client_event
from turnstile.adapters.openai._vad import EnergyVad, SpeechStarted, SpeechStopped, VadSettings
from turnstile.adapters.scenario import (
    CallerTurn,
    ErrorFault,
    Faults,
    ModelReply,
    Scenario,
    ToolCall,
    load_scenario,
    scenario_json_schema,
)
from turnstile.adapters.voice import voice

try:
    import openai.types.beta.realtime as obeta
    import openai.types.realtime as oga
except ImportError:  # pragma: no cover - the oracle is a dev dependency
    oga = obeta = None  # type: ignore[assignment]

KEY = {"Authorization": "Bearer sk-test"}
BETA = {**KEY, "OpenAI-Beta": "realtime=v1"}
SDK = (
    {"ga": TypeAdapter(oga.RealtimeServerEvent), "beta": TypeAdapter(obeta.RealtimeServerEvent)} if oga else {}
)
UNKNOWN_TYPE = "x_turnstile.unknown_event"  # the malformed_message fault's unknown event


class Peer:
    """A websocket client that checks every server frame and waits for events by type."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, dialect: str) -> None:
        self.ws, self.dialect = ws, dialect
        self.frames: list[dict[str, Any]] = []
        self.raw_invalid: list[str] = []  # frames that were not JSON (the malformed_message fault)
        self.ended: aiohttp.WSMessage | None = None  # the message that ended the connection

    async def send(self, event: dict[str, Any] | str) -> None:
        await self.ws.send_str(event if isinstance(event, str) else json.dumps(event))

    async def next(self, timeout: float = 5.0) -> dict[str, Any] | None:
        """The next valid event; None if the connection closed."""
        while True:
            msg = await asyncio.wait_for(self.ws.receive(), timeout)
            if msg.type != aiohttp.WSMsgType.TEXT:
                self.ended = msg
                return None
            try:
                parsed = parse_server_event(msg.data, self.dialect)  # type: ignore[arg-type]
            except ProtocolError:
                self.raw_invalid.append(msg.data)
                continue
            frame = json.loads(msg.data)
            assert list(frame)[:2] == ["type", "event_id"], frame
            if isinstance(parsed, UnknownServerEvent):
                assert parsed.type == UNKNOWN_TYPE, f"server sent an event we do not model: {parsed.type}"
            elif SDK:
                official = SDK[self.dialect].validate_python(frame)
                assert official.type == frame["type"]
            self.frames.append(frame)
            return frame

    async def until(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.next()
                assert frame is not None, f"connection closed while waiting for {kind}"
                if frame["type"] == kind:
                    return frame

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == kind]

    def types(self, start: int = 0) -> list[str]:
        return [f["type"] for f in self.frames[start:]]

    async def append(self, pcm: bytes, chunk_ms: int = 100) -> None:
        step = 48 * chunk_ms
        for i in range(0, len(pcm), step):
            await self.send({"type": "input_audio_buffer.append", "audio": encode_audio(pcm[i : i + step])})


def silence(ms: int) -> bytes:
    return b"\0\0" * (24 * ms)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def connect(
    http: aiohttp.ClientSession, srv: OpenAIRealtimeServer, dialect: str = "ga", **session: Any
) -> Peer:
    headers = BETA if dialect == "beta" else KEY
    ws = await http.ws_connect(f"{srv.url}?model=gpt-realtime", headers=headers)
    peer = Peer(ws, dialect)
    await peer.until("session.created")
    if session:
        if dialect == "ga":
            session = {"type": "realtime", **session}
        await peer.send({"type": "session.update", "session": session})
        await peer.until("session.updated")
    return peer


NO_VAD_GA: dict[str, Any] = {"audio": {"input": {"turn_detection": None}}}


def server(*steps: CallerTurn | ModelReply, pace: float = math.inf) -> OpenAIRealtimeServer:
    return OpenAIRealtimeServer(Scenario(name="test", steps=list(steps)), pace=pace)


def audio_bytes(peer: Peer, start: int = 0) -> bytes:
    deltas = ("response.output_audio.delta", "response.audio.delta")
    return b"".join(decode_audio(f["delta"]) for f in peer.frames[start:] if f["type"] in deltas)


# ---------------------------------------------------------------- handshake


async def test_ga_handshake_and_session_update_round_trip(http: aiohttp.ClientSession) -> None:
    async with server(ModelReply(transcript="hi")) as srv:
        peer = await connect(http, srv)
        created = peer.of("session.created")[0]["session"]
        assert created["type"] == "realtime" and created["model"] == "gpt-realtime"
        assert created["audio"]["input"]["turn_detection"]["type"] == "server_vad"
        update = G.SessionUpdate(
            session=G.RealtimeSession(
                instructions="Be brief.",
                audio=G.AudioConfig(
                    input=G.AudioInput(
                        turn_detection=G.ServerVad(threshold=0.7, silence_duration_ms=300),
                        transcription=G.AudioTranscription(model="gpt-4o-transcribe"),
                    ),
                    output=G.AudioOutput(voice="cedar"),
                ),
            )
        )
        await peer.send(update.model_dump_json())
        session = (await peer.until("session.updated"))["session"]
        assert session["instructions"] == "Be brief."
        vad = session["audio"]["input"]["turn_detection"]
        # Sent fields replace, the rest come from the server's defaults for server_vad.
        assert vad["threshold"] == 0.7 and vad["silence_duration_ms"] == 300 and vad["prefix_padding_ms"] == 300
        assert session["audio"]["output"] == {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "cedar",
                                              "speed": 1.0}  # fmt: skip
        assert session["audio"]["input"]["transcription"] == {"model": "gpt-4o-transcribe"}
        # turn_detection: null switches VAD off (explicit null, not absence).
        await peer.send({"type": "session.update", "session": {"type": "realtime", **NO_VAD_GA}})
        assert (await peer.until("session.updated"))["session"]["audio"]["input"]["turn_detection"] is None
        assert srv.connections[0].dialect == "ga"
        assert isinstance(srv.received[0][0], G.SessionUpdate)


async def test_beta_dialect_by_header_and_on_the_azure_path(http: aiohttp.ClientSession) -> None:
    async with server(ModelReply(transcript="hi")) as srv:
        peer = await connect(http, srv, "beta")
        created = peer.of("session.created")[0]["session"]
        assert created["input_audio_format"] == "pcm16" and "audio" not in created
        await peer.send(
            B.BetaSessionUpdate(session=B.BetaSession(voice="verse", turn_detection=None, modalities=["text"]))
            .model_dump_json()
        )  # fmt: skip
        session = (await peer.until("session.updated"))["session"]
        assert session["voice"] == "verse" and session["turn_detection"] is None and session["modalities"] == ["text"]

        url = f"{srv.azure_url}?api-version=2024-10-01-preview&deployment=my-realtime"
        azure = Peer(await http.ws_connect(url, headers={"api-key": "azure-key"}), "beta")
        await azure.until("session.created")
        assert [(c.dialect, c.deployment) for c in srv.connections] == [("beta", None), ("beta", "my-realtime")]
        # Beta-shaped session.update is a GA error: the dialect is per connection.
        ga = await connect(http, srv, "ga")
        await ga.send({"type": "session.update", "session": {"type": "realtime", "voice": "verse"}})
        error = (await ga.until("error"))["error"]
        assert (error["code"], error["param"]) == ("unknown_parameter", "session.voice")
        await ga.send({"type": "session.update", "session": {"voice": "verse"}})
        error = (await ga.until("error"))["error"]
        assert (error["code"], error["param"]) == ("missing_required_parameter", "session.type")


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/v1/realtime?model=gpt-realtime", {}, 401),
        ("/v1/realtime?model=gpt-realtime", {"Authorization": "Bearer "}, 401),
        ("/v1/realtime?model=gpt-realtime", {"Authorization": "Bearer wrong"}, 401),
        ("/openai/realtime?api-version=2024-10-01-preview&deployment=d", {}, 401),
        ("/openai/realtime?deployment=d", {"api-key": "right"}, 400),
    ],
)
async def test_refused_before_the_upgrade(
    http: aiohttp.ClientSession, path: str, headers: dict[str, str], status: int
) -> None:
    async with OpenAIRealtimeServer(load_scenario(), api_key="right") as srv:
        base = srv.url.removesuffix("/v1/realtime")
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(base + path, headers=headers)
        assert refused.value.status == status
        # The same refusal over plain HTTP carries the API's error body.
        async with http.get(base.replace("ws://", "http://") + path, headers=headers) as resp:
            assert resp.status == status
            assert (await resp.json())["error"]["type"] == "invalid_request_error"
        ok = await http.ws_connect(f"{srv.url}?model=m", headers={"Authorization": "Bearer right"})
        await ok.close()


async def test_browser_style_key_in_the_subprotocol(http: aiohttp.ClientSession) -> None:
    async with server(ModelReply(transcript="hi")) as srv:
        ws = await http.ws_connect(
            f"{srv.url}?model=gpt-4o-realtime-preview",
            protocols=("realtime", "openai-insecure-api-key.sk-x", "openai-beta.realtime-v1"),
        )
        assert ws.protocol == "realtime"
        await Peer(ws, "beta").until("session.created")
        assert srv.connections[0].dialect == "beta"


needs_sdk_client = pytest.mark.skipif(
    oga is None or __import__("importlib").util.find_spec("websockets") is None,
    reason="the openai package's realtime client (and websockets) are test-only extras",
)


@needs_sdk_client
async def test_the_official_sdk_clients_talk_to_it_in_each_dialect() -> None:
    from openai import AsyncAzureOpenAI, AsyncOpenAI

    async with server(ModelReply(transcript="Hi."), ModelReply(transcript="Hi."), ModelReply(transcript="Hi.")) as srv:
        client = AsyncOpenAI(api_key="sk-x", base_url=srv.base_url, websocket_base_url=srv.websocket_base_url)
        azure = AsyncAzureOpenAI(
            api_key="k", api_version="2024-10-01-preview", azure_endpoint="http://unused",
            websocket_base_url=srv.azure_websocket_base_url,
        )  # fmt: skip
        for connect in (
            client.realtime.connect(model="gpt-realtime"),
            client.beta.realtime.connect(model="gpt-4o-realtime-preview"),
            azure.beta.realtime.connect(model="my-deployment"),
        ):
            async with connect as conn:
                await conn.response.create()
                async with asyncio.timeout(5):
                    async for event in conn:
                        if event.type == "response.done":
                            assert event.response.status == "completed"
                            break
        assert [(c.dialect, c.path) for c in srv.connections] == [
            ("ga", "/v1/realtime"), ("beta", "/v1/realtime"), ("beta", "/openai/realtime")]  # fmt: skip


async def test_closing_the_server_closes_open_connections(http: aiohttp.ClientSession) -> None:
    srv = server(ModelReply(transcript="Never finishes.", faults=Faults(stall=True)))
    await srv.start()
    peer = await connect(http, srv)
    await peer.send({"type": "response.create"})
    await peer.until("response.output_audio.delta")
    await srv.close()
    async with asyncio.timeout(5):
        while (await peer.next()) is not None:
            pass
    assert peer.ended is not None and (peer.ended.type, peer.ended.data) == (aiohttp.WSMsgType.CLOSE, 1001)
    assert srv.connections[0].closed.is_set()


# ---------------------------------------------------------------- turns


@pytest.mark.parametrize("dialect", ["ga", "beta"])
async def test_vad_turn_tool_call_and_the_audio_answer(http: aiohttp.ClientSession, dialect: str) -> None:
    scenario = load_scenario()
    greeting, question, _tool_reply, answer = scenario.steps[:4]
    assert isinstance(greeting, ModelReply) and isinstance(question, CallerTurn) and isinstance(answer, ModelReply)
    async with OpenAIRealtimeServer(scenario, pace=math.inf) as srv:
        transcription = {"model": "gpt-4o-transcribe"}
        if dialect == "ga":
            peer = await connect(http, srv, audio={"input": {"transcription": transcription}})
        else:
            peer = await connect(http, srv, "beta", input_audio_transcription=transcription)
        # The agent speaks first when asked.
        await peer.send({"type": "response.create"})
        await peer.until("response.done")
        assert audio_bytes(peer) == greeting.audio()

        mark = len(peer.frames)
        speech = question.audio()
        await peer.append(silence(500) + speech + silence(1000))
        started = await peer.until("input_audio_buffer.speech_started")
        stopped = await peer.until("input_audio_buffer.speech_stopped")
        committed = await peer.until("input_audio_buffer.committed")
        assert started["item_id"] == stopped["item_id"] == committed["item_id"]
        speech_end = 500 + len(speech) / 48
        assert abs(started["audio_start_ms"] - (500 - 300)) <= 30  # includes prefix_padding_ms
        assert speech_end + 500 - 80 <= stopped["audio_end_ms"] <= speech_end + 500 + 20  # includes the silence
        assert committed["previous_item_id"] == peer.of("response.output_item.done")[0]["item"]["id"]
        done = await peer.until("conversation.item.input_audio_transcription.completed")
        assert done["transcript"] == question.transcript and done["item_id"] == committed["item_id"]
        user_events = ["conversation.item.added", "conversation.item.done"] if dialect == "ga" else [
            "conversation.item.created"]  # fmt: skip
        after = peer.types(mark).index("input_audio_buffer.committed") + 1
        assert peer.types(mark)[after : after + len(user_events)] == user_events

        call_done = await peer.until("response.function_call_arguments.done")
        assert json.loads(call_done["arguments"]) == {"city": "Paris"}
        assert ("name" in call_done) == (dialect == "ga")
        reply = (await peer.until("response.done"))["response"]
        assert reply["status"] == "completed" and reply["output"][0]["type"] == "function_call"
        call = reply["output"][0]
        assert call["name"] == "get_weather" and call["call_id"] == call_done["call_id"]
        await peer.until("rate_limits.updated")  # follows every response.done

        mark = len(peer.frames)
        output = {"type": "function_call_output", "call_id": call["call_id"], "output": '{"temp": 21}'}
        await peer.send({"type": "conversation.item.create", "item": output})
        await peer.send({"type": "response.create"})
        final = (await peer.until("response.done"))["response"]
        assert final["status"] == "completed"
        item_id = final["output"][0]["id"]
        assert audio_bytes(peer, mark) == answer.audio()  # the whole reply, in order
        assert srv.audio_sent_ms[item_id] == pytest.approx(answer.audio_ms)
        usage = final["usage"]
        assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 0
        assert usage["output_token_details"]["audio_tokens"] > 0
        assert {"cached_tokens", "audio_tokens", "text_tokens"} <= set(usage["input_token_details"])
        names = ("response.output_audio", "response.output_audio_transcript") if dialect == "ga" else (
            "response.audio", "response.audio_transcript")  # fmt: skip
        expected = [
            "conversation.item.added" if dialect == "ga" else "conversation.item.created",
            *(["conversation.item.done"] if dialect == "ga" else []),
            "response.created", "response.output_item.added",
            "conversation.item.added" if dialect == "ga" else "conversation.item.created",
            "response.content_part.added",
        ]  # fmt: skip
        assert [t for t in peer.types(mark) if not t.endswith(".delta")][: len(expected)] == expected
        tail = [t for t in peer.types(mark) if not t.endswith(".delta")][len(expected) :]
        assert tail == [
            f"{names[0]}.done", f"{names[1]}.done", "response.content_part.done", "response.output_item.done",
            *(["conversation.item.done"] if dialect == "ga" else []), "response.done",
        ]  # fmt: skip
        transcript = "".join(f["delta"] for f in peer.frames[mark:] if f["type"] == f"{names[1]}.delta")
        assert transcript == answer.transcript
        assert [type(e).__name__ for e in srv.received[0]][-2:] == [
            "ConversationItemCreate" if dialect == "ga" else "BetaConversationItemCreate",
            "ResponseCreate" if dialect == "ga" else "BetaResponseCreate",
        ]


async def test_manual_turns_when_turn_detection_is_off(http: aiohttp.ClientSession) -> None:
    async with server(CallerTurn(transcript="hello there"), ModelReply(transcript="Hi.")) as srv:
        manual = {"turn_detection": None, "transcription": {"model": "whisper-1"}}
        peer = await connect(http, srv, audio={"input": manual})
        await peer.append(silence(50))
        await peer.send({"type": "input_audio_buffer.commit", "event_id": "c1"})
        error = (await peer.until("error"))["error"]
        assert error["code"] == "input_audio_buffer_commit_empty" and error["event_id"] == "c1"
        await peer.append(voice("hello there", pitch=140))
        await peer.send({"type": "input_audio_buffer.commit"})
        await peer.until("input_audio_buffer.committed")
        completed = await peer.until("conversation.item.input_audio_transcription.completed")
        assert completed["transcript"] == "hello there"
        assert not peer.of("input_audio_buffer.speech_started")
        assert not peer.of("conversation.item.input_audio_transcription.delta")  # whisper-1 sends none
        await peer.send({"type": "input_audio_buffer.append", "audio": encode_audio(silence(200))})
        await peer.send({"type": "input_audio_buffer.clear"})
        await peer.until("input_audio_buffer.cleared")
        await peer.send({"type": "response.create"})
        await peer.until("response.done")
        assert not peer.of("response.created")[1:]  # nothing started a response but response.create


@pytest.mark.parametrize("dialect", ["ga", "beta"])
async def test_text_only_reply(http: aiohttp.ClientSession, dialect: str) -> None:
    async with server(ModelReply(transcript="Tomorrow will be cloudy.", text_only=True)) as srv:
        peer = await connect(http, srv, dialect)
        await peer.send({"type": "response.create"})
        done = (await peer.until("response.done"))["response"]
        prefix = "response.output_text" if dialect == "ga" else "response.text"
        assert "".join(f["delta"] for f in peer.of(f"{prefix}.delta")) == "Tomorrow will be cloudy."
        assert peer.of(f"{prefix}.done")[0]["text"] == "Tomorrow will be cloudy."
        assert peer.of("response.content_part.added")[0]["part"]["type"] == "text"
        content = done["output"][0]["content"][0]
        assert content == {"type": "output_text" if dialect == "ga" else "text", "text": "Tomorrow will be cloudy."}
        assert not audio_bytes(peer)


# ---------------------------------------------------------------- cancel, barge-in


async def test_cancel_with_and_without_an_active_response(http: aiohttp.ClientSession) -> None:
    long = ModelReply(transcript="This answer goes on for quite a while, long enough to be cancelled midway.")
    async with server(long, ModelReply(transcript="Next."), pace=1.0) as srv:
        peer = await connect(http, srv, **NO_VAD_GA)
        await peer.send({"type": "response.cancel", "event_id": "ev_cancel"})
        error = (await peer.until("error"))["error"]
        assert error["code"] == "response_cancel_not_active" and error["event_id"] == "ev_cancel"
        assert error["type"] == "invalid_request_error"

        await peer.send({"type": "response.create"})
        await peer.until("response.output_audio.delta")
        await peer.send({"type": "response.create"})
        assert (await peer.until("error"))["error"]["code"] == "conversation_already_has_active_response"
        await peer.send({"type": "response.cancel"})
        done = (await peer.until("response.done"))["response"]
        assert done["status"] == "cancelled"
        assert done["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
        assert done["output"][0]["status"] == "incomplete"
        sent = srv.audio_sent_ms[done["output"][0]["id"]]
        assert 0 < sent < long.audio_ms
        assert len(audio_bytes(peer)) / 48 == pytest.approx(sent)
        # The server is free again.
        await peer.send({"type": "response.create"})
        assert (await peer.until("response.created"))["response"]["status"] == "in_progress"


async def test_caller_barge_in_cancels_the_streaming_reply(http: aiohttp.ClientSession) -> None:
    long = ModelReply(transcript="A long answer about the weather in Paris, which the caller will cut short.")
    caller = CallerTurn(transcript="Thanks, and tomorrow?", barge_in_after_ms=600)
    async with server(long, caller, ModelReply(transcript="Cloudy."), pace=1.0) as srv:
        peer = await connect(http, srv)
        await peer.send({"type": "response.create"})
        await peer.until("response.output_audio.delta")
        await peer.append(caller.audio() + silence(700))
        await peer.until("input_audio_buffer.speech_started")
        done = (await peer.until("response.done"))["response"]
        assert done["status_details"]["reason"] == "turn_detected"
        await peer.until("input_audio_buffer.committed")
        follow_up = (await peer.until("response.done", timeout=10))["response"]
        assert follow_up["status"] == "completed"
        assert follow_up["output"][0]["content"][0]["transcript"] == "Cloudy."
        assert srv.scenario.steps[1].barge_in_after_ms == 600  # carried for the demo driver


async def test_vad_without_interrupting_or_responding(http: aiohttp.ClientSession) -> None:
    reply = ModelReply(transcript="An answer the caller talks over without stopping it.")
    caller = CallerTurn(transcript="Mm-hmm.")
    async with server(reply, caller, ModelReply(transcript="Queued."), pace=2.0) as srv:
        vad = {"type": "server_vad", "interrupt_response": False, "silence_duration_ms": 200}
        peer = await connect(http, srv, audio={"input": {"turn_detection": vad}})
        await peer.send({"type": "response.create"})
        await peer.until("response.output_audio.delta")
        await peer.append(caller.audio() + silence(300))
        await peer.until("input_audio_buffer.committed")
        first = (await peer.until("response.done"))["response"]
        assert first["status"] == "completed"  # not interrupted
        # The turn's response waited for the one in progress, then started by itself.
        second = (await peer.until("response.done", timeout=10))["response"]
        assert second["output"][0]["content"][0]["transcript"] == "Queued."

        vad = {"type": "server_vad", "create_response": False, "silence_duration_ms": 200}
        await peer.send({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
            "turn_detection": vad}}}})  # fmt: skip
        await peer.until("session.updated")
        mark = len(peer.frames)
        await peer.append(caller.audio() + silence(300))
        await peer.until("input_audio_buffer.committed")
        with pytest.raises(TimeoutError):
            await peer.until("response.created", timeout=0.3)
        assert "response.created" not in peer.types(mark)


# ---------------------------------------------------------------- items


async def test_truncate_delete_and_create_items(http: aiohttp.ClientSession) -> None:
    async with server(ModelReply(transcript="Hello there, how are you?")) as srv:
        peer = await connect(http, srv, **NO_VAD_GA)
        await peer.send({"type": "response.create"})
        item = (await peer.until("response.done"))["response"]["output"][0]
        sent = srv.audio_sent_ms[item["id"]]
        too_far = {"type": "conversation.item.truncate", "item_id": item["id"], "content_index": 0,
                   "audio_end_ms": int(sent) + 500}  # fmt: skip
        await peer.send(too_far)
        error = (await peer.until("error"))["error"]
        assert error["code"] == "invalid_value" and "already shorter than" in error["message"]
        await peer.send({**too_far, "audio_end_ms": int(sent) // 2})
        truncated = await peer.until("conversation.item.truncated")
        assert truncated["audio_end_ms"] == int(sent) // 2
        await peer.send({"type": "conversation.item.retrieve", "item_id": item["id"]})
        assert (await peer.until("conversation.item.retrieved"))["item"]["content"][0]["transcript"] == ""

        user = G.UserMessageItem(id="u1", content=[G.InputTextPart(text="hi")])
        await peer.send(G.ConversationItemCreate(item=user).model_dump_json())
        added = await peer.until("conversation.item.added")
        assert added["previous_item_id"] == item["id"] and added["item"]["status"] == "completed"
        assert (await peer.until("conversation.item.done"))["item"]["id"] == "u1"
        first = G.SystemMessageItem(id="s1", content=[G.InputTextPart(text="Be kind.")])
        await peer.send(G.ConversationItemCreate(item=first, previous_item_id="root").model_dump_json())
        assert (await peer.until("conversation.item.added"))["previous_item_id"] is None
        orphan = G.FunctionCallOutputItem(call_id="call_nope", output="{}")
        await peer.send(G.ConversationItemCreate(item=orphan).model_dump_json())
        assert "call_nope" in (await peer.until("error"))["error"]["message"]

        await peer.send({"type": "conversation.item.delete", "item_id": "u1"})
        assert (await peer.until("conversation.item.deleted"))["item_id"] == "u1"
        await peer.send({"type": "conversation.item.delete", "item_id": "u1"})
        assert (await peer.until("error"))["error"]["param"] == "item_id"


async def test_beta_items_are_created_in_one_event(http: aiohttp.ClientSession) -> None:
    async with server(ModelReply(transcript="Hi.")) as srv:
        peer = await connect(http, srv, "beta")
        user = B.BetaUserMessageItem(content=[G.InputTextPart(text="hello")])
        await peer.send(B.BetaConversationItemCreate(item=user).model_dump_json())
        created = await peer.until("conversation.item.created")
        assert created["item"]["content"] == [{"type": "input_text", "text": "hello"}]
        assert created["item"]["id"].startswith("item_")


# ---------------------------------------------------------------- faults


async def test_fault_drop_socket(http: aiohttp.ClientSession) -> None:
    reply = ModelReply(transcript="This reply is cut off by the network.", faults=Faults(drop_socket_after_ms=300))
    async with server(reply) as srv:
        peer = await connect(http, srv)
        await peer.send({"type": "response.create"})
        async with asyncio.timeout(5):
            while (await peer.next()) is not None:
                pass
        # No close frame: the connection just ended.
        assert peer.ended is not None and peer.ended.type != aiohttp.WSMsgType.CLOSE
        assert not peer.of("response.done")
        assert 300 <= len(audio_bytes(peer)) / 48 < 400
        await asyncio.wait_for(srv.connections[0].closed.wait(), 5)


async def test_fault_malformed_message_then_the_reply(http: aiohttp.ClientSession) -> None:
    async with server(ModelReply(transcript="Still fine.", faults=Faults(malformed_message=True))) as srv:
        peer = await connect(http, srv)
        await peer.send({"type": "response.create"})
        await peer.until("response.done")
        assert len(peer.raw_invalid) == 1
        with pytest.raises(ProtocolError):
            parse_server_event(peer.raw_invalid[0])
        assert peer.types(1)[:2] == [UNKNOWN_TYPE, "response.created"]


@pytest.mark.parametrize("fail", [True, False])
async def test_fault_error_event(http: aiohttp.ClientSession, fail: bool) -> None:
    fault = ErrorFault(code="server_error_x", message="Something broke.", fail_response=fail)
    async with server(ModelReply(transcript="Recovered.", faults=Faults(error_event=fault))) as srv:
        peer = await connect(http, srv)
        await peer.send({"type": "response.create"})
        error = (await peer.until("error"))["error"]
        assert (error["type"], error["code"]) == ("server_error", "server_error_x")
        assert error["message"] == "Something broke."
        done = (await peer.until("response.done"))["response"]
        if fail:
            assert done["status"] == "failed" and done["status_details"]["error"]["code"] == "server_error_x"
            assert not audio_bytes(peer)
        else:
            assert done["status"] == "completed" and audio_bytes(peer)


async def test_fault_slow_chunks(http: aiohttp.ClientSession) -> None:
    reply = ModelReply(transcript="Slowly now, please.", faults=Faults(slow_ms_per_chunk=30))
    chunks = math.ceil(len(reply.audio()) / 4800)
    async with server(reply) as srv:  # pace is infinite: only the fault slows it
        peer = await connect(http, srv)
        await peer.send({"type": "response.create"})
        await peer.until("response.created")
        t0 = time.monotonic()
        await peer.until("response.done")
        assert time.monotonic() - t0 >= 0.9 * chunks * 0.030


async def test_fault_stall_until_cancelled(http: aiohttp.ClientSession) -> None:
    reply = ModelReply(transcript="This reply stops halfway and never finishes.", faults=Faults(stall=True))
    async with server(reply) as srv:
        peer = await connect(http, srv)
        await peer.send({"type": "response.create"})
        await peer.until("response.output_audio.delta")
        with pytest.raises(TimeoutError):
            await peer.until("response.done", timeout=0.5)
        half = len(audio_bytes(peer))
        assert 0 < half < len(reply.audio())
        await peer.send({"type": "response.cancel"})
        assert (await peer.until("response.done"))["response"]["status"] == "cancelled"
        assert len(audio_bytes(peer)) == half


async def test_pace_streams_at_the_requested_speed(http: aiohttp.ClientSession) -> None:
    reply = ModelReply(transcript="One two three four five.")
    async with server(reply, pace=8.0) as srv:
        peer = await connect(http, srv)
        await peer.send({"type": "response.create"})
        await peer.until("response.created")
        t0 = time.monotonic()
        await peer.until("response.done")
        assert time.monotonic() - t0 >= 0.85 * reply.audio_ms / 1000 / 8


# ---------------------------------------------------------------- bad client frames


async def test_malformed_client_frames_get_errors_and_the_connection_survives(http: aiohttp.ClientSession) -> None:
    async with server(ModelReply(transcript="hi")) as srv:
        peer = await connect(http, srv)
        bad: list[tuple[str, str | None]] = [
            ("{not json", "invalid_json"),
            ("[1, 2]", "invalid_json"),
            (json.dumps({"event_id": "e1"}), "missing_required_parameter"),
            (json.dumps({"type": "no.such.event", "event_id": "e2"}), "invalid_value"),
            (json.dumps({"type": "conversation.item.delete"}), "missing_required_parameter"),
            (json.dumps({"type": "response.cancel", "bogus": 1}), "unknown_parameter"),
            (json.dumps({"type": "input_audio_buffer.append", "audio": "@@@"}), "invalid_value"),
        ]
        for frame, code in bad:
            await peer.send(frame)
            error = (await peer.until("error"))["error"]
            assert (error["type"], error["code"]) == ("invalid_request_error", code), frame
        assert peer.of("error")[3]["error"]["event_id"] == "e2"
        assert peer.of("error")[5]["error"]["param"] == "bogus"
        await peer.ws.send_bytes(b"\x00\x01")
        await peer.until("error")
        await peer.send({"type": "response.create"})
        assert (await peer.until("response.done"))["response"]["status"] == "completed"


def test_parse_client_event_is_strict_and_dialect_aware() -> None:
    event = parse_client_event('{"type": "session.update", "session": {"type": "realtime", "instructions": "x"}}')
    assert isinstance(event, G.SessionUpdate)
    with pytest.raises(ClientEventError) as beta_shape:
        parse_client_event('{"type": "session.update", "session": {"type": "realtime", "voice": "alloy"}}', "ga")
    assert beta_shape.value.code == "unknown_parameter" and beta_shape.value.param == "session.voice"
    assert isinstance(parse_client_event('{"type": "session.update", "session": {"voice": "alloy"}}', "beta"),
                      B.BetaSessionUpdate)  # fmt: skip
    with pytest.raises(ClientEventError):
        parse_client_event('{"type": "transcription_session.update", "session": {}}', "ga")


# ---------------------------------------------------------------- VAD, scenario, CLI


def test_vad_honours_threshold_padding_and_silence() -> None:
    speech = np.frombuffer(voice("hello there friend", pitch=140), np.int16)
    gap = np.zeros(24 * 400, np.int16)
    audio = np.concatenate([gap, speech, np.zeros(24 * 1000, np.int16)])
    events = EnergyVad(VadSettings(prefix_padding_ms=100, silence_duration_ms=300)).feed(audio)
    assert [type(e) for e in events] == [SpeechStarted, SpeechStopped]
    assert isinstance(events[0], SpeechStarted) and isinstance(events[1], SpeechStopped)
    assert 290 <= events[0].audio_start_ms <= 330
    assert abs(events[1].audio_end_ms - (400 + len(speech) / 24 + 300)) <= 80
    assert EnergyVad(VadSettings(threshold=1.0)).feed(audio) == []  # too quiet for the strictest threshold
    quiet = (audio * 0.01).astype(np.int16)
    assert EnergyVad().feed(quiet) == []


def test_bundled_demo_scenario_and_schema(tmp_path: Path) -> None:
    demo = load_scenario()
    kinds = [(type(s).__name__, getattr(s, "text_only", None), bool(getattr(s, "tool_calls", None)))
             for s in demo.steps]  # fmt: skip
    assert kinds[0] == ("ModelReply", False, False)  # the agent speaks first
    assert demo.caller_turns[0].transcript == "What's the weather in Paris?"
    assert demo.replies[1].tool_calls == [ToolCall(name="get_weather", arguments={"city": "Paris"})]
    assert any(c.barge_in_after_ms for c in demo.caller_turns)
    assert [r.text_only for r in demo.replies[-2:]] == [True, False]
    schema = scenario_json_schema()
    assert {"CallerTurn", "ModelReply", "Faults"} <= set(schema["$defs"])

    pcm = (np.sin(np.arange(16000) / 16000 * 2 * np.pi * 200) * 8000).astype(np.int16)
    with wave.open(str(tmp_path / "hi.wav"), "wb") as w:
        w.setnchannels(2), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes(np.column_stack([pcm, pcm]).tobytes())
    (tmp_path / "s.json").write_text(json.dumps({"steps": [
        {"role": "caller", "transcript": "hi", "wav": "hi.wav"}, {"role": "model", "transcript": "Hello."}]}))
    loaded = load_scenario(tmp_path / "s.json")
    assert len(loaded.caller_turns[0].audio()) == 2 * 24000  # 1 s, resampled to 24 kHz mono
    with pytest.raises(ValueError):
        Scenario.model_validate({"steps": [{"role": "model", "transcrpt": "typo"}]})


def test_cli_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenario", "--schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "Scenario"


async def test_cli_serve_runs_until_interrupted(http: aiohttp.ClientSession) -> None:
    exe = Path(sys.executable).with_name("turnstile")
    proc = await asyncio.create_subprocess_exec(
        str(exe), "serve", "--provider", "openai", "--port", "0", "--pace", "50",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        url = line.split(": ", 1)[1].strip()
        peer = Peer(await http.ws_connect(f"{url}?model=m", headers=KEY), "ga")
        await peer.until("session.created")
        await peer.ws.close()
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
