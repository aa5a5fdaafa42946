"""The agent chart: the whole behaviour of a realtime voice agent, in one declaration.

Read it like the table in DESIGN.md: each line is an event, the states it leaves and
enters, its guard (``cond``) and its action (``on``). Guards and actions are names; the
runtime (a :class:`ChartActions`, given to the chart as its model) carries them out, and
users add their own by listeners or by subclassing.
"""

from __future__ import annotations

import logging
from typing import Any

from statemachine import State, StateChart

__all__ = ["LEAF_STATES", "AgentChart", "ChartActions", "events_by_leaf"]

logger = logging.getLogger("turnstile.chart")


class AgentChart(StateChart["ChartActions"]):
    """initializing -> listening <-> thinking <-> speaking -> interrupted -> listening."""

    # Events the current state does not handle are dropped, not raised: a late provider
    # event (audio of a cancelled response, anything after close) is a fact to ignore.
    allow_event_without_transition = True

    class active(State.Compound):
        initializing = State(initial=True, enter="expect_session", exit="stop_expecting_session")
        listening = State()
        thinking = State(enter="expect_response", exit="stop_expecting_response")
        speaking = State(enter="watch_playout", exit="stop_watching_playout")
        interrupted = State()

        session_ready = initializing.to(listening, on="start_forwarding_audio")
        # Connected, but no session became ready in time (a server that took the upgrade
        # and went quiet): drop that connection and connect anew. The socket's retry
        # bound turns a server that never gets ready into a fatal session_lost, then closed.
        session_timeout = initializing.to.itself(on="restart_session")

        user_speech_started = (
            listening.to.itself(internal=True)
            | thinking.to(listening, on="cancel_response")
            | speaking.to(interrupted, cond="interruption_allowed", on="barge_in")
        )
        user_speech_stopped = listening.to.itself(internal=True)
        interrupt = thinking.to(listening, on="cancel_response") | speaking.to(
            interrupted, on="barge_in"
        )

        user_turn_committed = listening.to(thinking, cond="replies_to_turns")
        reply_requested = listening.to(thinking)
        response_started = listening.to(thinking)

        audio_started = thinking.to(speaking, on="start_playout") | speaking.to.itself(
            internal=True, on="start_playout"
        )
        text_response = thinking.to.itself(
            internal=True, cond="retries_left", on="recover_from_text"
        ) | thinking.to(listening, on="give_up_on_text")
        tool_calls = (
            listening.to(thinking, on="run_tools")
            | thinking.to.itself(internal=True, on="run_tools")
            | speaking.to.itself(internal=True, on="run_tools")
        )
        response_done = thinking.to(listening, cond="nothing_pending")
        # No response began in time (the request was lost or refused): never think forever.
        response_timeout = thinking.to(listening, on="give_up_on_response")
        # A response began, then stopped streaming (or audio came for an item no response
        # announced, then nothing): cancel it and keep what was heard, as a barge-in does.
        response_stalled = thinking.to(listening, on="abandon_response") | speaking.to(
            interrupted, on="abandon_response"
        )
        # The room stopped taking the agent's audio: the same, from what was heard.
        playout_stalled = speaking.to(interrupted, on="abandon_response")
        playout_done = speaking.to(
            thinking, cond="reply_pending", on="commit_agent_speech"
        ) | speaking.to(listening, on="commit_agent_speech")

        # Eventless: once barge_in ran, the agent listens again.
        interrupted.to(listening, on="commit_agent_speech")

    closed = State(final=True)

    session_lost = active.to(active.initializing, on="recover_session")
    close = active.to(closed, on="release")
    # A tool did not return within tool_timeout_s, whatever the turn is doing: it is
    # cancelled and answered with an error output, so the model is never left waiting.
    # (Targetless: active.to(None). The library's type hint omits the None it accepts.)
    tool_timeout = active.to(None, on="abandon_tools")  # type: ignore[arg-type]

    # A failing action becomes this internal event (SCXML's error.execution): reported,
    # never raised into the provider's reader task.
    error_execution = active.to(None, on="report_error")  # type: ignore[arg-type]


LEAF_STATES = ("initializing", "listening", "thinking", "speaking", "interrupted", "closed")


def events_by_leaf(chart: StateChart[Any]) -> dict[str, frozenset[str]]:
    """For each leaf state, the events some transition of it or of an ancestor takes.

    Read off the declaration (a subclass's own transitions included). An event outside
    its leaf's set has nothing to do there, whatever the guards say: the chart drops it.
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


class ChartActions:
    """The guards and actions the chart names, with neutral defaults.

    The runtime subclasses this; so can a test that walks the chart without a runtime.
    Guards receive the event's keyword arguments by name (``speech_ms`` for barge-ins).
    Every method here must return promptly: start a task or enqueue, never await.
    """

    # Guards -------------------------------------------------------------------------
    def interruption_allowed(self) -> bool:
        return True

    def replies_to_turns(self) -> bool:
        return True

    def retries_left(self) -> bool:
        return True

    def nothing_pending(self) -> bool:
        return True

    def reply_pending(self) -> bool:
        return False

    # Actions ------------------------------------------------------------------------
    def start_forwarding_audio(self) -> None: ...

    def cancel_response(self) -> None: ...

    def barge_in(self) -> None: ...

    def start_playout(self, **event: Any) -> None: ...

    def recover_from_text(self, **event: Any) -> None: ...

    def give_up_on_text(self, **event: Any) -> None: ...

    def run_tools(self, **event: Any) -> None: ...

    def commit_agent_speech(self) -> None: ...

    def expect_response(self) -> None: ...

    def stop_expecting_response(self) -> None: ...

    def give_up_on_response(self) -> None: ...

    def expect_session(self) -> None: ...

    def stop_expecting_session(self) -> None: ...

    def restart_session(self) -> None: ...

    def watch_playout(self) -> None: ...

    def stop_watching_playout(self) -> None: ...

    def abandon_response(self, event: Any = None) -> None: ...

    def abandon_tools(self, **event: Any) -> None: ...

    def recover_session(self) -> None: ...

    def release(self) -> None: ...

    def report_error(self, error: Exception | None = None) -> None:
        logger.error("chart action failed: %r", error)
