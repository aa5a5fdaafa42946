"""Replay: a fresh agent, made as recorded, against the recording's server side; then
its transitions and what it asked of the model, compared with the recording's.

The agent is the real one (the real adapter, the real runtime, a LocalRoom with a real
audio pipeline, as ``turnstile demo`` runs it); only the model is the recording. Its
caller is silent: the server's side of the recording already holds what the caller's
speech made the server say.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from turnstile.machine import AgentChart, AgentOptions, ChatContext, ChatMessage, RealtimeAgent, Trace

from ._agent_view import current_heard_ms
from ._attach import attach_recorder
from ._compare import DEFAULT_TOLERANCE_MS, control_frames, diff_controls, diff_traces
from ._conductor import Conductor
from ._format import Recording, RecordingError
from ._replay_server import ReplayServer
from ._replay_tools import replay_tools
from ._script import build_steps
from ._writer import Recorder

__all__ = ["Replay", "ReplayResult", "replay"]

_REPLAY_KEY = "replay-key"  # the replay server takes any key; this one is in no recording
_QUIET_S = 2.0  # no transition for this long, nothing playing: the replayed agent is done


@dataclass
class ReplayResult:
    recording: Path
    trace_diff: list[str] = field(default_factory=list)
    control_diff: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What stopped the replay early, and warnings (dropped frames)."""
    stopped: str | None = None
    transitions: int = 0
    controls: int = 0
    trace: Trace = field(default_factory=Trace)
    """The replayed agent's transitions, to assert on (``result.trace.assert_never(...)``)."""

    @property
    def same(self) -> bool:
        return not self.trace_diff and not self.control_diff and self.stopped is None

    def report(self) -> str:
        head = f"replay of {self.recording}: " + ("same" if self.same else "DIVERGED")
        lines = [head, *(f"note: {n}" for n in self.notes)]
        if self.stopped:
            lines.append(f"stopped early: {self.stopped}")
        lines.append(f"transitions ({self.transitions} recorded): " + ("same" if not self.trace_diff else "differ"))
        lines += [f"  {line}" for line in self.trace_diff]
        lines.append(f"control messages ({self.controls} recorded): " + ("same" if not self.control_diff else "differ"))
        lines += [f"  {line}" for line in self.control_diff]
        return "\n".join(lines)


class Replay:
    """One recording, ready to replay. ``assert_same()`` is synchronous and works inside a
    running event loop too (the replay then runs on a thread of its own); ``await
    check()`` is the same for async code; ``await run()`` returns the result unjudged."""

    def __init__(
        self,
        path: str | Path,
        *,
        chart: type[AgentChart] | None = None,
        speed: float = 1.0,
        tolerance_ms: int = DEFAULT_TOLERANCE_MS,
        wait_s: float = 10.0,
        record_to: str | Path | None = None,
    ) -> None:
        if not speed > 0:
            raise ValueError(f"speed={speed!r}: must be above 0 (inf: no recorded pauses at all)")
        self.recording = Recording.load(path)
        self.chart = chart or _recorded_chart(self.recording)
        self.speed = speed
        self.tolerance_ms = tolerance_ms
        self.wait_s = wait_s
        self.record_to = record_to
        """Where the replay itself is recorded (the recording's audio and redaction
        options): after a fix, the new expectation to keep."""

    def assert_same(self) -> ReplayResult:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            result = asyncio.run(self.run())
        else:
            result = _on_a_thread(self)
        if not result.same:
            raise AssertionError(result.report())
        return result

    async def check(self) -> ReplayResult:
        result = await self.run()
        if not result.same:
            raise AssertionError(result.report())
        return result

    async def run(self) -> ReplayResult:
        rec = self.recording
        result = ReplayResult(rec.path, transitions=len(rec.trace))
        if rec.dropped:
            result.notes.append(f"the recording lost {rec.dropped} frames (its queue was full): expect differences")
        if rec.truncated:
            result.notes.append("the recording stopped recording frames at its size bound: replaying what it has")
        async with ReplayServer() as server:
            agent, room = self._agent(server)
            recorder = self._recorder(agent)
            conductor = Conductor(
                build_steps(rec), server, speed=self.speed, wait_s=self.wait_s,
                app=lambda call: _app_call(agent, call), heard_ms=lambda: current_heard_ms(agent),
                state=lambda state, timeout: _reached(agent, state, timeout), quiet=_Quiet(agent).wait,
            )  # fmt: skip
            try:
                await agent.start(room)
                await conductor.run()
                await self._settle(agent, server)
            finally:
                await agent.aclose()
                await room.aclose()
                if recorder is not None:
                    await recorder.aclose()
            result.trace = agent.trace
            replayed = [r.model_dump(mode="json") for r in agent.trace.records]
            frames = [(c.number, f.text) for c in server.connections for f in c.received]
        recorded_controls = control_frames((int(f["conn"]), f["text"]) for f in rec.frames("client"))
        result.controls = len(recorded_controls)
        result.stopped = conductor.stopped
        result.notes += conductor.notes
        result.trace_diff = diff_traces(rec.trace, replayed)
        result.control_diff = diff_controls(recorded_controls, control_frames(frames), self.tolerance_ms)
        return result

    def _agent(self, server: ReplayServer) -> tuple[RealtimeAgent, Any]:
        from ..local import LocalRoom

        rec = self.recording
        provider = _provider(rec.header, server.url)
        linked = next((e for e in rec.events if e["kind"] == "room" and e.get("fact") == "linked"), {})
        room = LocalRoom(caller=str(linked.get("participant") or "caller"))
        options = rec.header.get("agent_options") or {}
        known = {k: v for k, v in options.items() if k in AgentOptions.model_fields}
        chat = ChatContext(messages=[ChatMessage.model_validate(m) for m in rec.header.get("chat_ctx") or []])
        self._changed = asyncio.Event()
        agent = RealtimeAgent(
            provider, tools=replay_tools(rec, self.speed), options=AgentOptions(**known), chat_ctx=chat,
            chart=self.chart, listeners=[_Changes(self._changed)],
        )  # fmt: skip
        return agent, room

    def _recorder(self, agent: RealtimeAgent) -> Recorder | None:
        if self.record_to is None:
            return None
        header = self.recording.header
        redact = header.get("redacted") or ()
        if header.get("audio") == "strip":
            return attach_recorder(agent, Recorder(self.record_to, audio="strip", redact=redact))
        return attach_recorder(agent, Recorder(self.record_to, redact=redact))

    async def _settle(self, agent: RealtimeAgent, server: ReplayServer) -> None:
        """After the script: wait for the agent to take as many transitions as recorded
        (the application's close aside) and send its last frames, or to go quiet."""
        rec = self.recording
        expected = len(rec.trace) - (1 if rec.trace and rec.trace[-1].get("event") == "close" else 0)
        wanted = len(control_frames((int(f["conn"]), f["text"]) for f in rec.frames("client")))

        def done() -> bool:
            sent = len(control_frames((c.number, f.text) for c in server.connections for f in c.received))
            quiet = current_heard_ms(agent) is None
            return len(agent.trace) >= expected and sent >= wanted and quiet

        limit = asyncio.get_running_loop().time() + 60.0
        while not done() and agent.state != "closed" and asyncio.get_running_loop().time() < limit:
            self._changed.clear()
            try:
                async with asyncio.timeout(_QUIET_S):
                    await self._changed.wait()
            except TimeoutError:
                if current_heard_ms(agent) is None:  # quiet, and nothing playing: done
                    return


class _Quiet:
    """Follows the agent's speaking events: the conductor waits for its audio to end."""

    def __init__(self, agent: RealtimeAgent) -> None:
        self._quiet = asyncio.Event()
        self._quiet.set()
        agent.on("agent_started_speaking", self._quiet.clear)
        agent.on("agent_stopped_speaking", self._quiet.set)

    async def wait(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._quiet.wait()


class _Changes:
    """A chart listener: the replay's settle waits on transitions, not on a clock."""

    def __init__(self, changed: asyncio.Event) -> None:
        self._changed = changed

    def after_transition(self) -> None:
        self._changed.set()


def replay(path: str | Path, **options: Any) -> Replay:
    """``replay("tests/recordings/call.jsonl").assert_same()``: see :class:`Replay`."""
    return Replay(path, **options)


def _recorded_chart(rec: Recording) -> type[AgentChart]:
    name = str(rec.header.get("chart") or "")
    default = f"{AgentChart.__module__}:{AgentChart.__qualname__}"
    if name in ("", default):
        return AgentChart
    # Not imported on the file's say-so: a recording is data, and replay runs no code it names.
    raise RecordingError(f"{rec.path}: recorded with chart {name}; pass it (chart=..., or --chart module:Class)")


def _provider(header: dict[str, Any], url: str) -> Any:
    options = dict(header.get("provider_options") or {})
    connection = dict(header.get("connection") or {})
    try:
        if header["provider"] == "gemini":
            from ..gemini import GeminiLive

            return GeminiLive(api_key=_REPLAY_KEY, url=url, **connection, **options)
        from ..openai import OpenAIRealtime

        if header.get("dialect") == "beta":  # Azure's too: the same framing on any URL
            return OpenAIRealtime(api_key=_REPLAY_KEY, url=url, dialect="beta", **connection, **options)
        return OpenAIRealtime(api_key=_REPLAY_KEY, url=url, dialect="ga", **connection, **options)
    except (TypeError, ValueError) as exc:
        reason = " ".join(str(exc).split())
        raise RecordingError(f"the recorded provider options are not valid here: {reason}") from None


async def _reached(agent: RealtimeAgent, state: str, timeout: float) -> bool:
    try:
        await agent.wait_for_state(state, timeout)
    except TimeoutError:
        return False
    return True


def _app_call(agent: RealtimeAgent, call: dict[str, Any]) -> None:
    if call.get("call") == "generate_reply":
        agent.generate_reply(call.get("on_duplicate", "cancel_existing"))
    elif call.get("call") == "interrupt":
        agent.interrupt()


def _on_a_thread(rep: Replay) -> ReplayResult:
    """Run the replay on a loop of its own, on a thread: the caller's loop is busy running
    the caller (an async test calling the synchronous ``assert_same``)."""
    box: list[ReplayResult | BaseException] = []

    def main() -> None:
        try:
            box.append(asyncio.run(rep.run()))
        except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
            box.append(exc)

    thread = threading.Thread(target=main, name="turnstile-replay", daemon=True)
    thread.start()
    thread.join()
    outcome = box[0]
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome

