"""What a user does with the chart: listeners, guards of their own, subclasses, traces, and
the agent's lifecycle."""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path

import pytest
from statemachine import State, StateChart

from turnstile.adapters.local import LocalRoom
from turnstile.adapters.pytest_plugin import Harness
from turnstile.adapters.scripted import ScriptedRealtime, pcm_tone
from turnstile.machine import (
    AgentChart,
    InputSpeechStarted,
    InputSpeechStopped,
    ListenerWarning,
    RealtimeAgent,
    SessionReady,
    Trace,
    TraceAssertionError,
    TraceRecord,
)

from ._util import wait_until


class Recorder:
    """A listener the python-statemachine way: named callbacks, arguments by name."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def on_enter_speaking(self) -> None:
        self.calls.append("enter speaking")

    def on_exit_speaking(self) -> None:
        self.calls.append("exit speaking")

    def after_transition(self, event: str, source: State, target: State) -> None:
        self.calls.append(f"{event}: {source.id} -> {target.id}")


async def test_user_listeners_see_every_transition() -> None:
    provider, room, rec = ScriptedRealtime(), LocalRoom(), Recorder()
    agent = RealtimeAgent(provider, listeners=[rec])
    await agent.start(room)
    await agent.wait_for_state("listening")
    provider.last_session.start_audio_response(pcm_tone(100), done=False)
    provider.last_session.emit(InputSpeechStarted())
    # Every region's transitions, each region's in its own order; an event that moves
    # two regions is two transitions (the response region's, then the turn's).
    assert rec.calls == [
        "session_ready: initializing -> listening",
        "response_started: no_response -> streaming",
        "response_started: listening -> thinking",
        "enter speaking",
        "audio_started: thinking -> speaking",
        "exit speaking",
        "user_speech_started: silent -> talking",
        "user_speech_started: speaking -> interrupted",
        "None: interrupted -> listening",
        "response_cancelled: streaming -> cancelling",  # raised by the barge-in's cancel
    ]
    await agent.aclose()
    await room.aclose()


class IgnoreShortBargeIns:
    """A guard of the user's own: barge-ins count only after 300 ms of speech."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    def interruption_allowed(self, speech_ms: int = 0) -> bool:
        self.asked.append(speech_ms)
        return speech_ms >= 300


async def test_a_user_guard_ignores_short_barge_ins() -> None:
    provider, room, guard = ScriptedRealtime(), LocalRoom(), IgnoreShortBargeIns()
    agent = RealtimeAgent(provider, listeners=[guard])
    await agent.start(room)
    await agent.wait_for_state("listening")
    s = provider.last_session
    s.start_audio_response(pcm_tone(2000), done=False)
    fwd = agent.forwarder
    assert fwd is not None
    sent = fwd.sent_chunks  # the microphone flows while the caller is silent: nothing to ask
    await wait_until(lambda: fwd.sent_chunks >= sent + 2)
    assert guard.asked == []
    # A cough: speech starts and stops at once. The agent keeps talking.
    s.emit(InputSpeechStarted())
    assert agent.state == "speaking"
    s.emit(InputSpeechStopped())
    # Real speech: the runtime asks again as the caller's audio flows (100 ms chunks).
    s.emit(InputSpeechStarted())
    talk = asyncio.create_task(room.caller.say(pcm_tone(1000, sample_rate=48000)))
    await agent.wait_for_state("listening", timeout=5)
    talk.cancel()
    assert guard.asked[0] == 0 and guard.asked[-1] >= 300
    assert all(ms < 300 for ms in guard.asked[:-1])
    agent.trace.assert_visits("speaking", "interrupted", "listening")
    await agent.aclose()
    await room.aclose()


def test_subclassing_the_chart_keeps_the_declaration() -> None:
    from turnstile.machine import ChartActions, chart_transitions

    class Polite(AgentChart):
        def interruption_allowed(self, speech_ms: int = 0) -> bool:
            return speech_ms >= 500

    sm = Polite(model=ChartActions())
    for event in ("session_ready", "response_started"):
        sm.send(event)
    sm.send("audio_started", item_id="i", content_index=0, response_id="r")
    sm.send("user_speech_started", speech_ms=100)
    assert "speaking" in {s.id for s in sm.configuration}
    sm.send("user_speech_started", speech_ms=600)
    assert {"listening", "talking"} <= {s.id for s in sm.configuration}
    assert len(chart_transitions(Polite)) == len(chart_transitions(AgentChart))


class OnHold(StateChart):  # type: ignore[misc]
    """A chart of the user's own: initializing, listening and ``on_hold``, where the agent
    stops listening."""

    allow_event_without_transition = True

    class active(State.Compound):  # type: ignore[misc]
        initializing = State(initial=True)
        listening = State()
        on_hold = State()
        session_ready = initializing.to(listening, on="start_forwarding_audio")
        hold = listening.to(on_hold)
        resume = on_hold.to(listening)

    closed = State(final=True)
    close = active.to(closed, on="release")


async def test_a_subclass_with_an_extra_state_runs_in_the_agent() -> None:
    provider, room = ScriptedRealtime(), LocalRoom()
    agent = RealtimeAgent(provider, chart=OnHold)  # type: ignore[arg-type]
    await agent.start(room)
    await agent.wait_for_state("listening")
    agent.chart.send("hold")
    assert agent.state == "on_hold"
    await agent._publisher.settled()  # type: ignore[union-attr]
    assert room.attributes["lk.agent.state"] == "listening"  # unmapped: not published
    agent.chart.send("resume")
    agent.trace.assert_path("initializing", "listening", "on_hold", "listening")
    await agent.aclose()
    await room.aclose()


def test_async_callbacks_are_refused_with_a_clear_error() -> None:
    class Slow:
        async def on_enter_speaking(self) -> None: ...

    with pytest.raises(TypeError, match="must not await"):
        RealtimeAgent(ScriptedRealtime(), listeners=[Slow()])


def test_listener_hooks_named_after_nothing_in_the_chart_are_warned_about() -> None:
    class Typos:
        def on_enter_speakin(self) -> None: ...  # a state misspelled
        def before_user_speech_start(self) -> None: ...  # an event misspelled
        def interuption_allowed(self, speech_ms: int = 0) -> bool:  # a guard misspelled
            return False

        def on_enter_parked(self) -> None: ...  # a state of another chart
        def on_enter_speaking(self) -> None: ...  # these name the chart's own
        def after_session_ready(self) -> None: ...
        def responses_settled(self) -> bool:
            return True

        def summary(self) -> str:  # a helper, near no name the chart uses
            return ""

    with pytest.warns(ListenerWarning) as record:
        RealtimeAgent(ScriptedRealtime(), listeners=[Typos()])
    messages = sorted(str(w.message) for w in record)
    assert messages == [
        "listener Typos.before_user_speech_start is never called: AgentChart has no event "
        "'user_speech_start'; did you mean before_user_speech_started?",
        "listener Typos.interuption_allowed is never called: AgentChart names no guard or action "
        "'interuption_allowed'; did you mean interruption_allowed?",
        "listener Typos.on_enter_parked is never called: AgentChart has no state 'parked' (its "
        "states: active, away, cancel_on_arrival, cancelling, closed, expected, holding, initializing, "
        "interrupted, listening, no_response, no_tools, reply_owed, requested, response, "
        "running, silent, speaking, streaming, talking, thinking, tools, turn, user)",
        "listener Typos.on_enter_speakin is never called: AgentChart has no state 'speakin'; "
        "did you mean on_enter_speaking?",
    ]
    assert {w.filename for w in record} == {__file__}  # pointed at the user's own line


def test_listeners_that_name_the_charts_own_hooks_are_not_warned_about() -> None:
    class OnHoldHooks:
        def on_enter_on_hold(self) -> None: ...
        def after_hold(self) -> None: ...
        def before_transition(self) -> None: ...

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        RealtimeAgent(ScriptedRealtime(), listeners=[Recorder(), IgnoreShortBargeIns()])
        RealtimeAgent(ScriptedRealtime(), chart=OnHold, listeners=[OnHoldHooks()])  # type: ignore[arg-type]


async def test_start_twice_is_refused(turnstile_harness: Harness) -> None:
    with pytest.raises(RuntimeError, match="already started"):
        await turnstile_harness.agent.start(turnstile_harness.room)


async def test_events_after_close_are_ignored_and_close_releases_every_task() -> None:
    before = asyncio.all_tasks()
    provider, room = ScriptedRealtime(), LocalRoom()
    agent = RealtimeAgent(provider)
    await agent.start(room)
    await agent.wait_for_state("listening")
    s = provider.last_session
    s.start_audio_response(pcm_tone(500), done=False)
    agent.generate_reply(on_duplicate="keep_both")
    await agent.aclose()
    assert agent.state == "closed" and s.closed
    n = len(agent.trace)
    s.emit(SessionReady(), InputSpeechStarted())
    s.start_audio_response(pcm_tone(100))
    agent.generate_reply()
    agent.interrupt()
    assert len(agent.trace) == n and agent.state == "closed"
    await agent.aclose()  # idempotent
    await room.aclose()
    leftover = {t for t in asyncio.all_tasks() - before if not t.done()}
    leftover.discard(asyncio.current_task())  # type: ignore[arg-type]
    assert not leftover, leftover


def test_traces_round_trip_through_jsonl_and_explain_failures(tmp_path: Path) -> None:
    trace = Trace(
        [
            TraceRecord(t=0.0, event="session_ready", source="initializing", target="listening"),
            TraceRecord(t=0.1, event="user_speech_started", source="listening", target="listening"),
            TraceRecord(t=0.2, event="reply_requested", source="listening", target="thinking",
                        data={"why": "test"}),
        ]
    )
    path = tmp_path / "t.jsonl"
    trace.write_jsonl(path)
    back = Trace.read_jsonl(path)
    assert back.records == trace.records
    back.assert_path("initializing", "listening", "thinking")
    back.assert_visits("initializing", "thinking")
    with pytest.raises(TraceAssertionError) as err:
        back.assert_path("initializing", "listening", "speaking")
    message = str(err.value)
    assert "expected: initializing -> listening -> speaking" in message
    assert "actual:   initializing -> listening -> thinking" in message
    assert "first difference at step 2" in message
    with pytest.raises(TraceAssertionError):
        back.assert_visits("thinking", "listening")
    back.assert_never("listening", "speaking")


def test_assert_visits_says_where_the_expected_states_stopped_matching() -> None:
    # The path: initializing -> listening -> thinking -> speaking -> interrupted -> listening
    steps = [("session_ready", "initializing", "listening"), ("reply_requested", "listening", "thinking"),
             ("audio_started", "thinking", "speaking"), ("user_speech_started", "speaking", "interrupted"),
             (None, "interrupted", "listening")]
    trace = Trace(TraceRecord(t=i / 10, event=e, source=s, target=t) for i, (e, s, t) in enumerate(steps))
    trace.assert_visits("listening", "speaking", "listening")
    with pytest.raises(TraceAssertionError) as err:
        trace.assert_visits("listening", "speaking", "thinking")
    lines = str(err.value).splitlines()
    # Not "first difference at step 0": the third expected state is the one never reached,
    # after the prefix matched at steps 1 and 3 (thinking came only before, at step 2).
    assert lines[0] == (
        "visits (in order) stopped matching at expected state 3 of 3: thinking was not "
        "visited after step 3 (speaking); it was visited only before that, at step 2"
    )
    assert lines[1] == "  matched so far: listening (step 1), speaking (step 3)"
    assert "first difference" not in str(err.value)
    with pytest.raises(TraceAssertionError, match="1 of 1: closed was not visited at all"):
        trace.assert_visits("closed")


def test_a_bounded_trace_keeps_the_newest_records() -> None:
    trace = Trace(max_records=3)
    listener = trace.listener()
    from turnstile.machine import ChartActions

    chart = AgentChart(model=ChartActions(), listeners=[listener])
    for event in ("session_ready", "reply_requested", "user_speech_started", "reply_requested"):
        chart.send(event)
    assert len(trace) == 3  # the newest three, whatever their regions
    assert [(r.region, r.event) for r in trace.records] == [
        ("user", "user_speech_started"), ("turn", "user_speech_started"), ("turn", "reply_requested")
    ]
