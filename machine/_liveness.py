"""The chart's ways out, carried out: every state but ``listening`` and ``closed`` has a
deadline whose expiry is a chart event, so an agent is never left initializing, thinking or
speaking because a server or a room went quiet.

- ``initializing``: no session ready within ``session_timeout_s`` -> ``session_timeout``.
- ``thinking``: no response began within ``response_timeout_s`` -> ``response_timeout``.
- ``thinking``/``speaking``: a response under way streamed nothing for
  ``response_stall_timeout_s`` while nothing was left to play -> ``response_stalled``.
- ``speaking``: the room took none of the agent's audio for ``playout_stall_timeout_s`` ->
  ``playout_stalled``.
- any: a tool ran past ``tool_timeout_s`` -> ``tool_timeout`` (see ``_tool_runs``).
- ``user`` region: ``user_away_timeout_s`` of silence on both sides while listening ->
  ``user_away``.

The deadlines are armed by the states' entry actions and by the stream's own events, and
touched (not re-created) on progress, so the audio path pays a float store per delta.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ._deadline import Deadline
from ._runtime_state import RuntimeState

__all__ = ["LivenessActions"]

logger = logging.getLogger("turnstile.agent")


class LivenessActions(RuntimeState):
    """The deadline actions of :class:`Runtime` (a base of it, like the inbound handlers)."""

    def _init_deadlines(self) -> None:
        o = self.options
        self.session_deadline = Deadline(o.session_timeout_s, self._session_overdue)
        """Armed while initializing: a connected session must become ready."""
        self.response_deadline = Deadline(o.response_timeout_s, self._response_overdue)
        """Armed while thinking waits for a response to begin."""
        self.stream_deadline = Deadline(o.response_stall_timeout_s, self._stream_overdue)
        """Touched by every event of a response under way; looked at only when it fires."""
        self.playout_deadline = Deadline(o.playout_stall_timeout_s, self._playout_overdue)
        """Armed while speaking; touched whenever the room takes a write."""
        self.away_deadline = Deadline(o.user_away_timeout_s, self._user_overdue)
        """Armed when the user falls silent and when the agent starts listening."""
        self.away_prompts = 0
        """Times in a row the user went away (prompted, then ``user_away``)."""
        # (Not named on_user_away: python-statemachine would call that on every user_away.)
        self.call_away_prompt: Callable[[str | Callable[[Any], None]], None] = lambda prompt: None
        """Calls the application's on_user_away with the agent (bound by the agent)."""

    def _disarm_deadlines(self) -> None:
        for d in (self.session_deadline, self.response_deadline, self.stream_deadline,
                  self.playout_deadline, self.away_deadline):
            d.disarm()

    # initializing ---------------------------------------------------------------------
    def expect_session(self) -> None:
        self.session_deadline.arm()

    def stop_expecting_session(self) -> None:
        self.session_deadline.disarm()

    def _session_overdue(self) -> None:
        if not self.closed:
            self.send("session_timeout")

    def restart_session(self) -> None:
        seconds = self.session_deadline.seconds
        self.error("session_timeout", f"no session became ready within {seconds:g} s; reconnecting")
        if self.session is not None:
            self.session.reconnect()

    # thinking: a response must begin ---------------------------------------------------
    def expect_response(self) -> None:
        self.response_deadline.arm()

    def stop_expecting_response(self) -> None:
        self.response_deadline.disarm()

    def _response_overdue(self) -> None:
        if not self.closed:  # a response under way or a tool running: the chart's guards
            self.send("response_timeout")

    def give_up_on_response(self) -> None:
        seconds = self.response_deadline.seconds
        self.error("response_timeout", f"no response began within {seconds:g} s; listening again")

    # thinking, speaking: a response must keep streaming --------------------------------
    def _stream_overdue(self) -> None:
        if self.closed:
            return
        if self.player is not None and self.player.playing and not self.player.starved:
            self.stream_deadline.arm()  # still playing what came: the user is not waiting
            return
        logger.debug("nothing streamed for %gs; the chart decides what was owed", self.stream_deadline.seconds)
        # Whatever the turn is doing (in listening it takes no transition), the response
        # region forgets the responses that went quiet: nothing may wait on them any more.
        self.send("response_stalled")

    def forget_responses(self) -> None:
        for r in self.responses.values():
            r.cancelled = True
            self._dropped_responses.add(r.id)
        self.responses.clear()
        self.stream_deadline.disarm()

    def abandon_response(self, event: Any = None) -> None:
        code = str(event) if event else "response_stalled"
        if self.player is not None:
            self.barge_in()  # stop playout, cancel, truncate at the heard position
        else:
            self.cancel_response()
        self.forget_responses()
        what = "the room stopped playing" if code == "playout_stalled" else "the response stopped streaming"
        self.error(code, f"{what}; the response was abandoned at what was heard")

    # speaking: the room must keep taking audio ------------------------------------------
    def watch_playout(self) -> None:
        self.playout_deadline.arm()

    def stop_watching_playout(self) -> None:
        self.playout_deadline.disarm()

    def _playout_overdue(self) -> None:
        player = self.player
        if self.closed or player is None or not player.playing:
            return
        if player.starved:
            self.playout_deadline.arm()  # waiting for the model, not the room
            return
        logger.warning("the room stopped taking the agent's audio; abandoning the response")
        self.send("playout_stalled")

    # user: silent on both sides for user_away_timeout_s -> away -----------------------
    def await_user(self) -> None:
        self.away_deadline.arm()

    def stop_awaiting_user(self) -> None:
        self.away_deadline.disarm()

    def expect_user(self) -> None:
        # The agent's side falls silent now: the wait starts over (if the user is talking
        # when it ends, the chart ignores it; their silence arms it again).
        self.away_deadline.arm()

    def _user_overdue(self) -> None:
        if not self.closed:
            self.send("user_away")  # the chart: only while the agent listens

    def report_user_state(self, source: Any = None, target: Any = None) -> None:
        self.emitter.emit("user_state_changed", _USER_STATES[str(source.id)], _USER_STATES[str(target.id)])


    def prompt_away_user(self) -> None:
        self.away_prompts += 1
        prompt = self.options.on_user_away
        if prompt is not None and self.away_prompts <= self.options.user_away_prompts:
            try:
                self.call_away_prompt(prompt)
            except Exception as exc:  # a user's callback never stops the agent
                logger.exception("on_user_away failed")
                self.error("internal", f"on_user_away failed: {exc!r}")
            return
        self.emitter.emit("user_away", self.away_prompts)

    def welcome_user_back(self) -> None:
        self.away_prompts = 0


# The user region's states, as user_state_changed names them (LiveKit's user states).
_USER_STATES = {"silent": "listening", "talking": "speaking", "away": "away"}
