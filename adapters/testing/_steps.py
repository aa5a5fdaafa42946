"""The steps of a generated sequence, and the server model that keeps them valid.

A sequence is mostly :class:`~turnstile.machine.ProviderEvent` objects, the very models a
provider adapter hands the agent, plus the few things that are not the server's to send:
the application's calls (``generate_reply``, ``interrupt``), real time passing (playout
and the deadlines run on the event loop's clock), and a derived chart's own events, which
no provider event causes (the application sends them, as ``agent._send`` does).

The strategy draws abstract *operations* ("a response begins", "audio for it") and
:func:`build_steps` turns them into events a real server could send in that order: ids
consistent, audio only for a response that was created and is not done, nothing at all
while the socket is down, one response streaming at a time. An operation the server
could not perform where it is drawn is dropped, so any list of operations builds a valid
sequence (and hypothesis shrinks operations freely).

No hypothesis here: the steps and the driver work without it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from statemachine import StateChart

from turnstile.machine import (
    AgentChart,
    AudioDelta,
    FunctionCall,
    InputAudioCommitted,
    InputSpeechStarted,
    InputSpeechStopped,
    InputTranscriptionCompleted,
    ProviderError,
    ProviderEvent,
    ResponseContentAdded,
    ResponseContentDone,
    ResponseCreated,
    ResponseDone,
    ServerInterrupted,
    SessionLost,
    SessionReady,
    ToolCallsCancelled,
    ToolCallsRequested,
    TranscriptDelta,
    chart_transitions,
)

__all__ = [
    "OPERATIONS",
    "Advance",
    "AgentCall",
    "ChartEvent",
    "Step",
    "build_steps",
    "chart_operations",
    "chart_phrases",
]


@dataclass(frozen=True)
class Advance:
    """Let ``ms`` of real time pass: playout advances, deadlines may fire."""

    ms: int = 30


@dataclass(frozen=True)
class AgentCall:
    """The application calls the agent: ``generate_reply()`` or ``interrupt()``."""

    method: Literal["generate_reply", "interrupt"]


@dataclass(frozen=True)
class ChartEvent:
    """An event of a derived chart that no provider event causes, sent to the chart as
    the application would (``agent._send(name, **data)``)."""

    name: str
    data: Mapping[str, Any] = field(default_factory=dict)


Step = ProviderEvent | Advance | AgentCall | ChartEvent

OPERATIONS: Mapping[str, tuple[str, ...]] = {
    # operation: the chart events it can cause (the strategy weights by their transitions)
    "ready": ("session_ready",),
    "lost": ("session_lost",),
    "speech_started": ("user_speech_started", "interruption_confirmed", "false_interruption"),
    "speech_stopped": ("user_speech_stopped",),
    "speech_stopped_long": ("user_speech_stopped",),  # the provider measured it long enough
    "committed": ("user_turn_committed",),
    "transcription": ("user_transcript",),
    "created": ("response_started",),
    "audio": ("audio_started",),
    "audio_new_item": ("audio_started",),
    "transcript": (),
    "audio_done": (),
    "text": ("text_response",),
    "response_done": ("response_done",),
    "tool": ("tool_calls", "tools_done", "tool_timeout"),
    "withdraw": (),
    "server_interrupted": ("interrupt",),
    "error": (),
    "generate_reply": ("reply_requested", "reply_deferred"),
    "interrupt": ("interrupt",),
    "advance": ("playout_done", "response_timeout", "response_stalled", "playout_stalled",
                "user_away", "session_timeout"),
}  # fmt: skip
"""What the server (and the application, and the clock) can do next."""

AUDIO_MS = 60
MAX_WEIGHT = 8
"""An operation causing many transitions (a dropped socket leaves every state) would crowd out
the others."""
_RATE = 24000


class _Server:
    """What a server has said so far, so that what it says next is consistent."""

    def __init__(self, tool_names: Sequence[str], audio: bytes) -> None:
        self.tool_names, self.audio = tuple(tool_names), audio
        self.connected = False
        self.talking = False
        self.n = 0
        self.rid: str | None = None  # the response streaming (created, not done)
        self.iid: str | None = None  # its audio item still streaming
        self.calls: list[str] = []  # tool calls asked for and not withdrawn
        self.out: list[Step] = []

    def new(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def done(self) -> None:
        if self.rid is not None:
            if self.iid is not None:
                self.out.append(ResponseContentDone(response_id=self.rid, item_id=self.iid))
            self.out.append(ResponseDone(response_id=self.rid))
        self.rid = self.iid = None

    def do(self, op: str) -> None:
        out = self.out
        if op == "advance":
            out.append(Advance())
        elif op in ("generate_reply", "interrupt"):
            out.append(AgentCall(op))  # type: ignore[arg-type]
        elif op.startswith("chart:"):
            out.append(ChartEvent(op[len("chart:") :]))
        elif op == "ready":
            if not self.connected:
                self.connected = True
                out.append(SessionReady())
        elif not self.connected:
            return  # a socket that is down carries nothing
        elif op == "lost":
            # That connection's responses die with it (the user's speech is the user's:
            # the chart's user region follows the speech events alone).
            self.connected, self.rid, self.iid = False, None, None
            out.append(SessionLost(reason="generated"))
        elif op == "speech_started" and not self.talking:
            self.talking = True
            out.append(InputSpeechStarted(item_id=self.new("u"), audio_start_ms=0))
        elif op in ("speech_stopped", "speech_stopped_long") and self.talking:
            self.talking = False
            # A cough by the provider's clock, or an hour: past any min_interruption_s.
            out.append(InputSpeechStopped(audio_end_ms=3_600_000 if op == "speech_stopped_long" else 0))
        elif op == "committed":
            out.append(InputAudioCommitted(item_id=self.new("u")))
        elif op == "transcription":
            out.append(InputTranscriptionCompleted(item_id=self.new("u"), transcript="hello"))
        elif op == "created":
            self.done()  # a server streams one response at a time
            self.rid = self.new("r")
            out.append(ResponseCreated(response_id=self.rid))
        elif op == "server_interrupted":
            out.append(ServerInterrupted())
        elif op == "error":
            out.append(ProviderError(code="generated", message="a recoverable error"))
        elif op == "withdraw" and self.calls:
            out.append(ToolCallsCancelled(call_ids=(self.calls.pop(),)))
        elif self.rid is not None:
            self.in_response(op, self.rid)

    def in_response(self, op: str, rid: str) -> None:
        out = self.out
        if op in ("audio", "audio_new_item"):
            if op == "audio_new_item" or self.iid is None:
                if self.iid is not None:
                    out.append(ResponseContentDone(response_id=rid, item_id=self.iid))
                self.iid = self.new("i")
                out.append(ResponseContentAdded(response_id=rid, item_id=self.iid))
            out.append(AudioDelta(response_id=rid, item_id=self.iid, data=self.audio))
        elif op == "transcript" and self.iid is not None:
            out.append(TranscriptDelta(response_id=rid, item_id=self.iid, delta="word "))
        elif op == "audio_done" and self.iid is not None:
            out.append(ResponseContentDone(response_id=rid, item_id=self.iid))
            self.iid = None
        elif op == "text":
            out.append(ResponseContentDone(response_id=rid, item_id=self.new("t"), modality="text", text="hi"))
        elif op == "tool" and self.tool_names:
            call = FunctionCall(call_id=self.new("c"), name=self.tool_names[self.n % len(self.tool_names)])
            self.calls.append(call.call_id)
            out.append(ToolCallsRequested(calls=(call,), response_id=rid))
        elif op == "response_done":
            self.done()


def chart_operations(chart: type[StateChart[Any]] = AgentChart) -> dict[str, int]:
    """Each operation's weight for ``chart``: one, plus the declared transitions (every
    region's, targetless ones too) taken on the chart events it can cause, at most
    :data:`MAX_WEIGHT`. A chart's events that AgentChart does not have are operations of
    their own (``"chart:<event>"``), at the most weight: they are what a user's test is for."""
    declared: dict[str, int] = {}
    for t in chart_transitions(chart, targetless=True):
        if t.event is not None:
            declared[t.event] = declared.get(t.event, 0) + 1
    weights = {op: min(MAX_WEIGHT, 1 + sum(declared.get(e, 0) for e in events)) for op, events in OPERATIONS.items()}
    # The socket comes back as often as it drops: nothing else happens while it is down.
    weights["ready"] = max(weights["ready"], weights["lost"])
    stock = {t.event for t in chart_transitions(AgentChart, targetless=True)}
    for event in declared:
        if event not in stock:
            weights[f"chart:{event}"] = MAX_WEIGHT
    return weights


# A chart event's operations, for the paths to a derived chart's own transitions (the
# events a walk would send; those absent are the runtime's own, or an ending).
_CAUSES: Mapping[str, tuple[str, ...]] = {
    "session_ready": ("ready",),
    "session_lost": ("lost",),
    "user_speech_started": ("speech_started",),
    "user_speech_stopped": ("speech_stopped",),
    "user_turn_committed": ("committed",),
    "user_transcript": ("transcription",),
    "response_started": ("created",),
    "audio_started": ("created", "audio_new_item"),  # audio comes within a response
    "text_response": ("created", "text"),
    "tool_calls": ("created", "tool"),
    "response_done": ("response_done",),
    "interrupt": ("interrupt",),
    "reply_requested": ("generate_reply",),
    "reply_deferred": ("generate_reply",),
    "close": (),
    "response_cancelled": (),
}


@functools.cache
def chart_phrases(chart: type[StateChart[Any]] = AgentChart) -> tuple[tuple[str, ...], ...]:
    """Operations that reach each transition ``chart`` declares on an event AgentChart does
    not have: the shortest event path to it (:func:`~turnstile.machine.transition_paths`)
    as operations, so a state a derived chart adds is entered, and left, in a few examples.
    Nothing for AgentChart itself (no search: its paths run through the stock operations)."""
    from turnstile.machine import transition_paths

    stock = {t.event for t in chart_transitions(AgentChart, targetless=True)}
    if all(t.event in stock for t in chart_transitions(chart, targetless=True)):
        return ()
    phrases: list[tuple[str, ...]] = []
    for path in transition_paths(chart):
        if path.transition.event in stock:
            continue
        phrases.append(tuple(
            op
            for step in path.steps
            for op in (_CAUSES.get(step.event, ("advance",)) if step.event in stock else (f"chart:{step.event}",))
        ))  # fmt: skip
    return tuple(phrases)


def _tone(ms: int) -> bytes:
    # Not silence: a square-ish wave is enough for the player, and needs no numpy here.
    half = b"\x40\x1f" * 20 + b"\xc0\xe0" * 20
    samples = _RATE * ms // 1000
    return (half * (samples // 40 + 1))[: samples * 2]


def build_steps(
    operations: Iterable[str], *, tool_names: Sequence[str] = ("lookup",), audio_ms: int = AUDIO_MS
) -> list[Step]:
    """The valid steps for ``operations`` (names of :data:`OPERATIONS`, or ``"chart:<event>"``
    for a chart's own event): the session comes up first, and what cannot happen where it
    is drawn is left out."""
    server = _Server(tool_names, _tone(audio_ms))
    server.do("ready")
    for op in operations:
        server.do(op)
    return server.out
