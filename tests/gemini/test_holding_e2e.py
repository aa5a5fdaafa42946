"""Hold, then decide, on Gemini Live, end to end: the real agent and adapter over a real socket
against the Gemini loopback, a caller speaking into LocalRoom's microphone.

With ``activityHandling: NO_INTERRUPTION`` the service keeps generating through the caller's
voice, so a cough or an mm-hmm costs the answer nothing; its automatic activity detection
reports the caller starting and stopping (``voiceActivity``, which the adapter turns into the
speech events the agent holds on). With the default handling the service cuts its own answer
at the first sound, and the barge-in is immediate."""

from __future__ import annotations

import math
from typing import Any

from turnstile.adapters.gemini._loopback import GeminiLiveServer
from turnstile.adapters.scenario import CallerTurn, ModelReply, Scenario

from .._util import wait_until
from .test_agent_loopback import Call, say

RATE = 24000
ANSWER = "It is twenty one degrees and sunny in Paris, a lovely day for a long walk by the river."
NEXT = "Tomorrow will be cloudy."
# The detection ends speech after its silence: 200 ms keeps a cough (~150 ms) plus that silence
# under min_interruption_s (0.5 s), as the caller heard it.
NO_INTERRUPTION: dict[str, Any] = {"activity_handling": "NO_INTERRUPTION", "silence_duration_ms": 200}


def scenario(*over_the_answer: CallerTurn) -> Scenario:
    return Scenario(steps=[ModelReply(transcript=ANSWER), *over_the_answer, ModelReply(transcript=NEXT)])


def activity(server: GeminiLiveServer) -> list[str]:
    """The voiceActivity the service reported, in order."""
    sent = server.connections[-1].sent
    return [m["voiceActivity"]["type"] for m in sent if "voiceActivity" in m]


def held(call: Call) -> list[str]:
    """Where each hold ended: ``speaking`` (played on) or ``interrupted`` (a barge-in)."""
    return [t for e, s, t in call.agent.trace.transitions if s == "holding" and t != "holding"]


async def over_the_answer(call: Call, *turns: CallerTurn) -> None:
    call.agent.generate_reply()
    await wait_until(lambda: call.room.speaker.heard_samples >= RATE * 8 // 10, timeout=10)
    for turn in turns:
        await say(call.room, turn)


async def test_no_interruption_plays_on_through_a_cough_and_a_backchannel_unanswered() -> None:
    cough, mm = CallerTurn(kind="cough"), CallerTurn(kind="backchannel")
    async with (
        GeminiLiveServer(scenario(cough, mm), pace=1.0) as server,
        Call(server, **NO_INTERRUPTION) as call,
    ):
        await over_the_answer(call, cough, mm)
        await wait_until(lambda: len(call.spoken) == 1, timeout=20)
        await call.agent.wait_for_state("listening", timeout=10)

        assert call.spoken == [ANSWER]  # whole
        record = server.connections[-1]
        assert record.caller_turns == ["", "mm-hmm"]  # both heard; the cough had no words
        assert activity(server) == ["ACTIVITY_START", "ACTIVITY_END"] * 2
        # The model kept generating and answered neither.
        assert [r.transcript for r in record.replies] == [ANSWER] and not record.replies[0].interrupted
        assert not any("interrupted" in m.get("serverContent", {}) for m in record.sent)
        assert "interrupted" not in call.agent.trace.path and call.errors == []
        # Held at the cough; the mm-hmm came before its false_interruption_timeout_s was up,
        # so one hold over both, then playout went on.
        assert held(call) == ["speaking"]


async def test_the_hold_waits_out_the_silence_that_ends_an_mm_hmm() -> None:
    # 500 ms (the loopback's default, said in the setup): the mm-hmm (~0.2 s) is reported
    # stopped only at ~0.7 s, past min_interruption_s; measured without it, it plays on.
    mm = CallerTurn(kind="backchannel")
    long_silence = {**NO_INTERRUPTION, "silence_duration_ms": 500}
    async with GeminiLiveServer(scenario(mm), pace=1.0) as server, Call(server, **long_silence) as call:
        await over_the_answer(call, mm)
        await wait_until(lambda: len(call.spoken) == 1, timeout=20)
        assert call.spoken == [ANSWER] and held(call) == ["speaking"]
        assert activity(server) == ["ACTIVITY_START", "ACTIVITY_END"] and call.errors == []


async def test_by_default_the_service_cuts_its_answer_at_the_first_sound() -> None:
    words = CallerTurn(transcript="Wait, and what about tomorrow?")
    async with GeminiLiveServer(scenario(words), pace=1.0) as server, Call(server) as call:
        await over_the_answer(call, words)
        await wait_until(lambda: len(call.spoken) == 2, timeout=20)
        await call.agent.wait_for_state("listening", timeout=10)

        assert call.spoken[0] != ANSWER and call.spoken[1] == NEXT
        assert "holding" not in call.agent.trace.path  # the service already stopped: nothing to hold
        # The agent stopped at the activity's start, just before the service said it had.
        assert ("user_speech_started", "speaking", "interrupted") in call.agent.trace.transitions
        record = server.connections[-1]
        assert [r.interrupted for r in record.replies] == [True, False]
        assert activity(server)[:1] == ["ACTIVITY_START"] and call.errors == []


async def test_by_default_speech_over_audio_the_service_finished_stops_the_agent() -> None:
    # Generated ahead of playout and done (turnComplete at once): nothing left for the service
    # to interrupt, so no interrupted comes; the activity's start is what stops the agent.
    words = CallerTurn(transcript="Wait, and what about tomorrow?")
    async with GeminiLiveServer(scenario(words), pace=math.inf, playout_speed=math.inf) as server, Call(server) as call:
        await over_the_answer(call, words)
        await wait_until(lambda: len(call.spoken) == 2, timeout=20)
        assert call.spoken[0].endswith("...") and call.spoken[1] == NEXT
        record = server.connections[-1]
        assert [r.interrupted for r in record.replies] == [False, False]  # the service cut nothing
        assert ("user_speech_started", "speaking", "interrupted") in call.agent.trace.transitions
        assert call.errors == []


async def test_a_cough_holds_the_agent_and_it_plays_on() -> None:
    cough = CallerTurn(kind="cough")
    async with (
        GeminiLiveServer(scenario(cough), pace=1.0) as server,
        Call(server, **NO_INTERRUPTION) as call,
    ):
        await over_the_answer(call, cough)
        await wait_until(lambda: len(call.spoken) == 1, timeout=20)
        assert call.spoken == [ANSWER]
        assert held(call) == ["speaking"]


async def test_real_words_over_the_agent_are_a_barge_in_after_a_hold() -> None:
    words = CallerTurn(transcript="Wait, and what about tomorrow?")
    async with (
        GeminiLiveServer(scenario(words), pace=1.0) as server,
        Call(server, **NO_INTERRUPTION) as call,
    ):
        await over_the_answer(call, words)
        await wait_until(lambda: len(call.spoken) >= 1, timeout=20)
        assert ("interruption_confirmed", "holding", "interrupted") in call.agent.trace.transitions
        assert call.spoken[0].endswith("...")
        assert server.connections[-1].replies[0].interrupted is False  # the agent cut it, not the service
