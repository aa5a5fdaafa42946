"""The Gemini Live loopback server, over real sockets on 127.0.0.1.

Every frame the server sends is checked as it arrives: it must be a binary
frame of indented UTF-8 JSON, parse with our own wire models
(``parse_server_message``) and, read as google-genai reads it (its wire-name
converters), validate against ``types.LiveServerMessage`` (extra="forbid"), so the
loopback stays faithful to
the API the adapter is written against. Waits are for an expected message
under a timeout, never a sleep.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import math
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from google.genai import _live_converters, types

from turnstile.adapters.gemini._loopback import GeminiLiveServer
from turnstile.adapters.gemini._loopback_codec import (
    BAD_KEY,
    DEADLINE,
    NO_KEY,
    NOT_FOUND,
    close_reason,
    usage,
)
from turnstile.adapters.gemini._loopback_reply import UNKNOWN_MESSAGE
from turnstile.adapters.gemini._protocol import (
    ActivityEnd,
    ActivityStart,
    AudioTranscriptionConfig,
    AutomaticActivityDetection,
    Blob,
    ClientContent,
    ClientMessage,
    Content,
    FunctionResponse,
    GenerationConfig,
    ProtocolError,
    RealtimeInput,
    RealtimeInputConfig,
    SessionResumptionConfig,
    Setup,
    ToolResponse,
    UnknownServerMessage,
    decode_base64,
    dump_client_message,
    parse_server_message,
)
from turnstile.adapters.scenario import (
    CALLER_PITCH,
    CallerTurn,
    ErrorFault,
    Faults,
    ModelReply,
    Scenario,
    ToolCall,
    load_scenario,
)
from turnstile.adapters.voice import voice

MODEL = "models/gemini-live-2.5-flash-preview"
KEY = {"x-goog-api-key": "test-key"}
TRANSCRIBE: dict[str, Any] = {"input_audio_transcription": AudioTranscriptionConfig(),
                              "output_audio_transcription": AudioTranscriptionConfig()}  # fmt: skip
MANUAL = RealtimeInputConfig(automatic_activity_detection=AutomaticActivityDetection(disabled=True))
BAD_AUDIO = '{"realtimeInput": {"audio": {"mimeType": "audio/pcm", "data": "not base64!"}}}'
SAID = ClientContent(turns=[Content.from_text("Hello.", role="user")], turn_complete=True)


def kind(message: dict[str, Any]) -> str:
    """``setupComplete``, ``audio``, ``text``, ``turnComplete``, ``toolCall``, ...: what a message is."""
    content = message.get("serverContent")
    if content is None:
        return next(k for k in message if k != "usageMetadata")
    for flag in ("inputTranscription", "outputTranscription", "generationComplete", "turnComplete", "interrupted"):
        if flag in content:
            return flag
    return "audio" if "inlineData" in content["modelTurn"]["parts"][0] else "text"


class Peer:
    """A websocket client that checks every server frame and waits for messages by kind."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, *, vertex: bool = False) -> None:
        self.ws, self.vertex = ws, vertex
        self.messages: list[dict[str, Any]] = []
        self.invalid: list[bytes] = []  # frames that were not JSON (the malformed_message fault)
        self.ended: aiohttp.WSMessage | None = None  # the message that ended the connection

    async def send(self, message: ClientMessage | dict[str, Any] | str) -> None:
        if isinstance(message, str):
            await self.ws.send_str(message)
        elif isinstance(message, dict):
            await self.ws.send_str(json.dumps(message))
        else:
            await self.ws.send_str(dump_client_message(message))

    async def next(self, timeout: float = 5.0) -> dict[str, Any] | None:
        """The next valid message; None once the connection has ended."""
        while True:
            msg = await asyncio.wait_for(self.ws.receive(), timeout)
            assert msg.type != aiohttp.WSMsgType.TEXT, "the Live API sends JSON in binary frames"
            if msg.type != aiohttp.WSMsgType.BINARY:
                self.ended = msg
                return None
            try:
                parsed = parse_server_message(msg.data)
            except ProtocolError:
                self.invalid.append(msg.data)
                continue
            data = json.loads(msg.data)
            assert msg.data == (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()
            if isinstance(parsed, UnknownServerMessage):
                assert list(data) == [UNKNOWN_MESSAGE], f"server sent a message we do not model: {data}"
            else:
                # The SDK maps wire names (Vertex AI's candidatesTokenCount, voiceActivity's type, ...)
                # as it receives, then validates (extra="forbid", typed fields): none may be lost.
                convert = self.vertex and _live_converters._LiveServerMessage_from_vertex
                converted = (convert or _live_converters._LiveServerMessage_from_mldev)(data)
                assert len(converted) == len(data), data
                for wire_key, key in (("usageMetadata", "usage_metadata"), ("voiceActivity", "voice_activity")):
                    if wire_key in data:
                        assert len(converted[key]) == len(data[wire_key]), data
                types.LiveServerMessage.model_validate(converted)
            self.messages.append(data)
            return data

    async def until(self, wanted: str, timeout: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                message = await self.next()
                assert message is not None, f"connection ended while waiting for {wanted}: {self.ended}"
                if kind(message) == wanted:
                    return message

    async def end(self, timeout: float = 5.0) -> aiohttp.WSMessage:
        """Read to the end of the connection; the message that ended it."""
        async with asyncio.timeout(timeout):
            while await self.next() is not None:
                pass
        assert self.ended is not None
        return self.ended

    def activity(self, n: int) -> tuple[str, int]:
        """The ``n``-th voiceActivity: its type and its audioOffset in ms."""
        heard = self.of("voiceActivity")[n]["voiceActivity"]
        return heard["type"], round(float(heard["audioOffset"][:-1]) * 1000)

    def kinds(self, start: int = 0) -> list[str]:
        return [kind(m) for m in self.messages[start:]]

    def of(self, wanted: str, start: int = 0) -> list[dict[str, Any]]:
        return [m for m in self.messages[start:] if kind(m) == wanted]

    def audio(self, start: int = 0) -> bytes:
        return b"".join(
            decode_base64(m["serverContent"]["modelTurn"]["parts"][0]["inlineData"]["data"])
            for m in self.of("audio", start)
        )

    def text(self, wanted: str, start: int = 0) -> str:
        if wanted == "text":
            return "".join(m["serverContent"]["modelTurn"]["parts"][0]["text"] for m in self.of("text", start))
        return "".join(m["serverContent"][wanted]["text"] for m in self.of(wanted, start))

    async def speak(self, pcm: bytes, chunk_ms: int = 100) -> None:
        step = 32 * chunk_ms  # bytes of 16 kHz PCM16
        for i in range(0, len(pcm), step):
            await self.send(RealtimeInput(audio=Blob.pcm16(pcm[i : i + step])))


def speech(text: str) -> bytes:
    return voice(text, pitch=CALLER_PITCH, rate=16000)


def silence(ms: int) -> bytes:
    return b"\0\0" * (16 * ms)


def turn(text: str) -> bytes:
    """A caller turn: speech, then the silence that ends it."""
    return speech(text) + silence(800)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def server(*steps: CallerTurn | ModelReply, pace: float = math.inf, playout: float = math.inf,
           **kwargs: Any) -> GeminiLiveServer:  # fmt: skip
    return GeminiLiveServer(Scenario(name="test", steps=list(steps)), pace=pace, playout_speed=playout, **kwargs)


async def connect(
    http: aiohttp.ClientSession, srv: GeminiLiveServer, *, url: str | None = None,
    headers: dict[str, str] | None = None, **setup: Any,
) -> Peer:  # fmt: skip
    ws = await http.ws_connect(url or srv.url, headers=KEY if headers is None else headers)
    peer = Peer(ws, vertex=url is not None and "aiplatform" in url)
    await peer.send(Setup(model=MODEL, **setup))
    await peer.until("setupComplete")
    return peer


# ---------------------------------------------------------------- handshake


@pytest.mark.parametrize(
    ("endpoint", "query", "headers", "api"),
    [
        ("url", "?key=test-key", {}, "v1beta"),
        ("url", "", KEY, "v1beta"),
        ("v1alpha_url", "", KEY, "v1alpha"),
        ("v1alpha_url", "Constrained?access_token=auth_tokens/abc", {}, "v1alpha"),
        ("vertex_url", "", {"Authorization": "Bearer ya29.token"}, "vertex"),
    ],
)
async def test_setup_is_answered_with_setup_complete(
    http: aiohttp.ClientSession, endpoint: str, query: str, headers: dict[str, str], api: str
) -> None:
    async with server(ModelReply(transcript="Hi.")) as srv:
        ws = await http.ws_connect(getattr(srv, endpoint) + query, headers=headers)
        await ws.send_str(dump_client_message(Setup(model="gemini-live-2.5-flash-preview")))
        frame = await asyncio.wait_for(ws.receive(), 5)
        # Byte for byte what the service sends: a binary frame of indented JSON.
        assert (frame.type, frame.data) == (aiohttp.WSMsgType.BINARY, b'{\n  "setupComplete": {}\n}\n')
        record = srv.connections[0]
        assert (record.api, record.model, record.key is not None) == (api, MODEL, True)
        assert srv.received == [[Setup(model=MODEL)]] and record.setup == Setup(model=MODEL)
        await ws.close()


@pytest.mark.parametrize(
    ("headers", "code", "reason"),
    [({}, 1008, close_reason(NO_KEY)), ({"x-goog-api-key": "wrong"}, 1007, BAD_KEY)],
)
async def test_credentials_are_refused_by_closing_the_socket(
    http: aiohttp.ClientSession, headers: dict[str, str], code: int, reason: str
) -> None:
    # The service upgrades, then closes when the setup arrives; there is no HTTP 401.
    async with server(ModelReply(transcript="Hi."), api_key="test-key") as srv:
        peer = Peer(await http.ws_connect(srv.url, headers=headers))
        await peer.send(Setup(model=MODEL))
        ended = await peer.end()
        assert (ended.type, ended.data, ended.extra) == (aiohttp.WSMsgType.CLOSE, code, reason)
        assert peer.messages == [] and srv.connections[0].close_code == code
        assert reason.startswith("Method doesn't allow unregistered callers") or reason == BAD_KEY
        ok = await connect(http, srv)  # the right key is let in
        await ok.ws.close()


# ---------------------------------------------------------------- turns


@pytest.mark.parametrize("transcribe", [True, False])
async def test_audio_turn_streams_the_reply_in_order(http: aiohttp.ClientSession, transcribe: bool) -> None:
    reply = ModelReply(transcript="It is sunny and warm in Paris today.")
    async with server(CallerTurn(transcript="What's the weather in Paris?"), reply) as srv:
        peer = await connect(http, srv, **(TRANSCRIBE if transcribe else {}))
        await peer.speak(turn("What's the weather in Paris?"))
        done = await peer.until("turnComplete")
        kinds = peer.kinds(1)
        # The service's detection reports the turn, unasked: heard at the speech's start, ended
        # after its default 500 ms of silence (from the last loud frame), in the audio stream's time.
        assert kinds[:2] == ["voiceActivity"] * 2 and kinds.count("voiceActivity") == 2
        heard = [peer.activity(i) for i in range(2)]
        said_ms = len(speech("What's the weather in Paris?")) // 32
        assert [t for t, _ in heard] == ["ACTIVITY_START", "ACTIVITY_END"]
        assert 0 < heard[0][1] < 300 and said_ms < heard[1][1] <= said_ms + 600
        kinds = kinds[2:]
        if transcribe:
            assert kinds[0] == "inputTranscription"
            assert peer.text("inputTranscription") == "What's the weather in Paris?"
            assert peer.text("outputTranscription") == reply.transcript
            # The transcript runs just ahead of the audio it describes, never after the generation.
            assert kinds.index("outputTranscription") < kinds.index("audio")
        else:
            assert "inputTranscription" not in kinds and "outputTranscription" not in kinds
        body = [k for k in kinds if k not in ("inputTranscription", "outputTranscription")]
        n = len(peer.of("audio"))
        assert body == ["audio"] * n + ["generationComplete", "turnComplete"]
        assert peer.audio() == reply.audio() and srv.connections[0].audio_sent == [reply.audio()]
        assert len(reply.audio()) - 4800 < 4800 * (n - 1) < len(reply.audio())  # ~100 ms chunks
        chunk = peer.of("audio")[0]["serverContent"]["modelTurn"]["parts"][0]["inlineData"]
        assert chunk["mimeType"] == "audio/pcm;rate=24000"
        meta = types.UsageMetadata.model_validate(done["usageMetadata"])
        assert meta.response_tokens_details[0].modality == types.MediaModality.AUDIO
        assert meta.total_token_count == meta.prompt_token_count + meta.response_token_count > 0
        assert srv.connections[0].caller_turns == ["What's the weather in Paris?"]


async def test_vertex_names_the_output_tokens_candidates(http: aiohttp.ClientSession) -> None:
    async with server(ModelReply(transcript="Hello from Vertex.")) as srv:
        peer = await connect(http, srv, url=srv.vertex_url, headers={"Authorization": "Bearer ya29.token"})
        await peer.send(SAID)
        usage_metadata = (await peer.until("turnComplete"))["usageMetadata"]
        assert usage_metadata["candidatesTokenCount"] > 0 and "responseTokenCount" not in usage_metadata


async def test_manual_activity_delimits_turns(http: aiohttp.ClientSession) -> None:
    async with server(CallerTurn(transcript="Hello?"), ModelReply(transcript="Hi there.")) as srv:
        peer = await connect(http, srv, realtime_input_config=MANUAL, **TRANSCRIBE)
        await peer.speak(turn("Speech outside an activity is no turn."))
        await peer.send(RealtimeInput(activity_start=ActivityStart()))
        await peer.speak(speech("Hello?"))  # no trailing silence: activityEnd ends the turn
        await peer.send(RealtimeInput(activity_end=ActivityEnd()))
        await peer.until("turnComplete")
        # The client's own activity markers are not echoed as voiceActivity.
        assert peer.kinds(1)[0] == "inputTranscription" and peer.text("inputTranscription") == "Hello?"
        assert "voiceActivity" not in peer.kinds()
        assert srv.connections[0].caller_turns == ["Hello?"] and peer.text("outputTranscription") == "Hi there."

        auto = await connect(http, srv)  # activity markers without disabling detection: invalid
        await auto.send(RealtimeInput(activity_start=ActivityStart()))
        ended = await auto.end()
        assert (ended.type, ended.data) == (aiohttp.WSMsgType.CLOSE, 1007)


async def test_vad_settings_and_audio_stream_end(http: aiohttp.ClientSession) -> None:
    async with server(CallerTurn(transcript="One."), ModelReply(transcript="Two.")) as srv:
        aad = AutomaticActivityDetection(prefix_padding_ms=400, silence_duration_ms=200)
        peer = await connect(http, srv, realtime_input_config=RealtimeInputConfig(automatic_activity_detection=aad))
        burst = voice("a", pitch=CALLER_PITCH, rate=16000)
        assert len(burst) < 32 * 400
        await peer.speak(burst + silence(500))  # shorter than the padding: no turn, though 200 ms of silence follow
        await peer.speak(speech("One, and a longer one at that."))  # no silence after: the mic closes instead
        await peer.send(RealtimeInput(audio_stream_end=True))
        await peer.until("turnComplete")
        await peer.ws.close()
        await srv.connections[0].closed.wait()  # every message read: no other turn was heard
        assert srv.connections[0].caller_turns == ["One."]


async def test_barge_in_during_generation_interrupts(http: aiohttp.ClientSession) -> None:
    long = ModelReply(transcript="A long story that goes on and on and on, for several seconds at least.")
    steps = (long, CallerTurn(transcript="Stop."), ModelReply(transcript="Okay."))
    async with server(*steps, pace=1.0) as srv:
        peer = await connect(http, srv, **TRANSCRIBE)
        await peer.send(SAID)
        await peer.until("audio")
        await peer.speak(turn("Stop."))
        await peer.until("interrupted")
        start = len(peer.messages)
        await peer.until("turnComplete")
        # No generationComplete in an interrupted turn: interrupted > turnComplete.
        assert "generationComplete" not in peer.kinds() and peer.kinds(start) == ["turnComplete"]
        await peer.until("inputTranscription")
        await peer.until("turnComplete")
        record = srv.connections[0]
        assert [r.interrupted for r in record.replies] == [True, False]
        assert 0 < len(record.replies[0].audio) < len(long.audio())


async def test_barge_in_while_the_audio_plays_out(http: aiohttp.ClientSession) -> None:
    # Generation finished at once, but turnComplete waits for playback (real time): still interruptible.
    steps = (ModelReply(transcript="Generated at once, played out in real time."), CallerTurn(transcript="Wait."),
             ModelReply(transcript="Yes?"))  # fmt: skip
    async with server(*steps, playout=1.0) as srv:
        peer = await connect(http, srv)
        await peer.send(SAID)
        await peer.until("generationComplete")
        await peer.speak(turn("Wait."))
        await peer.until("interrupted")
        # The caller's activity starting is what cuts the answer.
        assert peer.kinds()[-4:] == ["audio", "generationComplete", "voiceActivity", "interrupted"]
        assert peer.activity(0)[0] == "ACTIVITY_START"
        assert kind(await peer.next()) == "turnComplete"
        assert srv.connections[0].replies[0].audio == ModelReply(transcript=steps[0].transcript).audio()


async def test_no_interruption_lets_the_reply_finish(http: aiohttp.ClientSession) -> None:
    steps = (ModelReply(transcript="I will finish this sentence."), CallerTurn(transcript="Hey."),
             ModelReply(transcript="Yes?"))  # fmt: skip
    async with server(*steps, pace=4.0) as srv:
        rtc = RealtimeInputConfig(activity_handling="NO_INTERRUPTION")
        peer = await connect(http, srv, realtime_input_config=rtc)
        await peer.send(SAID)
        await peer.until("audio")
        await peer.speak(turn("Hey."))
        await peer.until("turnComplete", timeout=10)
        await peer.until("turnComplete", timeout=10)  # then the answer to what was said meanwhile
        assert "interrupted" not in peer.kinds() and peer.kinds().count("generationComplete") == 2
        assert [r.interrupted for r in srv.connections[0].replies] == [False, False]
        # The caller is still reported, over the reply it did not cut.
        assert [peer.activity(i)[0] for i in range(2)] == ["ACTIVITY_START", "ACTIVITY_END"]
        assert peer.kinds().index("voiceActivity") < peer.kinds().index("generationComplete")


async def test_a_model_that_reports_no_activity(http: aiohttp.ClientSession) -> None:
    async with server(CallerTurn(transcript="Hello?"), ModelReply(transcript="Hi."), voice_activity=False) as srv:
        peer = await connect(http, srv)
        await peer.speak(turn("Hello?"))
        await peer.until("turnComplete")
        assert "voiceActivity" not in peer.kinds() and srv.connections[0].caller_turns == ["Hello?"]


async def test_client_content_interrupts_a_stalled_reply(http: aiohttp.ClientSession) -> None:
    stalled = ModelReply(transcript="This never finishes by itself.", faults=Faults(stall=True))
    async with server(stalled, ModelReply(transcript="Next.")) as srv:
        peer = await connect(http, srv)
        await peer.send(SAID)
        await peer.until("audio")
        await peer.send(SAID)
        await peer.until("interrupted")
        await peer.until("turnComplete")
        await peer.until("generationComplete")
        assert srv.connections[0].replies[1].transcript == "Next."


async def test_tool_call_and_response(http: aiohttp.ClientSession) -> None:
    weather = ToolCall(name="get_weather", arguments={"city": "Paris"})
    steps = (CallerTurn(transcript="Weather in Paris?"), ModelReply(transcript="Let me check.", tool_calls=[weather]),
             ModelReply(transcript="Sunny, 21 degrees."))  # fmt: skip
    async with server(*steps) as srv:
        peer = await connect(http, srv, session_resumption=SessionResumptionConfig())
        await peer.speak(turn("Weather in Paris?"))
        call = (await peer.until("toolCall"))["toolCall"]["functionCalls"]
        assert [(c["name"], c["args"]) for c in call] == [("get_weather", {"city": "Paris"})]
        assert call[0]["id"] and "generationComplete" not in peer.kinds() and "turnComplete" not in peer.kinds()
        assert (await peer.next())["sessionResumptionUpdate"] == {}  # mid tool call: not resumable
        response = FunctionResponse(id=call[0]["id"], name="get_weather", response={"result": "sunny, 21"})
        await peer.send(ToolResponse(function_responses=[response]))
        start = len(peer.messages)
        await peer.until("turnComplete")
        assert peer.kinds(start)[-2:] == ["generationComplete", "turnComplete"]
        assert peer.kinds().count("turnComplete") == 1  # one turn: call, response, answer
        assert peer.audio(start) == steps[2].audio()
        assert srv.connections[0].replies[0].call_ids == [call[0]["id"]]
        assert isinstance(srv.received[0][-1], ToolResponse)


async def test_barge_in_cancels_a_pending_tool_call(http: aiohttp.ClientSession) -> None:
    steps = (ModelReply(tool_calls=[ToolCall(name="slow_lookup")]), CallerTurn(transcript="Never mind."),
             ModelReply(transcript="Sure."))  # fmt: skip
    async with server(*steps) as srv:
        peer = await connect(http, srv)
        await peer.send(SAID)
        ids = [c["id"] for c in (await peer.until("toolCall"))["toolCall"]["functionCalls"]]
        await peer.speak(turn("Never mind."))
        assert (await peer.until("toolCallCancellation"))["toolCallCancellation"] == {"ids": ids}
        assert [*peer.kinds()[-1:], kind(await peer.next()), kind(await peer.next())] == [
            "toolCallCancellation", "interrupted", "turnComplete"]  # fmt: skip
        await peer.until("generationComplete")
        # A late answer to the cancelled call starts nothing.
        await peer.send(ToolResponse(function_responses=[FunctionResponse(id=ids[0], name="slow_lookup",
                                                                          response={})]))  # fmt: skip
        await peer.until("turnComplete")
        await peer.ws.close()
        await srv.connections[0].closed.wait()
        assert srv.connections[0].unmatched_responses == ids and len(srv.connections[0].replies) == 2


async def test_text_replies(http: aiohttp.ClientSession) -> None:
    steps = (ModelReply(transcript="Typed, not spoken.", text_only=True), ModelReply(transcript="Text session."))
    async with server(*steps) as srv:
        peer = await connect(http, srv, **TRANSCRIBE)
        await peer.send(RealtimeInput(text="Hi"))
        await peer.until("turnComplete")
        assert peer.text("text") == "Typed, not spoken." and "audio" not in peer.kinds()
        meta = types.UsageMetadata.model_validate(peer.messages[-1]["usageMetadata"])
        assert meta.response_tokens_details[0].modality == types.MediaModality.TEXT

        text = await connect(http, srv, generation_config=GenerationConfig(response_modalities=["TEXT"]))
        await text.send(SAID)
        await text.until("turnComplete")
        await text.send(SAID)
        await text.until("turnComplete")
        assert text.text("text") == "Typed, not spoken.Text session." and "audio" not in text.kinds()


# ---------------------------------------------------------------- resumption and goAway


async def test_session_resumption_keeps_the_scenario_position(http: aiohttp.ClientSession) -> None:
    steps = (ModelReply(transcript="First."), ModelReply(transcript="Second."), ModelReply(transcript="Third."))
    async with server(*steps) as srv:
        first = await connect(http, srv, session_resumption=SessionResumptionConfig())
        await first.send(SAID)
        await first.until("turnComplete")
        update = (await first.next())["sessionResumptionUpdate"]
        assert update["resumable"] is True and update["newHandle"]
        await first.ws.close()

        again = await connect(http, srv, session_resumption=SessionResumptionConfig(handle=update["newHandle"]))
        await again.send(SAID)
        await again.until("turnComplete")
        assert srv.connections[1].resumed_from == update["newHandle"]
        assert [r.transcript for r in srv.connections[1].replies] == ["Second."]

        fresh = await connect(http, srv)  # without a handle: the scenario from the start
        await fresh.send(SAID)
        await fresh.until("turnComplete")
        assert "sessionResumptionUpdate" not in fresh.kinds() and srv.connections[2].replies[0].transcript == "First."

        stale = Peer(await http.ws_connect(srv.url, headers=KEY))
        await stale.send(Setup(model=MODEL, session_resumption=SessionResumptionConfig(handle="no-such-handle")))
        ended = await stale.end()
        assert (ended.data, ended.extra) == (1008, NOT_FOUND)


async def test_transparent_resumption_is_accepted_though_unmodelled(http: aiohttp.ClientSession) -> None:
    async with server(ModelReply(transcript="Hi.")) as srv:
        peer = Peer(await http.ws_connect(srv.url, headers=KEY))
        await peer.send({"setup": {"model": MODEL, "sessionResumption": {"transparent": True}}})
        await peer.until("setupComplete")
        await peer.send(SAID)
        update = (await peer.until("sessionResumptionUpdate"))["sessionResumptionUpdate"]
        assert update["lastConsumedClientMessageIndex"] == "1"  # int64 as a JSON string
        assert srv.connections[0].unmodelled == ["setup.sessionResumption.transparent"]


async def test_go_away_then_the_connection_closes(http: aiohttp.ClientSession) -> None:
    go_away = ModelReply(transcript="Still answering.", faults=Faults(error_event=ErrorFault(type="go_away")))
    async with server(go_away, go_away_time_left=0.5) as srv:
        peer = await connect(http, srv)
        await peer.send(SAID)
        assert (await peer.until("goAway"))["goAway"] == {"timeLeft": "0.500s"}
        await peer.until("turnComplete")  # the connection still works until the time is up
        ended = await peer.end()
        assert (ended.type, ended.data, ended.extra) == (aiohttp.WSMsgType.CLOSE, 1011, DEADLINE)

        other = await connect(http, srv)
        srv.go_away(time_left=1)
        assert (await other.until("goAway"))["goAway"] == {"timeLeft": "1s"}
        assert (await other.end())[1:] == (1011, DEADLINE)


# ---------------------------------------------------------------- errors and faults


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        (["{not json"], "Invalid JSON payload received."),
        (['{"setupp": {"model": "m"}}'], 'Invalid JSON payload received. Unknown name "setupp": Cannot find field.'),
        ([dump_client_message(SAID)], "The first message must be setup."),
        (['{"setup": {"model": 5}}'], "Invalid value at 'setup.model'"),
        (['{"setup": {"model": "m"}, "toolResponse": {}}'], "Request contains an invalid argument."),
        ([dump_client_message(Setup(model=MODEL))] * 2, "setup may only be sent once"),
        ([dump_client_message(Setup(model=MODEL)), BAD_AUDIO], "Invalid value at"),
    ],
)
async def test_invalid_client_messages_close_with_1007(
    http: aiohttp.ClientSession, frames: list[str], reason: str
) -> None:
    async with server(ModelReply(transcript="Hi.")) as srv:
        peer = Peer(await http.ws_connect(srv.url, headers=KEY))
        for frame in frames:
            await peer.send(frame)
        ended = await peer.end()
        assert (ended.type, ended.data) == (aiohttp.WSMsgType.CLOSE, 1007) and ended.extra.startswith(reason)
        assert len(ended.extra.encode()) <= 123


@pytest.mark.parametrize(("code", "expected"), [(None, 1011), ("1008", 1008)])
async def test_error_fault_closes_with_its_message(
    http: aiohttp.ClientSession, code: str | None, expected: int
) -> None:
    fault = Faults(error_event=ErrorFault(code=code, message="Internal error encountered."))
    async with server(ModelReply(transcript="Never sent.", faults=fault)) as srv:
        peer = await connect(http, srv)
        await peer.send(SAID)
        ended = await peer.end()
        assert (ended.data, ended.extra) == (expected, "Internal error encountered.")
        assert "audio" not in peer.kinds() and srv.connections[0].close_code == expected


async def test_fault_drop_socket(http: aiohttp.ClientSession) -> None:
    reply = ModelReply(transcript="This reply is cut off by the network.", faults=Faults(drop_socket_after_ms=300))
    async with server(reply) as srv:
        peer = await connect(http, srv)
        await peer.send(SAID)
        ended = await peer.end()
        assert ended.type != aiohttp.WSMsgType.CLOSE  # no close frame: the connection just ended
        assert 300 <= len(peer.audio()) / 48 < 500 and "turnComplete" not in peer.kinds()


async def test_fault_malformed_message_then_the_reply(http: aiohttp.ClientSession) -> None:
    async with server(ModelReply(transcript="Fine.", faults=Faults(malformed_message=True))) as srv:
        peer = await connect(http, srv)
        await peer.send(SAID)
        await peer.until("turnComplete")
        assert peer.invalid == [b"{this is not json"] and peer.kinds()[1] == UNKNOWN_MESSAGE


async def test_fault_slow(http: aiohttp.ClientSession) -> None:
    reply = ModelReply(transcript="Slowly now.", faults=Faults(slow_ms_per_chunk=40))
    async with server(reply) as srv:
        peer = await connect(http, srv)
        started = time.monotonic()
        await peer.send(SAID)
        await peer.until("generationComplete")
        assert time.monotonic() - started >= 0.04 * len(peer.of("audio"))


async def test_closing_the_server_closes_open_connections(http: aiohttp.ClientSession) -> None:
    srv = server(ModelReply(transcript="Never finishes.", faults=Faults(stall=True)))
    await srv.start()
    peer = await connect(http, srv)
    await peer.send(SAID)
    await peer.until("audio")
    await srv.close()
    assert (await peer.end()).data == 1001 and srv.connections[0].closed.is_set()


# ---------------------------------------------------------------- the demo scenario, the CLI


async def test_demo_scenario_end_to_end(http: aiohttp.ClientSession) -> None:
    scenario = load_scenario()
    async with GeminiLiveServer(scenario, pace=math.inf, playout_speed=4.0) as srv:
        peer = await connect(http, srv, **TRANSCRIBE)
        await peer.send(SAID)  # the greeting
        await peer.until("turnComplete", timeout=15)
        await peer.speak(turn("What's the weather in Paris?"))
        call = (await peer.until("toolCall"))["toolCall"]["functionCalls"][0]
        await peer.send(ToolResponse(function_responses=[
            FunctionResponse(id=call["id"], name=call["name"], response={"forecast": "sunny"})]))  # fmt: skip
        await peer.until("generationComplete")
        await peer.speak(turn("Thanks, and tomorrow?"))  # the barge-in, while the long answer plays out
        await peer.until("interrupted")
        await peer.until("turnComplete")
        await peer.until("turnComplete")  # the text-only answer
        assert peer.text("text") == "Tomorrow will be cloudy."
        assert peer.text("inputTranscription") == "What's the weather in Paris?Thanks, and tomorrow?"
        assert [r.interrupted for r in srv.connections[0].replies] == [False, False, True, False]


def test_usage_omits_zero_values_as_proto3_json_does() -> None:
    body = usage(prompt_chars=0, prompt_audio_ms=0, response_chars=8, response_audio_ms=0)
    assert body == {"responseTokenCount": 2, "totalTokenCount": 2, "promptTokensDetails": [{"modality": "TEXT"}],
                    "responseTokensDetails": [{"modality": "TEXT", "tokenCount": 2}]}  # fmt: skip
    types.UsageMetadata.model_validate(body)


async def test_cli_serve_gemini_runs_until_interrupted(http: aiohttp.ClientSession) -> None:
    exe = Path(sys.executable).with_name("turnstile")
    proc = await asyncio.create_subprocess_exec(
        str(exe), "serve", "--provider", "gemini", "--port", "0", "--pace", "50",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        assert line.startswith("Gemini Live loopback")
        url = line.split(": ", 1)[1].strip()
        peer = Peer(await http.ws_connect(url, headers=KEY))
        await peer.send(Setup(model=MODEL))
        await peer.until("setupComplete")
        await peer.ws.close()
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


# ---------------------------------------------------------------- the official client against the loopback


def tls_pair(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1: the server's context and a client context trusting it."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert_path, key_path)
    return server_ctx, ssl.create_default_context(cafile=str(cert_path))


async def test_google_genai_live_session_against_the_loopback(tmp_path: Path) -> None:
    pytest.importorskip("websockets")
    from google import genai

    server_ctx, client_ctx = tls_pair(tmp_path)
    weather = ToolCall(name="get_weather", arguments={"city": "Paris"})
    steps = (ModelReply(transcript="Hello there."), CallerTurn(transcript="Weather in Paris?"),
             ModelReply(tool_calls=[weather]), ModelReply(transcript="Sunny in Paris."))  # fmt: skip
    async with server(*steps, ssl_context=server_ctx) as srv:
        options = types.HttpOptions(base_url=srv.base_url, async_client_args={"ssl": client_ctx})
        client = genai.Client(api_key="test-key", http_options=options)
        config = types.LiveConnectConfig(
            response_modalities=[types.Modality.AUDIO], session_resumption=types.SessionResumptionConfig(),
            input_audio_transcription=types.AudioTranscriptionConfig(),
            output_audio_transcription=types.AudioTranscriptionConfig(),
        )  # fmt: skip
        received: list[types.LiveServerMessage] = []

        async def turn_of(session: Any) -> None:
            async with asyncio.timeout(10):
                async for message in session.receive():  # ends at turnComplete
                    received.append(message)
                    if message.tool_call:
                        call = message.tool_call.function_calls[0]
                        response = types.FunctionResponse(id=call.id, name=call.name, response={"forecast": "sunny"})
                        await session.send_tool_response(function_responses=[response])

        try:
            async with client.aio.live.connect(model="gemini-live-2.5-flash-preview", config=config) as session:
                await session.send_client_content(turns=types.Content(role="user", parts=[types.Part(text="Hi")]))
                await turn_of(session)
                pcm = turn("Weather in Paris?")
                for i in range(0, len(pcm), 3200):
                    chunk = types.Blob(data=pcm[i : i + 3200], mime_type="audio/pcm;rate=16000")
                    await session.send_realtime_input(audio=chunk)
                await turn_of(session)
        finally:
            await client.aio.aclose()

        audio = b"".join(m.data or b"" for m in received)
        assert audio == steps[0].audio() + steps[3].audio()
        contents = [m.server_content for m in received if m.server_content]
        said = "".join(c.output_transcription.text for c in contents if c.output_transcription)
        heard = [c.input_transcription.text for c in contents if c.input_transcription]
        assert (said, heard) == ("Hello there.Sunny in Paris.", ["Weather in Paris?"])
        assert [m.tool_call.function_calls[0].args for m in received if m.tool_call] == [{"city": "Paris"}]
        assert sum(1 for c in contents if c.turn_complete) == 2 and received[-1].usage_metadata is not None
        assert srv.connections[0].setup is not None and srv.connections[0].unmodelled == []


async def test_google_genai_sees_the_close_codes_as_api_errors(tmp_path: Path) -> None:
    pytest.importorskip("websockets")
    from google import genai
    from google.genai import errors

    server_ctx, client_ctx = tls_pair(tmp_path)
    async with server(ModelReply(transcript="Hi."), ssl_context=server_ctx, api_key="right") as srv:
        options = types.HttpOptions(base_url=srv.base_url, async_client_args={"ssl": client_ctx})
        client = genai.Client(api_key="wrong", http_options=options)
        try:
            with pytest.raises(errors.APIError) as refused:
                async with client.aio.live.connect(model="gemini-live-2.5-flash-preview", config={}):
                    pass
        finally:
            await client.aio.aclose()
        assert (refused.value.code, refused.value.details) == (1007, BAD_KEY)  # "1007 None. API key not valid..."
