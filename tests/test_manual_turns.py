"""Manual turns (push-to-talk) through the real runtime, the scripted provider and LocalRoom:
what the agent asks of the session at each press, release and cancel."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from turnstile.adapters.local import LocalRoom
from turnstile.adapters.scripted import ScriptedRealtime, ScriptedSession, pcm_tone
from turnstile.machine import Capabilities, RealtimeAgent

from ._util import wait_until

RATE = 24000
CAPS = Capabilities(server_turn_detection=False, replies_to_turns=False)


Agent = RealtimeAgent  # start_user_turn / commit_user_turn / clear_user_turn (ManualTurns)


class Call:
    def __init__(self, agent: Agent, room: LocalRoom, session: ScriptedSession) -> None:
        self.agent, self.room, self.session = agent, room, session

    async def say(self, ms: int) -> None:
        """The caller speaks ``ms`` (whole 100 ms chunks); returns once the session has them."""
        before = len(self.session.audio_chunks)
        await self.room.caller.say(pcm_tone(ms, sample_rate=RATE))
        await self.session.wait_audio(before + ms // 100)

    def after(self, name: str) -> list[str]:
        names = self.session.names()
        return names[len(names) - names[::-1].index(name) - 1 :]


@pytest.fixture
async def call() -> AsyncIterator[Call]:
    provider = ScriptedRealtime(CAPS)
    room = LocalRoom(caller_sample_rate=RATE)
    agent = Agent(provider)
    await agent.start(room)
    await agent.wait_for_state("listening")
    yield Call(agent, room, provider.last_session)
    await agent.aclose()
    await room.aclose()


async def test_a_turn_is_committed_then_answered(call: Call) -> None:
    call.agent.start_user_turn()
    await call.say(300)
    call.agent.commit_user_turn()
    # The turn first, then the request for its answer: the answer is to this turn.
    assert call.after("start_user_turn") == ["start_user_turn", "commit_user_turn", "create_response"]
    assert call.agent.state == "thinking"


async def test_pressing_while_the_agent_speaks_stops_it(call: Call) -> None:
    s = call.session
    rid, iid = s.start_audio_response(pcm_tone(3000), transcript="A long answer.", done=False)
    await wait_until(lambda: call.room.speaker.heard_samples > RATE // 5)
    call.agent.start_user_turn()
    await call.agent.wait_for_state("listening")
    # The buffer is cleared, then the answer is cancelled and cut where it was heard.
    assert call.after("start_user_turn")[:3] == ["start_user_turn", "cancel_response", "truncate"]
    assert s.last("truncate").args["item_id"] == iid
    s.finish_response(rid, iid, status="cancelled")
    await call.say(200)
    call.agent.commit_user_turn()
    assert call.after("start_user_turn")[-2:] == ["commit_user_turn", "create_response"]


async def test_clearing_throws_the_turn_away(call: Call, caplog: pytest.LogCaptureFixture) -> None:
    call.agent.start_user_turn()
    await call.say(300)
    call.agent.clear_user_turn()
    assert call.after("start_user_turn") == ["start_user_turn", "clear_user_turn"]
    with caplog.at_level(logging.WARNING, logger="turnstile.agent"):
        call.agent.commit_user_turn()  # the turn is gone: nothing to commit, nothing to answer
    assert call.after("start_user_turn") == ["start_user_turn", "clear_user_turn"]
    assert "without start_user_turn" in caplog.text
    assert call.agent.state == "listening"


async def test_a_release_with_nothing_said_asks_for_nothing(call: Call, caplog: pytest.LogCaptureFixture) -> None:
    call.agent.start_user_turn()
    with caplog.at_level(logging.WARNING, logger="turnstile.agent"):
        call.agent.commit_user_turn()
    # OpenAI refuses to commit an empty buffer; the agent clears it instead and stays quiet.
    assert call.after("start_user_turn") == ["start_user_turn", "clear_user_turn"]
    assert "no audio since start_user_turn" in caplog.text
    assert call.agent.state == "listening"


async def test_a_refused_press_sends_and_stops_nothing(call: Call) -> None:
    s = call.session
    s.start_audio_response(pcm_tone(2000), done=False)
    await call.agent.wait_for_state("speaking")

    def refuse() -> None:
        raise RuntimeError("manual turns are off")

    s.start_user_turn = refuse  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="manual turns are off"):
        call.agent.start_user_turn()
    assert call.agent.state == "speaking" and "cancel_response" not in s.names()


async def test_a_press_before_the_session_is_ready_is_ignored(caplog: pytest.LogCaptureFixture) -> None:
    provider = ScriptedRealtime(CAPS, ready_on_connect=False)
    room = LocalRoom(caller_sample_rate=RATE)
    agent = Agent(provider)
    await agent.start(room)
    try:
        await provider.last_session.wait_sent("connect")
        with caplog.at_level(logging.WARNING, logger="turnstile.agent"):
            agent.start_user_turn()
            agent.commit_user_turn()
        # The socket drops control frames while down: the turn's edges would be lost.
        assert provider.last_session.names() == ["connect"] and agent.state == "initializing"
        assert "not ready" in caplog.text
    finally:
        await agent.aclose()
        await room.aclose()


async def test_the_last_words_short_of_a_whole_chunk_are_committed_with_the_turn(call: Call) -> None:
    call.agent.start_user_turn()
    fwd = call.agent._forwarder
    assert fwd is not None
    await call.say(200)
    await wait_until(lambda: len(fwd._pending) > 0)  # the microphone runs on: part of a chunk
    tail, before = len(fwd._pending), len(call.session.audio_chunks)
    call.agent.commit_user_turn()
    # The part of a chunk went to the provider at the release, ahead of the commit.
    assert len(call.session.audio_chunks) == before + 1 and len(call.session.audio_chunks[-1]) == tail
    assert fwd._pending == bytearray()
    assert call.after("start_user_turn") == ["start_user_turn", "commit_user_turn", "create_response"]


async def test_a_partial_chunk_from_before_the_press_is_not_the_turns(call: Call) -> None:
    fwd = call.agent._forwarder
    assert fwd is not None
    await call.room.caller.say(pcm_tone(50, sample_rate=RATE))
    await wait_until(lambda: len(fwd._pending) > 0)
    call.agent.start_user_turn()
    call.agent.clear_user_turn()
    assert fwd._pending == bytearray()


async def test_the_user_region_follows_the_button(call: Call) -> None:
    heard: list[str] = []
    call.agent.on("user_started_speaking", lambda: heard.append("started"))
    call.agent.on("user_stopped_speaking", lambda: heard.append("stopped"))
    assert "silent" in call.agent.configuration
    call.agent.start_user_turn()
    assert "talking" in call.agent.configuration
    await call.say(200)
    call.agent.commit_user_turn()
    assert "silent" in call.agent.configuration
    call.agent.start_user_turn()
    call.agent.clear_user_turn()
    assert "silent" in call.agent.configuration and heard == ["started", "stopped"] * 2
    assert [t for _e, s, t in call.agent.trace.region("user").transitions if s != t] == ["talking", "silent"] * 2


async def test_generate_reply_inside_an_open_turn_ends_it_and_the_answer_plays_on(call: Call) -> None:
    call.agent.start_user_turn()
    await call.say(200)
    call.agent.generate_reply()  # commits what was said: the button's turn is over
    assert "silent" in call.agent.configuration and call.agent._turn_from is None
    s = call.session
    rid, iid = s.start_audio_response(pcm_tone(600), transcript="The answer.", done=False)
    await wait_until(lambda: call.room.speaker.heard_samples > RATE // 10)
    await call.say(200)  # the microphone runs on while the agent speaks: no barge-in from it
    s.finish_response(rid, iid, transcript="The answer.")
    await call.agent.wait_for_state("listening", timeout=5)
    assert "truncate" not in s.names() and "cancel_response" not in s.names()
