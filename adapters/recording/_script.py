"""A recording as a replay script: the steps the server side and the application took,
each with what must have happened before it.

A step (a server frame, a server close, an application call) waits for the client frames
that preceded it in the recording on its connection, counted by kind (``frame_key``):
audio appends aside, since the replay's microphone is silent. It then waits the recorded
gap from whichever came last before it, the previous step or the last of those client
frames. A step right before a barge-in (the room saw the agent's audio cut) waits instead
for the replayed audio to be heard as far as it was then: the barge-in lands where it did.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ._format import Recording

__all__ = ["OPENING_KEYS", "Anchor", "Step", "build_steps", "frame_key"]

OPENING_KEYS = frozenset({"session.update", "setup"})
"""The configuration a connection opens with: made from the recorded options, not compared."""


def frame_key(text: str) -> str | None:
    """What kind of client frame ``text`` is; None for audio (appends, realtime audio)."""
    try:
        obj = json.loads(text)
    except ValueError:
        return "(not JSON)"
    if not isinstance(obj, dict) or not obj:
        return "(not an object)"
    kind = obj.get("type")
    if isinstance(kind, str):
        return None if kind == "input_audio_buffer.append" else kind
    top: str = next(iter(obj))
    inner = obj[top]
    if top == "realtimeInput" and isinstance(inner, dict):
        if {"audio", "mediaChunks", "video"} & set(inner):
            return None
        return "realtimeInput." + ",".join(sorted(inner))
    return top


@dataclass(frozen=True)
class Anchor:
    """The ``count``-th client frame of kind ``key`` on connection ``conn``."""

    conn: int
    key: str
    count: int


@dataclass
class Step:
    kind: str
    """``open`` (the agent's k-th connection), ``frame``, ``close`` or ``app``."""
    t: float
    conn: int
    data: dict[str, Any]
    needed: Counter[str] = field(default_factory=Counter)
    """Client frames (by kind) the connection must have received before this step."""
    gap: float = 0.0
    """Recorded seconds from the anchor (or the previous step) to this step."""
    anchor: Anchor | None = None
    """The client frame the gap is measured from, when it came after the previous step."""
    heard_ms: int | None = None
    """Wait until the agent's audio is heard this far: a barge-in followed this step."""
    after_stop: float | None = None
    """When the recorded agent's audio ended (played out) just before this step: the step
    waits for the replayed audio to end too, then for what the recording waited after it."""
    playing: float = 0.0
    """The part of ``gap`` during which the recorded agent's audio was playing: a replay
    sped up keeps it in real time (it is what the listener heard)."""


def build_steps(rec: Recording) -> list[Step]:
    steps: list[Step] = []
    counts: dict[int, Counter[str]] = {}
    last_client: dict[int, tuple[float, Anchor]] = {}
    conn = 0
    stopped: float | None = None  # a playout that ended since the last step
    for ev in rec.events:
        kind, t = ev["kind"], float(ev.get("t", 0.0))
        if kind == "open":
            conn = int(ev["conn"])
            counts.setdefault(conn, Counter())
            steps.append(Step("open", t, conn, {}))
            continue
        if kind == "frame" and ev["dir"] == "client":
            key = frame_key(ev["text"])
            if key is not None:
                c = counts.setdefault(int(ev["conn"]), Counter())
                c[key] += 1
                last_client[int(ev["conn"])] = (t, Anchor(int(ev["conn"]), key, c[key]))
            continue
        if kind == "room" and ev.get("fact") == "stopped" and ev.get("interrupted") and steps:
            trigger = next((s for s in reversed(steps) if s.kind != "open"), None)
            if trigger is not None and isinstance(ev.get("heard_ms"), int):
                trigger.heard_ms = ev["heard_ms"]
            continue
        if kind == "room" and ev.get("fact") == "stopped":
            stopped = t
            continue
        if kind not in ("frame", "close", "app"):
            continue
        on = int(ev.get("conn", conn)) if kind != "app" else conn
        step = Step(kind, t, on, ev, Counter(counts.get(on, Counter())), after_stop=stopped)
        stopped = None
        prev_t = steps[-1].t if steps else 0.0
        client = last_client.get(on)
        if client is not None and client[0] > prev_t:
            step.anchor, step.gap = client[1], t - client[0]
        else:
            step.gap = t - prev_t
        steps.append(step)
    _playing(steps, rec)
    return steps


def _playing(steps: list[Step], rec: Recording) -> None:
    spans: list[tuple[float, float]] = []
    began: float | None = None
    for ev in rec.events:
        if ev["kind"] == "room" and ev.get("fact") == "started" and began is None:
            began = float(ev["t"])
        elif ev["kind"] == "room" and ev.get("fact") == "stopped" and began is not None:
            spans.append((began, float(ev["t"])))
            began = None
    if began is not None:
        spans.append((began, float("inf")))
    for step in steps:
        start = step.t - step.gap
        step.playing = sum(max(0.0, min(step.t, b) - max(start, a)) for a, b in spans)
