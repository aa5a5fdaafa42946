"""GeminiLive(activity_handling="NO_INTERRUPTION"): the model keeps generating while the caller
talks. In the setup (as google-genai's types take it), in Capabilities, and end to end
against the Gemini loopback, which honours activityHandling as the service does."""

from __future__ import annotations

import json

from google.genai import types

from turnstile.adapters.gemini import GeminiLive
from turnstile.adapters.gemini._loopback import GeminiLiveServer
from turnstile.adapters.gemini._protocol import dump_client_message
from turnstile.adapters.scenario import CallerTurn, ModelReply, Scenario

from .._util import wait_until
from .test_agent_loopback import Call, say


def test_activity_handling_goes_in_the_setup_and_the_capabilities() -> None:
    default = GeminiLive(api_key="g")
    assert "realtimeInputConfig" not in json.loads(dump_client_message(default.setup([], None)))["setup"]
    assert default.capabilities.holds_playout is False  # unchanged by default
    overlap = GeminiLive(api_key="g", activity_handling="NO_INTERRUPTION", automatic_activity_detection=False)
    rtc = json.loads(dump_client_message(overlap.setup([], None)))["setup"]["realtimeInputConfig"]
    assert rtc == {"automaticActivityDetection": {"disabled": True}, "activityHandling": "NO_INTERRUPTION"}
    parsed = types.RealtimeInputConfig.model_validate(rtc)
    assert parsed.activity_handling == types.ActivityHandling.NO_INTERRUPTION
    caps = overlap.capabilities
    assert (caps.holds_playout, caps.server_turn_detection, caps.replies_to_turns) == (True, False, True)


async def test_no_interruption_keeps_the_answer_going_through_the_callers_speech() -> None:
    answer = "An answer long enough that the caller talks in the middle of it, and it carries on."
    scenario = Scenario(steps=[ModelReply(transcript=answer), CallerTurn(transcript="Mm-hmm."),
                               ModelReply(transcript="Yes?")])  # fmt: skip
    async with GeminiLiveServer(scenario, pace=1.0) as server, \
            Call(server, activity_handling="NO_INTERRUPTION") as call:
        call.agent.generate_reply()
        await wait_until(lambda: call.room.speaker.heard_samples > 12000, timeout=10)
        await say(call.room, scenario.steps[1])  # type: ignore[arg-type]
        await wait_until(lambda: len(call.spoken) == 2, timeout=30)
        # Heard whole, then the caller's words answered after it: overlap, not a barge-in.
        assert call.spoken == [answer, "Yes?"]
        record = server.connections[0]
        assert record.caller_turns == ["Mm-hmm."]
        assert [r.interrupted for r in record.replies] == [False, False] and call.errors == []
