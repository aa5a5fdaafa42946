"""Testing an agent offline with pytest: copy this file (and the examples it imports) into
your project and run ``pytest``. No configuration is needed: the turnstile plugin runs
``async def`` tests that take its fixtures (``turnstile_harness``, ``local_room``) on
asyncio. It needs ``pip install 'turnstile-agents[pytest]'`` (pytest-asyncio).
"""

from __future__ import annotations

import pytest
from chart_hooks import IgnoreShortBargeIns
from openai_agent import QUESTION, converse, get_weather, speech

from turnstile.adapters.local import LocalRoom
from turnstile.adapters.openai import OpenAIRealtime
from turnstile.adapters.openai._server import OpenAIRealtimeServer
from turnstile.adapters.scenario import Scenario
from turnstile.adapters.scripted import ScriptedRealtime, pcm_tone
from turnstile.adapters.voice import RATE
from turnstile.machine import InputSpeechStarted, InputSpeechStopped, RealtimeAgent


# A scripted provider: the test says what the model does, event by event.
async def test_barge_in(turnstile_harness):
    h = turnstile_harness
    h.session.start_audio_response(pcm_tone(1000), transcript="one two three", done=False)
    await h.agent.wait_for_state("speaking")
    h.session.emit(InputSpeechStarted())
    h.agent.trace.assert_visits("speaking", "interrupted", "listening")
    assert "cancel_response" in h.session.names()


# Your own listeners, on the same scripted provider and a local room.
async def test_a_cough_does_not_stop_the_agent(scripted_provider: ScriptedRealtime,
                                               local_room: LocalRoom) -> None:
    agent = RealtimeAgent(scripted_provider, listeners=[IgnoreShortBargeIns(min_speech_ms=300)])
    await agent.start(local_room)
    await agent.wait_for_state("listening")
    session = scripted_provider.last_session
    session.start_audio_response(pcm_tone(2000), done=False)
    await agent.wait_for_state("speaking")
    session.emit(InputSpeechStarted(), InputSpeechStopped())  # a cough: no audio to speak of
    assert agent.state == "speaking"
    session.emit(InputSpeechStarted())  # then the caller talks on: asked again as audio flows
    await local_room.caller.say(pcm_tone(600, sample_rate=local_room.caller.sample_rate))
    await agent.wait_for_state("listening")
    agent.trace.assert_visits("speaking", "interrupted", "listening")
    await agent.aclose()


# The real OpenAI adapter over a real socket, against the loopback server following a script.
WEATHER_CALL = Scenario.model_validate({"steps": [
    {"role": "model", "transcript": "Hello!"},
    {"role": "caller", "transcript": QUESTION},
    {"role": "model", "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
    {"role": "model", "transcript": "Sunny in Paris."},
]})


# A test that takes none of the plugin's fixtures says it is an asyncio test itself.
@pytest.mark.asyncio
async def test_the_weather_call() -> None:
    room = LocalRoom(caller_sample_rate=RATE)  # the caller speaks 24 kHz, as speech() makes
    async with OpenAIRealtimeServer(WEATHER_CALL) as server:
        agent = RealtimeAgent(OpenAIRealtime(url=server.url, api_key="any"), tools=[get_weather])
        assert await converse(agent, room, speech(QUESTION)) == ["Hello!", "Sunny in Paris."]
        await room.aclose()
    sent = [event for event in server.received[0] if event.type == "conversation.item.create"]
    assert any(e.item.type == "function_call_output" and "Paris" in e.item.output for e in sent)
