"""Hold, then decide, end to end: the real agent and OpenAI adapter over a real socket against
the loopback Realtime server, a caller speaking into LocalRoom's microphone. With
``agent_decides_turns`` the server neither cuts its answer nor answers the caller by itself, so
a cough or an mm-hmm over the agent holds it and it plays on; a real barge-in is cut where the
room stopped playing. With the defaults the server cuts itself, and a barge-in is immediate."""

from __future__ import annotations

import asyncio
from typing import Any

from turnstile.adapters.openai import ServerVad
from turnstile.adapters.openai._server import OpenAIRealtimeServer
from turnstile.adapters.scenario import CallerTurn, ModelReply, Scenario
from turnstile.machine import AgentOptions

from .._util import wait_until
from .test_agent_loopback import say
from .test_push_to_talk import Call

RATE = 24000
ANSWER = ("It is twenty one degrees and sunny in Paris, a lovely day for a long walk by the river, "
          "and the evening should stay warm and clear.")  # fmt: skip
NEXT = "Tomorrow will be cloudy."
# A shorter VAD silence than the default only makes the calls quicker: the hold measures the
# speech without the silence (see the default-silence mm-hmm below).
FAST_VAD = ServerVad(silence_duration_ms=200)
DECIDES: dict[str, Any] = {"agent_decides_turns": True, "turn_detection": FAST_VAD}


class Watch:
    """The agent's transitions as they happen, what the room had played at each hold, and waits."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self.heard_at_hold: list[int] = []
        self._changed = asyncio.Event()
        call.agent.on("state_changed", self._state)
        call.agent.on("false_interruption", lambda *_: self._changed.set())

    def _state(self, _old: str, new: str, _event: Any) -> None:
        if new == "holding":  # the pause is synchronous with the transition: nothing more plays
            self.heard_at_hold.append(self.call.room.speaker.heard_samples)
        self._changed.set()

    def transitions(self, source: str) -> list[tuple[str | None, str]]:
        """The transitions out of ``source`` (targetless ones stay, and are left out)."""
        return [(e, t) for e, s, t in self.call.agent.trace.transitions if s == source and t != source]

    async def until(self, done: Any, timeout: float = 15.0) -> None:
        async with asyncio.timeout(timeout):
            while not done():
                self._changed.clear()
                await self._changed.wait()


def sent(server: OpenAIRealtimeServer) -> list[Any]:
    return list(server.received[-1])


async def speaking_for(call: Call, ms: int) -> None:
    """Ask for the answer; return once the room has played ``ms`` of it (the caller's timing)."""
    call.agent.generate_reply()
    await wait_until(lambda: call.room.speaker.heard_samples >= ms * RATE // 1000, timeout=10)


def scenario(*over_the_answer: CallerTurn) -> Scenario:
    return Scenario(steps=[ModelReply(transcript=ANSWER), *over_the_answer, ModelReply(transcript=NEXT)])


async def test_a_cough_over_the_agent_holds_it_and_it_plays_on_whole() -> None:
    cough = CallerTurn(kind="cough")
    async with OpenAIRealtimeServer(scenario(cough)) as server, Call(server, "ga", None, **DECIDES) as call:
        watch = Watch(call)
        await speaking_for(call, 800)
        await say(call.room, cough)
        await wait_until(lambda: len(call.spoken) == 1, timeout=20)
        await call.agent.wait_for_state("listening", timeout=10)

        assert call.spoken == [ANSWER]  # committed whole: never cut, never truncated
        assert len(watch.heard_at_hold) == 1
        # The hold ended in a false interruption: the cough's empty transcript, or no words in time.
        assert watch.transitions("holding") in ([("user_transcript", "speaking")], [("false_interruption", "speaking")])
        events = sent(server)
        types = [e.type for e in events]
        assert "response.cancel" not in types and "conversation.item.truncate" not in types
        assert types.count("response.create") == 1  # the noise was not answered
        # The noise's committed turn leaves the model's memory.
        [committed] = server.connections[-1].user_audio_ms
        assert [e.item_id for e in events if e.type == "conversation.item.delete"] == [committed]
        # Nothing lost or repeated: the room played the answer's audio once, all of it.
        reply = scenario().replies[0]
        assert abs(call.room.speaker.heard_samples - len(reply.audio()) // 2) <= RATE // 10
        assert call.errors == []


async def test_a_backchannel_plays_on_and_is_not_answered() -> None:
    mm = CallerTurn(kind="backchannel")  # "mm-hmm"
    async with OpenAIRealtimeServer(scenario(mm)) as server, Call(server, "beta", None, **DECIDES) as call:
        watch = Watch(call)
        await speaking_for(call, 800)
        await say(call.room, mm)
        await wait_until(lambda: len(call.spoken) == 1, timeout=20)
        await call.agent.wait_for_state("listening", timeout=10)

        assert call.spoken == [ANSWER]
        assert ("user_transcript", "speaking") in watch.transitions("holding")  # the words said: mm-hmm
        events = sent(server)
        types = [e.type for e in events]
        assert "response.cancel" not in types and "conversation.item.truncate" not in types
        assert types.count("response.create") == 1
        [committed] = server.connections[-1].user_audio_ms
        assert [e.item_id for e in events if e.type == "conversation.item.delete"] == [committed]
        assert all(m.id != committed for m in call.agent.chat_ctx.messages)
        assert "thinking" not in call.agent.trace.path[call.agent.trace.path.index("holding") :]
        assert call.errors == []


async def test_a_real_barge_in_is_cut_where_the_room_stopped_playing() -> None:
    words = CallerTurn(transcript="Wait, and what about tomorrow?")
    async with OpenAIRealtimeServer(scenario(words)) as server, Call(server, "ga", None, **DECIDES) as call:
        watch = Watch(call)
        await speaking_for(call, 1000)
        await say(call.room, words)
        await wait_until(lambda: len(call.spoken) == 2, timeout=20)
        await call.agent.wait_for_state("listening", timeout=10)

        assert ("interruption_confirmed", "interrupted") in watch.transitions("holding")
        assert call.spoken[0].endswith("...") and call.spoken[1] == NEXT  # then the agent asked
        [heard] = watch.heard_at_hold
        events = sent(server)
        [truncate] = [e for e in events if e.type == "conversation.item.truncate"]
        # The heard position excludes the time the agent was held: what the room had played.
        assert abs(truncate.audio_end_ms - heard * 1000 / RATE) <= 10, (truncate.audio_end_ms, heard)
        types = [e.type for e in events]
        assert types.index("response.cancel") < types.index("conversation.item.truncate")
        assert types.count("response.create") == 2 and call.errors == []


async def test_with_the_defaults_the_server_cuts_itself_and_the_barge_in_is_immediate() -> None:
    words = CallerTurn(transcript="Wait, and what about tomorrow?")
    async with (
        OpenAIRealtimeServer(scenario(words)) as server,
        Call(server, "ga", AgentOptions(), turn_detection=FAST_VAD) as call,
    ):
        watch = Watch(call)
        await speaking_for(call, 1000)
        await say(call.room, words)
        await wait_until(lambda: len(call.spoken) == 2, timeout=20)
        await call.agent.wait_for_state("listening", timeout=10)

        assert watch.heard_at_hold == [] and "holding" not in call.agent.trace.path
        assert ("user_speech_started", "speaking", "interrupted") in call.agent.trace.transitions
        assert call.spoken[0].endswith("...") and call.spoken[1] == NEXT
        types = [e.type for e in sent(server)]
        # The server cancelled its own answer and answered the turn by itself: one request, ours.
        assert "conversation.item.truncate" in types and types.count("response.create") == 1
        assert call.errors == []


async def test_with_the_default_vad_silence_an_mm_hmm_still_plays_on() -> None:
    mm = CallerTurn(kind="backchannel")
    async with OpenAIRealtimeServer(scenario(mm)) as server, \
            Call(server, "ga", None, agent_decides_turns=True) as call:  # fmt: skip
        watch = Watch(call)
        await speaking_for(call, 800)
        await say(call.room, mm)
        await wait_until(lambda: len(call.spoken) >= 1, timeout=20)
        assert [t for _, t in watch.transitions("holding")] == ["speaking"]
        assert call.spoken == [ANSWER]
