"""What ``turnstile demo`` shows: the call as it happens, then a summary.

One clock for everything: the timeline's times are seconds since the trace started (the
agent's own ``Trace.started``), the numbers the trace file holds, and the WAV written
from the same origin, so a moment on screen is the same moment in the trace and in the
recording.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from turnstile.machine import RealtimeAgent, Trace, TraceRecord

__all__ = ["Narrator", "Timeline"]


class Timeline:
    """Prints lines stamped with the trace's clock; a chart listener for the transitions.

    Listed after the trace's own listener, it prints the record the trace just took: the
    turn region's transitions as the main lines, the other regions' indented and named.
    """

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.t0 = trace.started
        self.holds: list[_Hold] = []
        """How each hold ended, in order: the summary counts them."""

    def now(self) -> float:
        return time.monotonic() - self.t0

    def line(self, text: str) -> None:
        print(f"[{self.now():6.2f}s] {text}", flush=True)

    def after_transition(self) -> None:
        if not self.trace.records:
            return
        r = self.trace.records[-1]
        to = r.target if r.target != r.source else "(stays)"
        step = f"{r.source} --{r.event or '(auto)'}--> {to}"
        if r.region == self.trace.main_region:
            self.line(f"{r.source:>12} --{r.event or '(auto)'}--> {to}")
            self._tell_hold(r)
        else:
            self.line(f"{'':>12}   {r.region}: {step}")

    def _tell_hold(self, r: TraceRecord) -> None:
        """Which was which: a hold, and whether the sound was a false interruption or a barge-in."""
        if r.target == "holding" and r.source != "holding":
            self.line(f"{'':>12}   (held: a sound over the agent; playout paused, nothing cancelled yet)")
            return
        if r.source != "holding" or r.target == "holding":
            return
        hold = _Hold.of(r)
        self.holds.append(hold)
        self.line(f"{'':>12}   ({hold.story})")


class _TimelineLog(logging.Handler):
    """The agent's warnings, on the timeline with their time, instead of bare on stderr."""

    def __init__(self, timeline: Timeline, narrator: Narrator) -> None:
        super().__init__(logging.WARNING)
        self.timeline, self.narrator = timeline, narrator

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        self.narrator.warnings.append(message)
        self.timeline.line(f"{record.levelname.lower()}: {message}")


@dataclass(frozen=True)
class _Hold:
    """How a hold ended: ``played_on`` (a false interruption) or a barge-in, and why."""

    played_on: bool
    what: str
    story: str

    @staticmethod
    def of(r: TraceRecord) -> _Hold:
        text = str(r.data.get("text") or "")
        if r.target != "speaking":
            why = "the caller kept talking" if r.event == "interruption_confirmed" else f'real words ("{text}")'
            return _Hold(False, "a barge-in", f"{why}: a real barge-in, cut where the pause began")
        if r.event == "user_transcript" and text:
            what = f'a backchannel ("{text}")'
            return _Hold(True, what, f"{what}: the agent talks over it, playing on where it paused")
        what = "no words" if r.event == "user_transcript" else "no words in time"
        return _Hold(True, what, f"{what} (a cough, a noise): a false interruption, the agent plays on where it paused")


@dataclass
class _BargeIn:
    at: float
    into_reply_s: float | None
    heard: str


@dataclass
class Narrator:
    """Prints what the agent reports as it happens, and keeps what the summary counts."""

    timeline: Timeline
    caller_turns: int = 0
    agent_turns: int = 0
    barge_ins: list[_BargeIn] = field(default_factory=list)
    tool_calls: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    first_audio_ms: list[float] = field(default_factory=list)
    fatal: str | None = None
    _speaking_since: float | None = None

    def attach(self, agent: RealtimeAgent) -> None:
        tl = self.timeline
        agent.on("agent_started_speaking", self._started_speaking)
        agent.on("agent_speech_committed", self._committed)
        agent.on("agent_speech_interrupted", self._interrupted)
        agent.on("user_started_speaking", lambda: tl.line("caller started speaking (server VAD)"))
        agent.on("user_speech_committed", self._caller_said)
        agent.on("function_calls_collected", self._tool_calls)
        agent.on("function_calls_finished", lambda outs: tl.line(f"tool outputs: {[o.output for o in outs]}"))
        agent.on("error", self._error)
        agent.on("metrics_collected", self._metrics)

    def log_handler(self) -> logging.Handler:
        return _TimelineLog(self.timeline, self)

    def _started_speaking(self) -> None:
        self._speaking_since = self.timeline.now()

    def _committed(self, text: str) -> None:
        self.agent_turns += 1
        self.timeline.line(f'agent said: "{text}"')

    def _interrupted(self, text: str) -> None:
        self.agent_turns += 1
        now = self.timeline.now()
        into = now - self._speaking_since if self._speaking_since is not None else None
        self.barge_ins.append(_BargeIn(now, into, text))
        self.timeline.line(f'agent cut off, heard up to: "{text}"')

    def _caller_said(self, text: str) -> None:
        self.caller_turns += 1
        self.timeline.line(f'model heard the caller: "{text}"')

    def _tool_calls(self, calls: list[Any]) -> None:
        self.tool_calls += [f"{c.name}({c.arguments})" for c in calls]
        self.timeline.line(f"tool calls: {', '.join(f'{c.name}({c.arguments})' for c in calls)}")

    def _error(self, error: Any) -> None:
        kind = "recoverable" if error.recoverable else "fatal"
        self.errors.append(f"{error.code} ({kind})")
        if not error.recoverable and self.fatal is None:
            self.fatal = f"{error.code}: {error.message}"
        self.timeline.line(f"error ({kind}) {error.code}: {error.message}")

    def _metrics(self, m: Any) -> None:
        if m.ttfa_s is None:
            self.timeline.line(f"response {m.status}")
            return
        # Time to first audio: from the response's creation to its first audio chunk,
        # the model's own latency (next to nothing from the loopback server).
        self.first_audio_ms.append(m.ttfa_s * 1000)
        self.timeline.line(f"response {m.status}; its first audio came {m.ttfa_s * 1000:.0f} ms after it began")

    def summary(self, files: list[str], *, interrupted: bool, loopback: bool) -> str:
        ended = f"interrupted at {self.timeline.now():.2f}s" if interrupted else "the call ended"
        cut = f" ({len(self.barge_ins)} cut off)" if self.barge_ins else ""
        lines = [f"\n{ended}: {self.caller_turns} caller turns, {self.agent_turns} agent turns{cut}"]
        for b in self.barge_ins:
            into = f"{b.into_reply_s:.2f}s into the agent's reply" if b.into_reply_s is not None else "mid-reply"
            lines.append(f'  barge-in at {b.at:.2f}s, {into}; the agent was heard up to "{b.heard}"')
        holds = self.timeline.holds
        if holds:
            on = [h.what for h in holds if h.played_on]
            times = f"{len(holds)} time{'s' if len(holds) != 1 else ''}"
            lines.append(
                f"  held {times}: played on through {len(on)} ({'; '.join(on) or 'none'}),"
                f" {len(holds) - len(on)} became a barge-in"
            )
        lines.append(f"  tool calls: {', '.join(self.tool_calls) or 'none'}")
        lines.append(f"  errors: {', '.join(self.errors) or 'none'}; warnings: {len(self.warnings)}")
        if self.first_audio_ms:
            why = " (the loopback model answers at once)" if loopback else ""
            spread = f"{min(self.first_audio_ms):.0f}-{max(self.first_audio_ms):.0f} ms"
            lines.append(f"  model latency to first audio: {spread}{why}")
        lines += [f"  {f}" for f in files]
        return "\n".join(lines)
