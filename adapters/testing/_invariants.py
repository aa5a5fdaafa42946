"""``check_invariants``: what holds after every step of any agent whose chart is AgentChart
or derived from it, whatever the provider sent.

Some invariants are about history (the user's speech events, every reply asked for), so a
watcher follows the agent from the first check on: call ``check_invariants`` once right
after ``agent.start`` (:func:`run_events` does) and it sees everything that follows.
"""

from __future__ import annotations

import weakref
from typing import Any

from turnstile.machine import AgentError, RealtimeAgent

__all__ = ["InvariantWatch", "check_invariants"]

LAST = 8
"""Transitions an error message shows."""


class _ChartAsks:
    """A chart listener counting the chart's own asks: leaving ``reply_owed`` for
    ``no_tools`` by its eventless reply transition is the chart asking for a reply."""

    def __init__(self) -> None:
        self.count = 0

    def after_transition(self, event: Any, source: Any, target: Any = None, **kwargs: Any) -> None:
        if not event and source.id == "reply_owed" and target is not None and target.id == "no_tools":
            self.count += 1


class InvariantWatch:
    """Follows one agent: its user's speech events, the replies it asks for (and who asked),
    its internal errors. :meth:`check` raises an ``AssertionError`` naming the invariant."""

    def __init__(self, agent: RealtimeAgent) -> None:
        self.agent = agent
        self.user_talking = "talking" in agent.configuration
        self.user_asks = self.chart_asks_seen = 0
        self.asks_during_playout: list[tuple[str, ...]] = []
        self.internal_errors: list[AgentError] = []
        self._asking_for_user = False
        self._chart_asks = _ChartAsks()
        agent.chart.add_listener(self._chart_asks)
        agent.on("user_started_speaking", self._speech_started)
        agent.on("user_stopped_speaking", self._speech_stopped)
        agent.on("error", self._error)
        self._wrap_generate_reply()
        self._session: Any = None
        self._wrap_session()

    # What the watch follows -----------------------------------------------------------
    def _speech_started(self) -> None:
        self.user_talking = True

    def _speech_stopped(self) -> None:
        self.user_talking = False

    def _error(self, error: AgentError) -> None:
        if error.code == "internal":
            self.internal_errors.append(error)

    def _wrap_generate_reply(self) -> None:
        generate_reply = self.agent.generate_reply

        def wrapped(*args: Any, **kwargs: Any) -> None:
            self._asking_for_user = True
            try:
                generate_reply(*args, **kwargs)
            finally:
                self._asking_for_user = False

        self.agent.generate_reply = wrapped  # type: ignore[method-assign]

    def _wrap_session(self) -> None:
        """Count each ``create_response`` the session is asked for (the session exists once
        the agent started: a watch made before follows it from the first check after)."""
        session = self.agent._session
        if session is None or session is self._session:
            return
        self._session = session
        create_response = session.create_response

        def asked(instructions: str | None = None) -> None:
            if self._asking_for_user:
                self.user_asks += 1
            else:
                self.chart_asks_seen += 1
                player = self.agent._runtime.player
                if "speaking" in self.agent.configuration or (player is not None and player.playing):
                    self.asks_during_playout.append(self.agent.configuration)
            if instructions is None:  # as the runtime calls it: an older session takes none
                create_response()
            else:
                create_response(instructions)

        session.create_response = asked  # type: ignore[method-assign]

    # The invariants -------------------------------------------------------------------
    def _fail(self, invariant: str, detail: str) -> None:
        agent = self.agent
        # Every region's: the one that broke the invariant is not always the turn's.
        last = list(agent.trace.records)[-LAST:]
        steps = "".join(f"\n    {r.region}: {r.source} --{r.event or '(auto)'}--> {r.target}" for r in last)
        raise AssertionError(
            f"invariant broken: {invariant}\n  {detail}\n  configuration: {agent.configuration}\n"
            f"  last transitions:{steps}"
        )

    def check(self) -> None:
        self._wrap_session()
        agent, rt = self.agent, self.agent._runtime
        if self.internal_errors:
            self._fail("no internal error", f"the runtime reported {self.internal_errors}")
        if self.chart_asks_seen != self._chart_asks.count:
            self._fail(
                "a reply is asked for once per reply owed",
                f"{self.chart_asks_seen} replies asked for outside generate_reply, "
                f"{self._chart_asks.count} by the chart leaving reply_owed",
            )
        if self.asks_during_playout:
            self._fail("a reply owed is never asked for during playout", f"asked in {self.asks_during_playout}")
        configuration = agent.configuration
        if configuration == ("closed",):
            return
        if "speaking" in configuration and (rt.player is None or not rt.player.playing):
            self._fail("speaking implies a playout", "the turn speaks with nothing to play")
        live = [r.id for r in rt.responses.values() if not r.cancelled]
        if len(live) > 1:
            self._fail("at most one live response", f"responses not cancelled: {live}")
        if "no_response" in configuration and live:
            self._fail("no_response means none in flight", f"live responses: {live}")
        if ("talking" in configuration) != self.user_talking:
            said = "started" if self.user_talking else "stopped (or never started)"
            self._fail("the user region matches the speech events", f"the user's speech {said}")


_watches: weakref.WeakKeyDictionary[RealtimeAgent, InvariantWatch] = weakref.WeakKeyDictionary()


def check_invariants(agent: RealtimeAgent) -> None:
    """Raise ``AssertionError`` naming the invariant broken, with the configuration and the
    last transitions, if ``agent`` is in a state no run should reach:

    - ``speaking`` implies a playout (the player is playing or has audio queued);
    - at most one live response (one the runtime has not cancelled);
    - ``no_response`` means no live response in flight;
    - the ``user`` region is ``talking`` exactly between a user's speech start and stop;
    - the chart asks for a reply once per reply owed (each ask is ``tools`` leaving
      ``reply_owed``), never while the turn speaks or audio plays (``generate_reply`` may
      ask at any time);
    - the runtime reported no internal error.

    The first call starts following the agent (call it right after ``agent.start``)."""
    watch = _watches.get(agent)
    if watch is None:
        watch = _watches[agent] = InvariantWatch(agent)
    watch.check()
