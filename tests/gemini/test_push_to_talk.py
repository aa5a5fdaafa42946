"""Push-to-talk on Gemini Live, end to end: the real agent and adapter, over a real socket,
against the Gemini loopback with automatic activity detection off. The server's record says
how much audio each activity held, so the test sees which audio became the turn."""

from __future__ import annotations

import base64
import json

import pytest

from turnstile.adapters.gemini import GeminiLive
from turnstile.adapters.gemini._client import RealtimeInput
from turnstile.adapters.gemini._loopback import GeminiLiveServer
from turnstile.adapters.scenario import CallerTurn, ModelReply, Scenario
from turnstile.machine import ChatContext

from .._loopback_call import LoopbackCall, gemini_loopback
from .._util import wait_until

RATE = 16000  # the caller at the provider's input rate: whole 100 ms chunks, no resampler lag


class Call(LoopbackCall):
    def __init__(self, server: GeminiLiveServer, **kw: object) -> None:
        kw.setdefault("automatic_activity_detection", False)
        super().__init__(gemini_loopback(server, **kw), RATE)


def steps(*replies: str) -> Scenario:
    return Scenario(steps=[s for r in replies for s in (CallerTurn(transcript="Over."), ModelReply(transcript=r))])


def inputs(server: GeminiLiveServer) -> list[str]:
    """What the client sent after setup: realtimeInput by its one field, else the message type."""
    out = []
    for m in server.received[0][1:]:
        if isinstance(m, RealtimeInput):
            out.append(next(k for k in type(m).model_fields if getattr(m, k) is not None))
        else:
            out.append(type(m).__name__)
    return out


async def test_the_audio_between_press_and_release_is_the_turn_answered() -> None:
    async with GeminiLiveServer(steps("Roger that.")) as server, Call(server) as call:
        await call.say(300)  # before the press: held, then dropped, never sent
        call.agent.start_user_turn()
        await call.say(700)
        call.agent.commit_user_turn()
        await wait_until(lambda: call.spoken == ["Roger that."], timeout=10)
        record = server.connections[0]
        assert record.caller_audio_ms == [700]
        # activityEnd asked for the answer: the agent's request sent nothing more (a
        # clientContent would interrupt that answer and ask for another).
        assert inputs(server) == ["activity_start", *["audio"] * 7, "activity_end"]
        assert [r.interrupted for r in record.replies] == [False] and call.errors == []


async def test_a_cleared_turn_is_never_sent() -> None:
    async with GeminiLiveServer(steps("Only the second.")) as server, Call(server) as call:
        call.agent.start_user_turn()
        await call.say(400)
        call.agent.clear_user_turn()
        await call.say(200)  # the button is up: not anyone's turn
        call.agent.start_user_turn()
        await call.say(600)
        call.agent.commit_user_turn()
        await wait_until(lambda: call.spoken == ["Only the second."], timeout=10)
        assert server.connections[0].caller_audio_ms == [600]
        # One activity, opened at the first press (the model stopped then) and left open by
        # the clear: an activityEnd would have closed a turn the model answers.
        assert inputs(server) == ["activity_start", *["audio"] * 6, "activity_end"]
        assert call.errors == []


async def test_the_press_stops_the_agent_at_once() -> None:
    long = "A long answer that the caller cuts short by pressing the button to talk."
    async with GeminiLiveServer(steps(long, "Yes?"), pace=1.0) as server, Call(server) as call:
        call.agent.start_user_turn()
        await call.say(300)
        call.agent.commit_user_turn()
        await wait_until(lambda: call.room.speaker.heard_samples > 12000, timeout=10)
        call.agent.start_user_turn()  # activityStart: the server cuts its answer (barge-in)
        await wait_until(lambda: len(call.spoken) == 1, timeout=10)
        assert call.spoken[0].endswith("...")
        await call.say(300)
        call.agent.commit_user_turn()
        await wait_until(lambda: call.spoken[1:] == ["Yes?"], timeout=10)
        record = server.connections[0]
        assert [r.interrupted for r in record.replies] == [True, False]
        assert record.caller_audio_ms == [300, 300] and call.errors == []


async def test_generate_reply_after_a_committed_turn_asks_for_nothing_more() -> None:
    # The activityEnd asks for the answer; a clientContent after it would cut that answer and
    # ask for another (answering the script's next caller turn, as the loopback's record shows).
    async with GeminiLiveServer(steps("Roger that.", "Again."), pace=1.0) as server, Call(server) as call:
        call.agent.start_user_turn()
        await call.say(500)
        call.agent.commit_user_turn()
        call.agent.generate_reply()  # before the answer begins: it is that answer
        await wait_until(lambda: call.spoken == ["Roger that."], timeout=10)
        await call.agent.wait_for_state("listening", timeout=10)
        assert [k for k in inputs(server) if k != "audio"] == ["activity_start", "activity_end"]
        call.agent.generate_reply()  # once it was given, a request is a request again
        await wait_until(lambda: call.spoken == ["Roger that.", "Again."], timeout=10)
        assert [k for k in inputs(server) if k != "audio"] == ["activity_start", "activity_end", "ClientContent"]
        record = server.connections[0]
        assert [r.interrupted for r in record.replies] == [False, False] and record.caller_audio_ms == [500]
        assert call.errors == []


async def test_manual_turns_need_activity_detection_off() -> None:
    async with GeminiLiveServer(steps("Unused.")) as server, \
            Call(server, automatic_activity_detection=True) as call:
        # The service closes the session (1007) on activityStart while it detects activity.
        with pytest.raises(RuntimeError, match="automatic_activity_detection=False"):
            call.agent.start_user_turn()
        assert "activity_start" not in inputs(server)
        assert call.agent.state == "listening"


def test_what_the_session_sends_for_each_press_release_and_clear() -> None:
    # The frames themselves (no socket): every audio chunk is tagged by its first sample.
    s = GeminiLive(api_key="g", automatic_activity_detection=False).session(
        chat_ctx=ChatContext(), tools=[], on_event=lambda ev: None
    )
    s._ws = object()  # type: ignore[assignment]  # capture frames without a socket
    s._ready.set()

    def chunk(tag: int) -> bytes:
        return tag.to_bytes(2, "little") * 1600

    def sent() -> list[str]:
        out = []
        for frame in s._outbox:
            body = json.loads(frame)["realtimeInput"]
            [key] = body
            out.append(f"audio{base64.b64decode(body['audio']['data'])[0]}" if key == "audio" else key)
        s._outbox.clear()
        return out

    s.push_audio(chunk(1))  # before any press
    s.start_user_turn()
    s.push_audio(chunk(2))
    s.clear_user_turn()
    s.push_audio(chunk(3))  # the button is up
    s.commit_user_turn()  # no turn open: nothing
    assert sent() == ["activityStart"]  # the model stops at the press; nothing else went
    s.start_user_turn()
    s.push_audio(chunk(4))
    s.push_audio(chunk(5))
    s.commit_user_turn()
    assert sent() == ["audio4", "audio5", "activityEnd"]  # the same activity, now with its turn
    s.create_response()  # the agent asks: Gemini answers an ended activity by itself
    assert sent() == []
    s.start_user_turn()
    s.push_audio(chunk(6))
    s.clear_user_turn()
    s.push_audio(chunk(7))  # the button is up
    s.commit_audio()  # generate_reply's commit: neither the cleared nor the stray audio goes
    assert sent() == ["activityStart", "activityEnd"]
    s.create_response()  # generate_reply's request: that activityEnd asked for the answer already
    s.create_response()  # and so did any other request before the answer begins
    assert sent() == []
    s.on_frame(b'{"serverContent": {"turnComplete": true}}')  # answered with nothing at all
    s.create_response()  # a request after the answer is a request again
    assert [next(iter(json.loads(f))) for f in s._outbox] == ["clientContent"]
    s._outbox.clear()
    s.start_user_turn()
    s.push_audio(chunk(8))
    s.commit_user_turn()
    s.create_response()
    assert sent() == ["activityStart", "audio8", "activityEnd"]
    audio = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": "AAA="}}
    s.on_frame(json.dumps({"serverContent": {"modelTurn": {"parts": [audio]}}}))  # the answer began
    s.create_response()
    assert [next(iter(json.loads(f))) for f in s._outbox] == ["clientContent"]
