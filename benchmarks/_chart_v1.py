"""The agent chart as it was before its parallel regions (commit 17256d2), frozen for the
dispatch bench: the same event cycle through both, in one run, says what the regions cost.

Its guards ``nothing_pending`` and ``reply_pending`` read runtime flags that are gone; the
neutral model below answers them as the old ChartActions did.
"""

from __future__ import annotations

from typing import Any

from statemachine import State, StateChart

from turnstile.machine import ChartActions

__all__ = ["AgentChartV1", "V1Actions"]


class V1Actions(ChartActions):
    def nothing_pending(self) -> bool:
        return True

    def reply_pending(self) -> bool:
        return False


class AgentChartV1(StateChart[Any]):
    """The chart before regions (one region; the control state in runtime flags)."""

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
