"""The inspector's memory: every session published to it during this run, live or ended."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Session", "Sessions"]

Message = dict[str, Any]


@dataclass
class Session:
    id: str
    hello: Message
    messages: list[Message] = field(default_factory=list)
    live: bool = True
    dropped: int = 0
    """Messages the publisher let go (its queue was full); reported by the publisher."""
    trimmed: int = 0
    """The oldest messages this server let go (a session longer than its bound)."""
    state: str = "?"
    state_t: float = 0.0
    ended_at: float | None = None

    def summary(self) -> dict[str, Any]:
        wall = float(self.hello.get("wall") or 0.0)
        return {
            "id": self.id,
            "room": self.hello.get("room"),
            "participant": self.hello.get("participant"),
            "provider": self.hello.get("provider"),
            "chart": self.hello.get("chart"),
            "state": self.state,
            "since": wall + self.state_t,
            "started": wall,
            "live": self.live,
            "ended_at": self.ended_at,
            "dropped": self.dropped,
            "messages": len(self.messages) + self.trimmed,
        }

    def snapshot(self) -> dict[str, Any]:
        hello = {k: v for k, v in self.hello.items() if k != "dot"}  # served as the chart's SVG
        return {"summary": self.summary(), "hello": hello, "messages": self.messages}


class Sessions:
    """Sessions by id, in the order they first published."""

    def __init__(self, max_messages: int = 100_000) -> None:
        self._by_id: dict[str, Session] = {}
        self._max = max_messages

    def __iter__(self) -> Any:
        return iter(self._by_id.values())

    def get(self, session_id: str) -> Session | None:
        return self._by_id.get(session_id)

    def add(self, session_id: str, messages: list[Message], dropped: int) -> tuple[Session, list[Message]]:
        """Take a publisher's batch; a hello (re)opens the session and says where it is now."""
        session = self._by_id.get(session_id)
        for msg in messages:
            kind = msg.get("type")
            if kind == "hello":
                if session is None:
                    session = self._by_id[session_id] = Session(session_id, msg)
                else:
                    # A publisher that reconnected: its history stays, the hello says what is
                    # true now (its queue may have let facts go in between).
                    keep = {"wall": session.hello.get("wall"), "dot": session.hello.get("dot")}
                    session.hello = {**msg, **keep}
                session.live, session.ended_at = True, None
                self._state(session, str(msg.get("state", "?")), msg)
                continue
            if session is None:
                continue  # a frame before its hello: nothing to attach it to
            if kind == "state":
                self._state(session, str(msg.get("new", "?")), msg)
            elif kind == "meta":
                session.hello = {**session.hello, "room": msg.get("room"), "participant": msg.get("participant")}
            elif kind == "bye":
                self.end(session)
        if session is None:
            raise KeyError(session_id)
        session.dropped = max(session.dropped, dropped)
        # Hellos stay in the history (a reconnection's configuration is a fact), without
        # the chart's DOT: the chart is served once, from the session's first hello.
        stored = [{k: v for k, v in m.items() if k != "dot"} for m in messages]
        session.messages.extend(stored)
        if len(session.messages) > self._max:
            cut = len(session.messages) - self._max
            del session.messages[:cut]
            session.trimmed += cut
        return session, stored

    def end(self, session: Session) -> None:
        if session.live:
            session.live, session.ended_at = False, time.time()

    @staticmethod
    def _state(session: Session, state: str, msg: Message) -> None:
        if state != session.state:
            session.state, session.state_t = state, float(msg.get("t") or 0.0)
