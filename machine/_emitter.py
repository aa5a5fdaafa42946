"""A small event emitter for the agent's user-facing events.

A listener that raises is logged and skipped: one user's bug must not stop the agent or
the other listeners.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["AGENT_EVENTS", "EventEmitter"]

logger = logging.getLogger("turnstile.events")

F = TypeVar("F", bound=Callable[..., Any])

AGENT_EVENTS = frozenset(
    {
        "user_started_speaking",
        "user_stopped_speaking",
        "agent_started_speaking",
        "agent_stopped_speaking",
        "user_speech_committed",
        "agent_speech_committed",
        "agent_speech_interrupted",
        "function_calls_collected",
        "function_calls_finished",
        "metrics_collected",
        "state_changed",
        "user_state_changed",
        "false_interruption",
        "user_away",
        "error",
    }
)


class EventEmitter:
    def __init__(self, names: frozenset[str] = AGENT_EVENTS) -> None:
        self._names = names
        self._handlers: dict[str, list[Callable[..., Any]]] = {n: [] for n in names}

    def on(self, name: str, handler: F | None = None) -> Any:
        """Register ``handler`` for ``name``; without a handler, works as a decorator."""
        if name not in self._names:
            raise ValueError(f"unknown event {name!r}; known: {', '.join(sorted(self._names))}")
        if handler is None:

            def deco(fn: F) -> F:
                self._handlers[name].append(fn)
                return fn

            return deco
        self._handlers[name].append(handler)
        return handler

    def off(self, name: str, handler: Callable[..., Any]) -> None:
        self._handlers[name].remove(handler)

    def emit(self, name: str, *args: Any) -> None:
        for handler in tuple(self._handlers[name]):
            try:
                handler(*args)
            except Exception:
                logger.exception("a %r handler raised", name)
