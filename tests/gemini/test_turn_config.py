"""GeminiLive(activity_handling="NO_INTERRUPTION"): the model keeps generating while the caller
talks. In the setup (as google-genai's types take it), in Capabilities, and end to end
against the Gemini loopback, which honours activityHandling as the service does. (The hold
on the service's voiceActivity is in test_holding_e2e.)"""

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
    caps = default.capabilities
    # By default the server cuts its own answer and says so (interrupted): nothing to hold.
    assert (caps.holds_playout, caps.server_interrupts, caps.speech_stop_delay_ms) == (False, True, 0)
    overlap = GeminiLive(api_key="g", activity_handling="NO_INTERRUPTION", automatic_activity_detection=False)
    rtc = json.loads(dump_client_message(overlap.setup([], None)))["setup"]["realtimeInputConfig"]
    assert rtc == {"automaticActivityDetection": {"disabled": True}, "activityHandling": "NO_INTERRUPTION"}
    parsed = types.RealtimeInputConfig.model_validate(rtc)
    assert parsed.activity_handling == types.ActivityHandling.NO_INTERRUPTION
    caps = overlap.capabilities
    assert (caps.holds_playout, caps.server_turn_detection, caps.replies_to_turns) == (True, False, True)
    assert caps.server_interrupts is False  # the agent decides barge-ins
    # The silence that ends an activity delays its ACTIVITY_END: the hold waits it out.
    detected = GeminiLive(api_key="g", activity_handling="NO_INTERRUPTION", silence_duration_ms=300).capabilities
    assert (detected.holds_playout, detected.speech_stop_delay_ms, detected.speech_padding_ms) == (True, 300, 0)


async def test_no_interruption_on_a_model_that_reports_no_activity_talks_on_over_the_caller() -> None:
    answer = "An answer long enough that the caller talks in the middle of it, and it carries on."
    scenario = Scenario(steps=[ModelReply(transcript=answer), CallerTurn(transcript="Mm-hmm."),
                               ModelReply(transcript="Yes?")])  # fmt: skip
    # No voiceActivity (the gemini-3.8-live models): no speech event to hold on.
    async with GeminiLiveServer(scenario, pace=1.0, voice_activity=False) as server, \
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
        assert "holding" not in call.agent.trace.path
