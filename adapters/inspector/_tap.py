"""The agent's side: its events and trace records, turned into inspector messages.

The agent is hooked without changing it: its public event emitter (``agent.events``) and
its trace, read incrementally (:meth:`Tap.collect`). With ``eager`` (telemetry's way) the
trace is read before every event's message, so transitions reach ``put`` in order; the
publisher reads it itself when it sends (a few times a second at most), so an event costs
the agent one small dict and nothing else. Every handler only builds that dict and hands
it on: nothing here waits, and nothing here raises into the agent (the emitter would log
it, but a broken inspector must not even do that on every event).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Message", "Tap"]

logger = logging.getLogger("turnstile.inspector")

Message = dict[str, Any]

# Event data worth showing: numbers and flags (speech_ms, ...). Strings are left out: a
# record's data may carry what the model said (text_response's text).
_DATA_TYPES = (int, float, bool)


def _provider_name(agent: Any) -> str:
    provider = getattr(agent, "provider", None)
    name = getattr(provider, "name", None)
    return str(name) if isinstance(name, str) else type(provider).__name__


def _room_name(agent: Any) -> str | None:
    link = getattr(agent, "link", None)
    for holder in (link, getattr(link, "room", None)):
        for attr in ("room_name", "name"):
            value = getattr(holder, attr, None)
            if isinstance(value, str) and value:
                return value
    return None


def _participant(agent: Any) -> str | None:
    link = getattr(agent, "link", None)
    value = getattr(link, "participant", None) if link is not None else None
    return value if isinstance(value, str) else None


class Tap:
    """Builds the messages of one agent's session and passes each to ``put``."""

    def __init__(
        self, agent: Any, put: Callable[[Message], None], *, transcripts: bool, room: str | None, eager: bool = True
    ) -> None:
        self.agent = agent
        self._put = put
        self.transcripts = transcripts
        self._eager = eager
        self._room = room
        self._last_record: object | None = None
        self._config: tuple[str, ...] = ()
        self._meta: tuple[str | None, str | None] = (None, None)
        self._speaking_since: float | None = None
        self._stopped_at: float | None = None
        self._handlers: list[tuple[str, Callable[..., None]]] = []

    # Hooks ----------------------------------------------------------------------------
    def attach(self) -> None:
        hooks: dict[str, Callable[..., None]] = {
            "state_changed": self._state_changed,
            "user_started_speaking": lambda: self._speech("user", "start"),
            "user_stopped_speaking": lambda: self._speech("user", "stop"),
            "agent_started_speaking": self._agent_started,
            "agent_stopped_speaking": self._agent_stopped,
            "user_speech_committed": lambda text: self._transcript("user", text, False),
            "agent_speech_committed": lambda text: self._transcript("assistant", text, False),
            "agent_speech_interrupted": self._interrupted,
            "function_calls_collected": self._calls,
            "function_calls_finished": self._outputs,
            "metrics_collected": self._metrics,
            "error": self._error,
        }
        for name, handler in hooks.items():
            guarded = self._guard(name, handler)
            self.agent.events.on(name, guarded)
            self._handlers.append((name, guarded))

    def detach(self) -> None:
        for name, handler in self._handlers:
            try:
                self.agent.events.off(name, handler)
            except ValueError:  # already gone
                pass
        self._handlers.clear()

    def _guard(self, name: str, handler: Callable[..., None]) -> Callable[..., None]:
        eager = self._eager

        def hook(*args: Any) -> None:
            try:
                if eager:
                    self.drain()  # the transitions that led here come first
                handler(*args)
            except Exception:  # noqa: BLE001 - the inspector must never break the agent
                logger.debug("inspector: could not publish %r", name, exc_info=True)

        return hook

    # Snapshots ------------------------------------------------------------------------
    def now(self) -> float:
        return time.monotonic() - float(self.agent.trace.started)

    def configuration(self) -> tuple[str, ...]:
        config = getattr(self.agent, "configuration", None)
        if config is None:
            return (str(self.agent.state),)
        return tuple(str(s) for s in config)

    def hello(self, chart_name: str, dot: str) -> Message:
        """Who this session is, and where it stands now (sent on every connection)."""
        self._meta = (self._room or _room_name(self.agent), _participant(self.agent))
        return {
            "type": "hello",
            "t": self.now(),
            "wall": time.time() - self.now(),  # when t was 0, for "since when"
            "room": self._meta[0],
            "participant": self._meta[1],
            "provider": _provider_name(self.agent),
            "chart": chart_name,
            "dot": dot,
            "state": str(self.agent.state),
            "configuration": list(self.configuration()),
            "transcripts": self.transcripts,
        }

    def drain(self) -> None:
        """Hand ``put`` what :meth:`collect` finds."""
        for msg in self.collect():
            self._put(msg)

    def collect(self) -> list[Message]:
        """New trace records, a changed configuration, newly known room or participant."""
        out: list[Message] = []
        records = self._new_records()
        for record in records:
            msg: Message = {
                "type": "transition", "t": record.t, "event": record.event,
                "source": record.source, "target": record.target,
            }  # fmt: skip
            region = getattr(record, "region", None)
            if region is not None:
                msg["region"] = str(region)
            data = {k: v for k, v in getattr(record, "data", {}).items() if isinstance(v, _DATA_TYPES)}
            if data:
                msg["data"] = data
            out.append(msg)
            # Each record carries every region's leaf after it (one tuple per microstep):
            # the agent's configuration is not asked for, nor sorted again, per record.
            config = tuple(getattr(record, "configuration", ()))
            if config and config is not self._config and config != self._config:
                self._config = config
                out.append({"type": "config", "t": record.t, "configuration": list(config)})
        last = records[-1] if records else None
        # Asked of the agent only before the first record, or where records carry none.
        if (last is None and not self._config) or (last is not None and not getattr(last, "configuration", ())):
            config = self.configuration()
            if config != self._config:
                self._config = config
                out.append({"type": "config", "t": self.now(), "configuration": list(config)})
        meta = (self._room or _room_name(self.agent), _participant(self.agent))
        if meta != self._meta and any(meta):
            self._meta = meta
            out.append({"type": "meta", "t": self.now(), "room": meta[0], "participant": meta[1]})
        return out

    def _new_records(self) -> list[Any]:
        # The trace is a bounded deque: indices shift once it is full, so the newest
        # records are found by walking back to the last one already sent.
        records = self.agent.trace.records
        if not records or records[-1] is self._last_record:
            return []
        fresh: list[Any] = []
        for record in reversed(records):
            if record is self._last_record:
                break
            fresh.append(record)
        self._last_record = records[-1]
        fresh.reverse()
        return fresh

    # Handlers -------------------------------------------------------------------------
    def _state_changed(self, old: str, new: str, event: str | None) -> None:
        self._put({"type": "state", "t": self.now(), "old": old, "new": new, "event": event})
        if new == "closed":
            self._put({"type": "bye", "t": self.now()})

    def _speech(self, who: str, phase: str) -> None:
        self._put({"type": "speech", "t": self.now(), "who": who, "phase": phase})

    def _agent_started(self) -> None:
        self._speaking_since = self.now()
        self._speech("agent", "start")

    def _agent_stopped(self) -> None:
        self._stopped_at = self.now()
        self._speech("agent", "stop")

    def _transcript(self, role: str, text: str, interrupted: bool) -> None:
        if self.transcripts:
            self._put({"type": "transcript", "t": self.now(), "role": role, "text": text, "interrupted": interrupted})

    def _interrupted(self, text: str) -> None:
        # The truncation point: how long the cut reply had played when it stopped, and
        # (with transcripts) the words heard up to there.
        at = self._stopped_at if self._stopped_at is not None else self.now()
        since = self._speaking_since if self._speaking_since is not None else at
        heard_ms = round(max(0.0, at - since) * 1000)
        records = self.agent.trace.records  # the event that cut it: the newest record's
        by = records[-1].event if records else None
        msg: Message = {"type": "barge_in", "t": at, "heard_ms": heard_ms, "by": by}
        if self.transcripts:
            msg["text"] = text.removesuffix("...")
        self._put(msg)
        self._transcript("assistant", text, True)

    def _calls(self, calls: list[Any]) -> None:
        shown = []
        for call in calls:
            entry = {"id": str(getattr(call, "call_id", "")), "name": str(getattr(call, "name", "?"))}
            if self.transcripts:  # arguments are what the caller said, in other words
                entry["arguments"] = str(getattr(call, "arguments", ""))
            shown.append(entry)
        self._put({"type": "tools", "t": self.now(), "phase": "start", "calls": shown})

    def _outputs(self, outputs: list[Any]) -> None:
        shown = [
            {"id": str(getattr(o, "call_id", "")), "name": str(getattr(o, "name", "?")),
             "error": bool(getattr(o, "is_error", False))}
            for o in outputs
        ]  # fmt: skip
        self._put({"type": "tools", "t": self.now(), "phase": "end", "calls": shown})

    def _metrics(self, metrics: Any) -> None:
        dump = metrics.model_dump(mode="json") if hasattr(metrics, "model_dump") else {}
        shown = {k: v for k, v in dump.items() if isinstance(v, (int, float, bool, str)) or v is None}
        shown.pop("kind", None)
        self._put({"type": "metrics", "t": self.now(), "metrics": shown})

    def _error(self, error: Any) -> None:
        self._put({
            "type": "error", "t": self.now(), "code": str(getattr(error, "code", "error")),
            "message": str(getattr(error, "message", error)), "recoverable": bool(getattr(error, "recoverable", True)),
        })  # fmt: skip
