"""The agent chart: the whole behaviour of a realtime voice agent, in one declaration.

Four regions run in parallel inside ``active``, and together they are all of the agent's
control state (the runtime keeps only data: ids, buffers, counters, clocks):

- ``turn``: what the agent is doing, as ``lk.agent.state`` publishes it;
- ``user``: whether the user is talking, silent, or has gone away;
- ``response``: the model's current response, from asked for to done or cancelled;
- ``tools``: tool calls running, and the reply their outputs are owed.

Read each line like the table in the README: an event, the states it leaves and enters,
its guard (``cond``; ``In('x')`` is true while state ``x`` is active) and its action
(``on``). Guards and actions are names; the runtime (a :class:`ChartActions`, given to the
chart as its model) carries them out, and users add their own by listeners or by
deriving a chart (:func:`~turnstile.machine.derive_chart`).
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

from statemachine import State, StateChart
from statemachine.engines.sync import SyncEngine

from ._engine import IndexedEngine

__all__ = [
    "LEAF_STATES",
    "REGIONS",
    "AgentChart",
    "ChartActions",
    "events_by_leaf",
    "events_by_state",
    "events_taken",
    "turn_states",
]

logger = logging.getLogger("turnstile.chart")


class AgentChart(StateChart["ChartActions"]):
    """initializing -> listening <-> thinking <-> speaking -> interrupted -> listening,
    with the user's floor, the response and the tools beside it."""

    # Events no active state handles are dropped, not raised: a late provider event
    # (audio of a cancelled response, anything after close) is a fact to ignore.
    allow_event_without_transition = True

    def _get_engine(self) -> Any:
        # The same engine, with each state's transitions per event looked up once (_engine).
        engine = super()._get_engine()  # type: ignore[no-untyped-call]
        return IndexedEngine(self) if type(engine) is SyncEngine else engine

    class active(State.Parallel):
        class turn(State.Compound):
            """What the agent is doing: the state the room sees."""

            initializing = State(initial=True, enter="expect_session", exit="stop_expecting_session")
            listening = State(enter="expect_user")
            thinking = State(enter="expect_response", exit="stop_expecting_response")
            speaking = State(enter="watch_playout", exit="stop_watching_playout")
            holding = State(enter="hold_playout", exit="stop_holding")
            """The user spoke over the agent: playout paused, nothing cancelled yet."""
            interrupted = State()

            session_ready = initializing.to(listening, on="start_forwarding_audio")
            # Whatever the turn was doing, it starts over (the other regions keep theirs).
            session_lost = initializing.from_(
                initializing, listening, thinking, speaking, holding, interrupted, on="recover_session"
            )
            # Connected, but no session became ready in time (a server that took the
            # upgrade and went quiet): connect anew. The socket's retry bound turns a
            # server that never gets ready into a fatal session_lost, then closed.
            session_timeout = initializing.to.itself(on="restart_session")

            # Speech over the agent holds it first where the provider keeps generating (a
            # cough must not cost the answer); elsewhere it is a barge-in at once.
            user_speech_started = (
                thinking.to(listening, on="cancel_response")
                | speaking.to(holding, cond="holds_first and interruption_allowed")
                | speaking.to(interrupted, cond="interruption_allowed", on="barge_in")
                | holding.to(None, on="expect_interruption")  # speech again: timed from now
            )
            interrupt = (
                thinking.to(listening, on="cancel_response")
                | speaking.to(interrupted, on="barge_in")
                | holding.to(interrupted, on="barge_in")
            )
            # Held: the speech lasted min_interruption_s, or its words are a real turn.
            interruption_confirmed = holding.to(
                interrupted, cond="In('talking')", on=["barge_in", "answer_held_turns"]
            )
            user_transcript = holding.to(
                interrupted, cond="real_words", on=["barge_in", "answer_held_turns"]
            ) | holding.to(speaking, cond="In('silent')", on="resume_playout")  # a backchannel
            # The speech ended: long enough by the provider's clock, a barge-in; else wait
            # for its words, and if none come in false_interruption_timeout_s, play on.
            user_speech_stopped = (
                holding.to(interrupted, cond="speech_lasted", on=["barge_in", "answer_held_turns"])
                | holding.to(None, on="await_false_interruption")
                # The user talked over thinking and fell silent, and the provider still owes
                # the answer to the turn before (no new turn was committed): wait for it as
                # thinking does, deadline included, or a tool's reply owed behind it waits
                # forever.
                | listening.to(thinking, cond="In('expected')")
            )
            false_interruption = holding.to(speaking, cond="In('silent')", on="resume_playout")

            user_turn_committed = (
                listening.to(thinking, cond="replies_to_turns")
                # Where the agent decides turns (the server answers nothing by itself), it
                # asks for the answer to a real turn; a turn committed while held waits.
                | listening.to(thinking, cond="asks_after_turns", on="request_response")
                | holding.to(None, on="note_held_turn")
            )
            reply_requested = listening.to(thinking)
            tool_calls = listening.to(thinking)
            # Not for a response the user barged in on before it began: it is cancelled.
            response_started = listening.to(thinking, cond="not In('cancel_on_arrival')")

            # A targetless transition, to(None), acts without leaving its state (SCXML's
            # targetless transition: no exit, no entry).
            audio_started = (
                thinking.to(speaking, on="start_playout")
                | speaking.to(None, on="start_playout")
                | holding.to(None, on="start_playout")  # queued behind the paused item
            )
            text_response = thinking.to(
                None, cond="retries_left", on="recover_from_text"
            ) | thinking.to(listening, on="give_up_on_text")
            # Thinking ends with the last response, unless another is on its way or owed.
            response_done = thinking.to(
                listening,
                cond="responses_settled and In('no_tools') and not In('requested') and not In('expected')",
            )
            # Every call was withdrawn: nothing to answer, and nothing else on its way.
            tools_done = thinking.to(
                listening, cond="all_tools_done and not outputs_unanswered and In('no_response')"
            )
            # No response began in time (the request was lost or refused): never think
            # forever. A response under way or a tool running has deadlines of its own.
            response_timeout = thinking.to(
                listening,
                cond="not In('streaming') and not In('cancelling') and not In('running')",
                on="give_up_on_response",
            )
            # A response stopped streaming (or audio came for an item no response
            # announced, then nothing): cancel it and keep what was heard, as a barge-in does.
            response_stalled = thinking.to(
                listening, cond="stream_owed or In('cancel_on_arrival')", on="abandon_response"
            ) | speaking.to(interrupted, cond="stream_owed", on="abandon_response")
            # (Not while holding: the hold's own deadlines end it, and a stall shows once
            # playout resumes and starves.)
            # The room stopped taking the agent's audio: the same, from what was heard.
            playout_stalled = speaking.to(interrupted, on="abandon_response")
            # A reply still owed (a tool's, or one asked for) is thought about after playout.
            playout_done = speaking.to(
                thinking,
                cond="not In('no_response') or not In('no_tools')",
                on="commit_agent_speech",
            ) | speaking.to(listening, on="commit_agent_speech")

            # Eventless: once barge_in ran, the agent listens again.
            interrupted.to(listening, on="commit_agent_speech")

        class user(State.Compound):
            """The user's floor, from the provider's speech events."""

            silent = State(initial=True, enter="await_user", exit="stop_awaiting_user")
            talking = State()
            away = State(enter=["prompt_away_user", "await_user"], exit="stop_awaiting_user")

            user_speech_started = silent.to(talking, on="report_user_state") | away.to(
                talking, on=["report_user_state", "welcome_user_back"]
            )
            user_speech_stopped = talking.to(silent, on="report_user_state")
            # user_away_timeout_s of silence on both sides while the agent listens.
            # Still away after another wait: prompted again, or reported (prompt_away_user).
            user_away = silent.to(away, cond="In('listening')", on="report_user_state") | away.to.itself(
                cond="In('listening')"
            )

        class response(State.Compound):
            """The model's latest response. Older ones (cancelled, not yet done) are data."""

            no_response = State(initial=True)
            expected = State()
            """A committed turn the provider answers by itself (server turn detection)."""
            requested = State()
            """The agent asked for a response (a reply, a tool's reply, a text recovery)."""
            cancel_on_arrival = State(enter="wait_for_arrival")
            """The user barged in before the requested response began."""
            streaming = State()
            cancelling = State()
            """Cancelled (barge-in); the provider has not said it is done yet."""

            user_turn_committed = expected.from_(no_response, cancelling, cond="replies_to_turns")
            # Asked again before it began: still requested (or still to be cancelled).
            reply_requested = requested.from_(no_response, expected, streaming, cancelling)
            # Where the server interrupts itself (Gemini), the answer asked for and not begun
            # dies with the interruption: what comes next answers the caller, and plays.
            response_cancelled = (
                requested.to(no_response, cond="server_interrupts")
                | requested.to(cancel_on_arrival)
                | streaming.to(cancelling)
            )
            response_started = streaming.from_(
                no_response, expected, requested, cancelling
            ) | cancel_on_arrival.to(cancelling, on="cancel_arrived_response")
            response_done = no_response.from_(streaming, cancelling, cond="responses_settled")
            response_timeout = no_response.from_(
                requested, expected, cancel_on_arrival, cond="In('thinking')"
            )
            response_stalled = no_response.from_(
                streaming, cancelling, cancel_on_arrival, on="forget_responses"
            )
            playout_stalled = no_response.from_(streaming, cancelling, on="forget_responses")
            # Responses in flight die with the socket; one owed is asked for anew (tools).
            session_lost = no_response.from_(
                expected, requested, cancel_on_arrival, streaming, cancelling, on="forget_responses"
            )

        class tools(State.Compound):
            """Tool calls running, and the reply their outputs are owed."""

            no_tools = State(initial=True)
            running = State()
            reply_owed = State()

            tool_calls = running.from_(no_tools, reply_owed, on="run_tools") | running.to(
                None, on="run_tools"
            )
            tools_done = running.to(
                reply_owed, cond="all_tools_done and outputs_unanswered"
            ) | running.to(no_tools, cond="all_tools_done")
            # A tool did not return within tool_timeout_s: it is cancelled and answered
            # with an error output, so the model is never left waiting.
            tool_timeout = running.to(None, on="abandon_tools")
            # Asked for before the session was ready.
            reply_deferred = no_tools.to(reply_owed)
            # A response that begins, or a reply asked for, answers what is owed so far.
            response_started = reply_owed.to(no_tools) | running.to(
                None, on="settle_outputs"
            )
            reply_requested = reply_owed.to(no_tools)
            # A reply asked for and not heard, lost with the socket, is owed anew.
            session_lost = no_tools.to(reply_owed, cond="In('requested') or reply_lost")
            # The reply waits for playout to end and for no response to be under way: a
            # tool's answer never interrupts the agent's own speech.
            reply_owed.to(
                no_tools,
                cond="(In('listening') or In('thinking')) and In('no_response')",
                on="request_response",
            )


    closed = State(final=True)

    close = active.to(closed, on="release")
    # A failing action becomes this internal event (SCXML's error.execution): reported,
    # never raised into the provider's reader task.
    # (The library types to(None) on a compound state without the None it accepts.)
    error_execution = active.to(None, on="report_error")  # type: ignore[arg-type]


REGIONS = ("turn", "user", "response", "tools")
LEAF_STATES = ("initializing", "listening", "thinking", "speaking", "holding", "interrupted", "closed")
"""The turn region's states, and closed: what ``agent.state`` reports."""


def events_by_state(chart: StateChart[Any] | type[StateChart[Any]]) -> dict[str, frozenset[str]]:
    """For each atomic state, the events some transition of it or of an ancestor takes.

    Read off the declaration (a derived chart's own transitions included). An event that
    no active state's set holds has nothing to do anywhere, whatever the guards say: the
    chart drops it.
    """
    out: dict[str, frozenset[str]] = {}
    for state in chart.states_map.values():
        if not state.is_atomic:
            continue
        names: set[str] = set()
        node: State | None = state
        while node is not None:
            names.update(str(e) for t in node.transitions for e in t.events)
            node = node.parent
        out[str(state.id)] = frozenset(names)
    return out


events_by_leaf = events_by_state  # the name it had before regions

EventsTaken = tuple[dict[str, frozenset[str]], dict[frozenset[str], frozenset[str]]]
_TAKEN: weakref.WeakKeyDictionary[type[Any], EventsTaken] = weakref.WeakKeyDictionary()


def events_taken(chart: type[StateChart[Any]]) -> EventsTaken:
    """``events_by_state`` and a memo of the events each set of active atomic states takes,
    both shared by every agent of a chart class (an agent's own memo would be cold for
    most of its turns: a process runs many short sessions)."""
    found = _TAKEN.get(chart)
    if found is None:
        found = _TAKEN[chart] = (events_by_state(chart), {})
    return found


def turn_states(chart: StateChart[Any] | type[StateChart[Any]]) -> frozenset[str]:
    """The atomic states of the chart's main region: the first region of its outermost
    parallel state (``turn``), or every atomic state of a chart without regions."""
    states = list(chart.states_map.values())
    parallel = next((s for s in states if s.parallel), None)
    if parallel is None:
        return frozenset(str(s.id) for s in states if s.is_atomic)
    main = parallel.states[0]
    out: set[str] = set()
    todo = [main]
    while todo:
        node = todo.pop()
        if node.is_atomic:
            out.add(str(node.id))
        todo.extend(node.states)
    return frozenset(out)


class ChartActions:
    """The guards and actions the chart names, with neutral defaults.

    The runtime subclasses this; so can a test that walks the chart without a runtime.
    Guards receive the event's keyword arguments by name (``speech_ms`` for barge-ins).
    Every method here must return promptly: start a task or enqueue, never await.
    Guards read data only (ids, buffers, counters): the control state is the chart's.
    """

    # Guards -------------------------------------------------------------------------
    def interruption_allowed(self) -> bool:
        return True

    def replies_to_turns(self) -> bool:
        return True

    def retries_left(self) -> bool:
        return True

    def responses_settled(self) -> bool:
        """No response is left in flight (the one just done was the last)."""
        return True

    def stream_owed(self) -> bool:
        """A response under way, cancelled or awaited still owes its stream."""
        return True

    def all_tools_done(self) -> bool:
        return True

    def outputs_unanswered(self) -> bool:
        """Tool outputs were sent that no response has answered yet."""
        return True

    def reply_lost(self) -> bool:
        """A response in flight when the socket dropped had not been heard at all."""
        return False

    def holds_first(self) -> bool:
        """Speech over the agent holds playout before deciding (the provider keeps going)."""
        return False

    def asks_after_turns(self) -> bool:
        """The agent asks for the answer to a committed turn (the server does not)."""
        return False

    def real_words(self, text: str = "") -> bool:
        """The held speech's transcript is a turn, not a backchannel or a noise."""
        return bool(text.strip())

    def server_interrupts(self) -> bool:
        """The provider cuts its own generation on the caller's speech (Gemini's default)."""
        return False

    def speech_lasted(self, speech_ms: int | None = None) -> bool:
        """The held speech that stopped lasted ``min_interruption_s`` by the provider's clock."""
        return False

    # Actions ------------------------------------------------------------------------
    def start_forwarding_audio(self) -> None: ...

    def cancel_response(self) -> None: ...

    def cancel_arrived_response(self, **event: Any) -> None: ...

    def wait_for_arrival(self) -> None: ...

    def barge_in(self) -> None: ...

    def start_playout(self, **event: Any) -> None: ...

    def recover_from_text(self, **event: Any) -> None: ...

    def give_up_on_text(self, **event: Any) -> None: ...

    def run_tools(self, **event: Any) -> None: ...

    def settle_outputs(self) -> None: ...

    def request_response(self) -> None: ...

    def commit_agent_speech(self) -> None: ...

    def hold_playout(self) -> None: ...

    def stop_holding(self) -> None: ...

    def expect_interruption(self) -> None: ...

    def await_false_interruption(self) -> None: ...

    def resume_playout(self) -> None: ...

    def note_held_turn(self, **event: Any) -> None: ...

    def answer_held_turns(self) -> None: ...

    def expect_response(self) -> None: ...

    def stop_expecting_response(self) -> None: ...

    def give_up_on_response(self) -> None: ...

    def forget_responses(self) -> None: ...

    def expect_session(self) -> None: ...

    def stop_expecting_session(self) -> None: ...

    def restart_session(self) -> None: ...

    def expect_user(self) -> None: ...

    def await_user(self) -> None: ...

    def stop_awaiting_user(self) -> None: ...

    def report_user_state(self, source: Any = None, target: Any = None) -> None: ...

    def prompt_away_user(self) -> None: ...

    def welcome_user_back(self) -> None: ...

    def watch_playout(self) -> None: ...

    def stop_watching_playout(self) -> None: ...

    def abandon_response(self, event: Any = None) -> None: ...

    def abandon_tools(self, **event: Any) -> None: ...

    def recover_session(self) -> None: ...

    def release(self) -> None: ...

    def report_error(self, error: Exception | None = None) -> None:
        logger.error("chart action failed: %r", error)
