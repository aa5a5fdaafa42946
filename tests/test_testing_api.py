"""turnstile.adapters.testing: the strategy's sequences are valid and drive the stock chart
and a derived one with the invariants holding; a broken runtime fails the check, readably."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from turnstile.adapters.testing import (
    AgentCall,
    ChartEvent,
    build_steps,
    chart_operations,
    provider_events,
    run_scripted,
)
from turnstile.machine import (
    AgentChart,
    AgentOptions,
    AudioDelta,
    InputSpeechStarted,
    InputSpeechStopped,
    NewTransition,
    ResponseContentDone,
    ResponseCreated,
    ResponseDone,
    SessionLost,
    SessionReady,
    ToolCallsRequested,
    TranscriptDelta,
    derive_chart,
)
from turnstile.machine._runtime import Runtime

# Fast deadlines, so that a run of a dozen steps reaches the watchdogs' transitions too.
FAST = AgentOptions(response_timeout_s=0.2, response_stall_timeout_s=0.15, playout_stall_timeout_s=0.15,
                    tool_timeout_s=0.15)  # fmt: skip
RUNS = settings(max_examples=20, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])  # fmt: skip

Hold = derive_chart(
    "Hold",
    add_states={"turn": ["on_hold"]},
    add_transitions=[NewTransition("speaking", "hold", "on_hold"), NewTransition("on_hold", "resume", "listening")],
)


def lookup() -> str:
    return "found"


@settings(max_examples=300, deadline=None, database=None)
@given(events=provider_events(Hold))
def test_the_sequences_are_what_a_server_could_send(events: list[Any]) -> None:
    assert events[0] == SessionReady()
    connected, talking, streaming, done = False, False, None, set()
    for ev in events:
        if isinstance(ev, SessionReady):
            assert not connected
            connected = True
        elif isinstance(ev, AgentCall | ChartEvent) or not hasattr(ev, "kind"):
            continue  # the application's, or time passing: not the server's
        else:
            assert connected, f"{ev} sent on a socket that is down"
        if isinstance(ev, SessionLost):
            connected, streaming = False, None
        elif isinstance(ev, InputSpeechStarted | InputSpeechStopped):
            assert talking != isinstance(ev, InputSpeechStarted), "speech start and stop alternate"
            talking = not talking
        elif isinstance(ev, ResponseCreated):
            assert streaming is None, "one response streams at a time"
            assert ev.response_id not in done
            streaming = ev.response_id
        elif isinstance(ev, AudioDelta | TranscriptDelta | ResponseContentDone | ToolCallsRequested):
            assert ev.response_id == streaming, f"{ev.kind} for {ev.response_id}, streaming {streaming}"
        elif isinstance(ev, ResponseDone):
            assert ev.response_id == streaming
            done.add(streaming)
            streaming = None


def test_a_derived_charts_own_events_are_generated() -> None:
    stock, hold = chart_operations(AgentChart), chart_operations(Hold)
    assert not [op for op in stock if op.startswith("chart:")]
    assert {"chart:hold", "chart:resume"} <= hold.keys()
    # Weighted by what the chart declares: a user's speech starts many transitions.
    assert hold["speech_started"] > hold["transcript"] == 1
    assert build_steps(["chart:hold"]) == [SessionReady(), ChartEvent("hold")]


@RUNS
@given(events=provider_events(tool_names=("lookup", "missing")))
def test_the_stock_chart_keeps_the_invariants(events: list[Any]) -> None:
    run_scripted(events, options=FAST, tools=[lookup])


def test_a_derived_chart_keeps_the_invariants_and_takes_its_own_transitions() -> None:
    taken: set[tuple[str | None, str, str]] = set()

    @RUNS
    @given(events=provider_events(Hold))
    def run(events: list[Any]) -> None:
        taken.update(run_scripted(events, chart=Hold, options=FAST).transitions)

    run()
    assert ("hold", "speaking", "on_hold") in taken
    assert ("resume", "on_hold", "listening") in taken


def _asks_twice(self: Runtime) -> None:
    ask(self)
    if self.session is not None:
        self.session.create_response()


ask = Runtime.request_response

BREAKS = {
    # The break: audio that begins to stream is never handed to the player.
    "start_playout": (lambda self, **event: None, ["created", "audio"],
                      "speaking implies a playout\n  the turn speaks with nothing to play",
                      "turn: thinking --audio_started--> speaking"),
    # The break: every reply the runtime asks for is asked for twice.
    "request_response": (_asks_twice, ["created", "tool", "response_done", "advance"],
                         "a reply is asked for once per reply owed\n  2 replies asked for outside generate_reply, "
                         "1 by the chart leaving reply_owed",
                         "tools: reply_owed --(auto)--> no_tools"),
}  # fmt: skip


@pytest.mark.parametrize("action", sorted(BREAKS))
def test_a_broken_runtime_fails_the_check_naming_the_invariant(monkeypatch: pytest.MonkeyPatch, action: str) -> None:
    broken, operations, invariant, transition = BREAKS[action]
    monkeypatch.setattr(Runtime, action, broken)
    with pytest.raises(AssertionError) as failure:
        run_scripted(build_steps(operations), options=FAST)
    message = str(failure.value)
    assert message.startswith(f"invariant broken: {invariant}\n"), message
    assert "configuration: (" in message and "last transitions:\n" in message and transition in message, message


def test_importing_the_adapters_needs_no_hypothesis() -> None:
    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "import turnstile.adapters, turnstile.adapters.testing as t\n"
        "assert t.build_steps(['created'])[1].kind == 'response_created'\n"
        "try:\n    t.provider_events\nexcept ModuleNotFoundError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert "needs hypothesis: pip install 'turnstile-agents[pytest]'" in out.stdout, out.stderr
