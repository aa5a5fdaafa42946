"""The behaviours users hit that used to hide in runtime flags, each a transition the trace shows.

- a tool's reply while the agent speaks waits for playout to end (tools: reply_owed, then
  the eventless ask once the turn listens or thinks);
- a barge-in before the requested response began cancels it when it does
  (response: requested -> cancel_on_arrival -> cancelling);
- a response request lost with the socket is owed anew and asked once the new session is
  ready (tools: no_tools -> reply_owed on session_lost);
- the user's floor: silent, talking, away (user_state_changed).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from turnstile.adapters.local import LocalRoom
from turnstile.adapters.pytest_plugin import Harness
from turnstile.adapters.scripted import ScriptedRealtime, pcm_tone
from turnstile.machine import (
    AgentOptions,
    Capabilities,
    InputSpeechStarted,
    InputSpeechStopped,
    RealtimeAgent,
    ResponseCreated,
    SessionLost,
    SessionReady,
)

from ._util import wait_until


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


async def test_a_tools_reply_waits_for_the_agents_own_speech_to_end() -> None:
    provider, room = ScriptedRealtime(), LocalRoom()
    agent = RealtimeAgent(provider, tools=[add])
    await agent.start(room)
    await agent.wait_for_state("listening")
    s = provider.last_session
    finished = asyncio.Event()
    agent.on("function_calls_finished", lambda outputs: finished.set())
    rid, iid = s.start_audio_response(pcm_tone(600), transcript="let me add that", done=False)
    s.tool_call("add", json.dumps({"a": 2, "b": 3}), call_id="c1")  # asked mid-speech
    s.finish_response(rid, iid, transcript="let me add that")
    await asyncio.wait_for(finished.wait(), 5)
    assert agent.state == "speaking"
    assert "reply_owed" in agent.configuration  # owed, and waiting for the playout
    assert "create_response" not in s.names()  # never over the agent's own speech
    await s.wait_sent("create_response", timeout=5)  # asked once the playout ended
    tools = agent.trace.region("tools")
    tools.assert_transitions([
        ("tool_calls", "no_tools", "running"),
        ("tools_done", "running", "reply_owed"),
        (None, "reply_owed", "no_tools"),  # the eventless ask, after playout_done
    ])
    turn = agent.trace.transitions
    done = turn.index(("playout_done", "speaking", "thinking"))  # a reply is owed: think
    assert agent.state == "thinking" and done == len(turn) - 1
    assert s.names().count("create_response") == 1
    await agent.aclose()


async def test_a_barge_in_before_the_requested_response_began_cancels_it_on_arrival(
    turnstile_harness: Harness,
) -> None:
    h = turnstile_harness
    s = h.session
    h.agent.generate_reply()
    assert "requested" in h.agent.configuration
    s.emit(InputSpeechStarted())  # the user speaks before the response begins
    assert h.agent.state == "listening" and "cancel_on_arrival" in h.agent.configuration
    assert "cancel_response" not in s.names()  # nothing to cancel yet
    s.emit(ResponseCreated(response_id="late"))  # ... and then it begins
    assert s.names()[-1] == "cancel_response"
    assert h.agent.state == "listening"  # never thinking about a cancelled answer
    h.agent.trace.region("response").assert_transitions([
        ("reply_requested", "no_response", "requested"),
        ("response_cancelled", "requested", "cancel_on_arrival"),
        ("response_started", "cancel_on_arrival", "cancelling"),
    ])


async def test_where_the_server_interrupts_itself_the_next_response_answers_the_caller() -> None:
    # Gemini's default: the caller's speech cuts the generation server-side, so the reply
    # asked for and not begun never comes; the next response is the answer to the caller.
    caps = Capabilities(supports_truncate=False, server_interrupts=True)
    provider, room = ScriptedRealtime(caps), LocalRoom()
    agent = RealtimeAgent(provider)
    await agent.start(room)
    await agent.wait_for_state("listening")
    s = provider.last_session
    agent.generate_reply()
    s.emit(InputSpeechStarted(), InputSpeechStopped())
    assert agent.state == "listening" and "no_response" in agent.configuration
    s.start_audio_response(pcm_tone(200), transcript="the answer to the caller")
    await agent.wait_for_state("listening", timeout=5)
    assert ("response_cancelled", "requested", "no_response") in agent.trace.region("response").transitions
    assert ("audio_started", "thinking", "speaking") in agent.trace.transitions  # played, not dropped
    await agent.aclose()


async def test_a_request_lost_with_the_socket_is_asked_again_once_ready(
    turnstile_harness: Harness,
) -> None:
    h = turnstile_harness
    s = h.session
    h.agent.generate_reply()
    s.emit(SessionLost(reason="socket closed"))  # before the response began
    assert h.agent.state == "initializing" and "reply_owed" in h.agent.configuration
    assert s.names().count("create_response") == 1  # not asked on a dead socket
    s.emit(SessionReady())
    assert s.names().count("create_response") == 2  # asked anew, once
    h.agent.trace.region("tools").assert_transitions([
        ("session_lost", "no_tools", "reply_owed"),
        (None, "reply_owed", "no_tools"),
    ])
    assert h.agent.state == "thinking"


async def test_a_response_heard_in_part_is_not_asked_again_after_a_drop(
    turnstile_harness: Harness,
) -> None:
    h = turnstile_harness
    s = h.session
    h.agent.generate_reply()
    s.start_audio_response(pcm_tone(1000), transcript="a long answer", done=False)
    await wait_until(lambda: h.room.speaker.heard_samples > 2400)  # the caller heard some
    s.emit(SessionLost(reason="socket closed"))
    s.emit(SessionReady())
    assert s.names().count("create_response") == 1  # heard: it is in the conversation as heard
    assert {"listening", "no_tools", "no_response"} <= set(h.agent.configuration)


async def test_the_user_region_follows_the_floor_and_marks_an_away_caller() -> None:
    provider, room = ScriptedRealtime(), LocalRoom()
    agent = RealtimeAgent(provider, options=AgentOptions(user_away_timeout_s=0.2))
    changes: list[tuple[str, str]] = []
    away = asyncio.Event()

    def changed(old: str, new: str) -> None:
        changes.append((old, new))
        if new == "away":
            away.set()

    agent.on("user_state_changed", changed)
    await agent.start(room)
    await agent.wait_for_state("listening")
    s = provider.last_session
    s.emit(InputSpeechStarted())
    assert "talking" in agent.configuration
    s.emit(InputSpeechStopped())
    await asyncio.wait_for(away.wait(), 5)  # silence on both sides while listening
    s.emit(InputSpeechStarted())  # back
    assert changes == [("listening", "speaking"), ("speaking", "listening"),
                       ("listening", "away"), ("away", "speaking")]
    agent.trace.region("user").assert_path("silent", "talking", "silent", "away", "talking")
    await agent.aclose()


async def test_no_away_while_the_agent_is_speaking(turnstile_harness: Harness) -> None:
    h = turnstile_harness
    rt: Any = h.agent._runtime
    h.session.start_audio_response(pcm_tone(300), done=False)
    assert h.agent.state == "speaking"
    h.agent._send("user_away")  # as the deadline would fire, mid-speech
    assert "silent" in h.agent.configuration and "away" not in h.agent.configuration
    assert rt.away_deadline.seconds == 15.0  # the default


async def test_configuration_names_every_regions_leaf_in_declaration_order(
    turnstile_harness: Harness,
) -> None:
    h = turnstile_harness
    assert h.agent.configuration == ("listening", "silent", "no_response", "no_tools")
    await h.agent.aclose()
    assert h.agent.configuration == ("closed",)


async def test_an_away_caller_is_prompted_at_most_n_times_then_reported() -> None:
    provider, room = ScriptedRealtime(), LocalRoom()
    prompted: list[str] = []
    reported: list[int] = []
    gone = asyncio.Event()

    def ask(agent: RealtimeAgent) -> None:
        prompted.append(agent.state)
        agent.generate_reply()  # the application's "are you still there?"

    options = AgentOptions(user_away_timeout_s=0.1, on_user_away=ask, user_away_prompts=1)
    agent = RealtimeAgent(provider, options=options)
    agent.on("user_away", lambda n: (reported.append(n), gone.set()))
    await agent.start(room)
    await agent.wait_for_state("listening")
    s = provider.last_session
    await agent.wait_for_state("thinking", timeout=5)  # away: prompted, a reply asked for
    assert prompted == ["listening"] and s.names().count("create_response") == 1
    s.start_audio_response(pcm_tone(100), transcript="are you still there?")
    await asyncio.wait_for(gone.wait(), 5)  # still away once it listens again: reported
    assert reported == [2] and prompted == ["listening"]
    assert s.names().count("create_response") == 1  # not prompted twice
    agent.trace.region("user").assert_path("silent", "away")
    s.emit(InputSpeechStarted())  # back: the count starts over
    assert "talking" in agent.configuration and agent._runtime.away_prompts == 0
    await agent.aclose()


async def test_on_user_away_as_text_asks_for_a_reply_with_those_instructions() -> None:
    provider, room = ScriptedRealtime(), LocalRoom()
    options = AgentOptions(user_away_timeout_s=0.1, on_user_away="Ask whether the caller is still there.")
    agent = RealtimeAgent(provider, options=options)
    await agent.start(room)
    await agent.wait_for_state("listening")
    await agent.wait_for_state("thinking", timeout=5)  # away: the reply is asked for
    s = provider.last_session
    assert s.last("create_response").args == {"instructions": "Ask whether the caller is still there."}
    assert agent._runtime.owed_instructions is None  # this reply's only
    await agent.aclose()
