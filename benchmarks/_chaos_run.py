"""One conversation of the chaos run: a loopback server, the fault proxy in front of it, and a
RealtimeAgent with a tool, driven through its scripted turns, then held to ``_chaos_checks``.

The conversation's RNG (seed and index) picks the script and the fault plan, so a run can be
replayed alone (``python -m benchmarks._chaos --only INDEX``); what the network does with
it still varies a little from run to run, as timing does.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import random
import time
import traceback
from collections import Counter
from collections.abc import Coroutine, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from turnstile.adapters.gemini import GeminiLive
from turnstile.adapters.gemini._client import ToolResponse
from turnstile.adapters.gemini._loopback import GeminiLiveServer
from turnstile.adapters.openai import OpenAIRealtime
from turnstile.adapters.openai._server import OpenAIRealtimeServer
from turnstile.adapters.scenario import CallerTurn
from turnstile.machine import AgentError, AgentOptions, RealtimeAgent, Tool, ToolOutput

from ._chaos_checks import Timeline, chat_problems, settle, unanswered_outputs
from ._chaos_faults import Dialect, plan_faults
from ._chaos_proxy import ChaosProxy
from ._chaos_room import ChaosClock, ChaosRoom
from ._chaos_script import Script, build_script, place_scenario_faults

__all__ = ["RUN", "RunResult", "Settings", "run_conversation"]

RUN: ContextVar[int] = ContextVar("chaos_run", default=-1)
"""The conversation a task belongs to: the campaign tags tasks with it, to blame escapes."""


@dataclass(frozen=True)
class Settings:
    """How a conversation is played and judged (see ``_chaos_checks`` for settle, hold, probe)."""

    speed: int = 5  # playout, times real time
    pace: float = 10.0  # how far ahead of real time the servers stream
    step_s: float = 5.0  # the caller waits this long for each thing it expects, then goes on
    settle_s: float = 15.0  # after the faults stop, to reach listening or closed
    hold_s: float = 0.5  # ... and stay in listening without a transition
    probe_s: float = 10.0  # to answer the probe turn (at least what the socket's heartbeat needs)
    close_s: float = 5.0  # for aclose(); longer is stuck "aclose"
    tool_s: float = 0.3  # the tool's own work: long enough to drop the socket while it runs


@dataclass
class RunResult:
    index: int
    dialect: Dialect
    planned: list[str]
    injected: list[str]  # kinds (malformed as malformed:variant), as they fired
    outcome: str = "survived"  # survived | closed | stuck
    stuck_state: str | None = None
    tool_lost: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    escaped: list[str] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)  # agent error code -> times
    connects: int = 0
    frames_refused: int = 0  # frames the provider sessions counted as malformed or of an unknown type
    path: list[str] = field(default_factory=list)  # the chart's last states, for a failing run's story
    seconds: float = 0.0
    note: str = ""

    @property
    def failed(self) -> bool:
        problems = self.tool_lost or self.lost or self.duplicated or self.escaped or self.note
        return self.outcome == "stuck" or bool(problems)


def _weather_tool(seconds: float) -> Tool:
    async def get_weather(city: str) -> str:
        """Today's weather in a city."""
        await asyncio.sleep(seconds)  # the tool's own work (a lookup), not a wait for something
        return f"21 degrees and sunny in {city}"

    return Tool.from_function(get_weather)


def _shortened(names: Iterable[str], base: dict[str, Any]) -> dict[str, Any]:
    """``base`` plus every timeout or interval setting the constructor declares, made short
    enough for a conversation of seconds (liveness settings added later are shortened too)."""
    out = {k: v for k, v in base.items() if k in names}
    for name in names:
        if name not in out and name.endswith("_timeout_s"):
            out[name] = 2.0
        elif name not in out and (name.endswith("_interval_s") or name in ("heartbeat_s", "ping_s")):
            out[name] = 1.0
    return out


_CONNECTION = {"max_retries": 4, "backoff_base_s": 0.05, "backoff_max_s": 0.4, "connect_timeout_s": 1.0}


def _provider(dialect: Dialect, proxy: ChaosProxy, server: Any) -> OpenAIRealtime | GeminiLive:
    if dialect == "gemini":
        kw = _shortened(inspect.signature(GeminiLive.__init__).parameters, _CONNECTION)
        return GeminiLive(api_key="chaos-key", url=proxy.url(server.url), **kw)
    kw = _shortened(inspect.signature(OpenAIRealtime.__init__).parameters, _CONNECTION)
    if dialect == "beta":  # the preview dialect, on Azure's path
        return OpenAIRealtime(api_key="chaos-key", azure_endpoint=f"http://127.0.0.1:{proxy.port}",
                              azure_deployment="gpt-realtime", **kw)  # fmt: skip
    return OpenAIRealtime(api_key="chaos-key", url=proxy.url(server.url), **kw)


def _options() -> AgentOptions:
    fields = AgentOptions.model_fields
    return AgentOptions(**{n: 3.0 for n in fields if n.endswith("_timeout_s")})


class _Conversation:
    def __init__(self, script: Script, agent: RealtimeAgent, room: ChaosRoom, rng: random.Random, s: Settings) -> None:
        self.script, self.agent, self.room, self.rng, self.s = script, agent, room, rng, s
        self.changed = asyncio.Event()
        self.closed = asyncio.Event()
        self.spoke = asyncio.Event()
        self.timeline = Timeline()
        self.heard: list[str] = []
        self.user_texts: list[str] = []
        self.outputs: list[str] = []
        self.errors: list[AgentError] = []
        agent.on("state_changed", self._state_changed)
        agent.on("agent_speech_committed", lambda text: self._spoken(text, False))
        agent.on("agent_speech_interrupted", lambda text: self._spoken(text, True))
        agent.on("user_speech_committed", self.user_texts.append)
        agent.on("function_calls_finished", self._tools_done)
        agent.on("error", self.errors.append)

    def _state_changed(self, old: str, new: str, event: str | None) -> None:
        self.changed.set()
        if event == "user_turn_committed":
            # The server heard a turn: under load its VAD can split one spoken turn in two,
            # and each is answered. Two prompts, not one answered twice.
            self.timeline.prompt()
        if new == "closed":
            self.closed.set()

    def _spoken(self, text: str, interrupted: bool) -> None:
        self.heard.append(text)
        self.timeline.reply(interrupted)
        self.spoke.set()

    def _tools_done(self, outputs: list[ToolOutput]) -> None:
        self.outputs += [o.call_id for o in outputs]
        self.timeline.prompt()  # the agent now owes the tools' reply

    def _prompt(self) -> None:
        self.timeline.prompt()
        self.spoke.clear()

    def say(self, turn: CallerTurn) -> None:
        self._prompt()
        self.room.say(turn.audio())

    async def _expect(self, awaitable: Coroutine[Any, Any, Any]) -> bool:
        """Wait for what the caller expects, for step_s at most (under faults it may not
        come), and not at all once the agent has closed."""
        if self.agent.state == "closed":
            awaitable.close()
            return False
        waiter = asyncio.ensure_future(awaitable)
        closer = asyncio.ensure_future(self.closed.wait())
        done, _ = await asyncio.wait({waiter, closer}, timeout=self.s.step_s, return_when=asyncio.FIRST_COMPLETED)
        for task in (waiter, closer):
            task.cancel()
        await asyncio.gather(waiter, closer, return_exceptions=True)
        return waiter in done and not waiter.cancelled() and waiter.exception() is None

    async def _reply_then_listening(self) -> None:
        if await self._expect(self.spoke.wait()):
            await self._expect(self.agent.wait_for_state("listening", timeout=self.s.step_s + 1))

    async def drive(self) -> None:
        agent = self.agent
        await self._expect(agent.wait_for_state("listening", timeout=self.s.step_s + 1))
        self._prompt()
        agent.generate_reply()  # the agent speaks first
        for turn in self.script.turns:
            if turn.barge_in:
                await self._expect(agent.wait_for_state("speaking", timeout=self.s.step_s + 1))
                await asyncio.sleep(self.rng.uniform(0.0, 0.1))  # the caller's own timing
            else:
                await self._reply_then_listening()
            self.say(turn.caller)
        await self._reply_then_listening()

    async def probe(self, seconds: float, repeat_s: float = 3.0) -> bool:
        """One more caller turn after the faults stopped: does the agent answer within
        ``seconds``? Words spoken into a connection nobody knew was dead are lost, so, as a
        person would, the caller asks again after ``repeat_s`` of an agent just listening."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        self.say(self.script.probe)
        while (remaining := deadline - loop.time()) > 0:
            try:
                async with asyncio.timeout(min(repeat_s, remaining)):
                    await self.spoke.wait()
                return True
            except TimeoutError:
                if self.agent.state == "listening":
                    self.say(self.script.probe)
        return False


def _accepted(dialect: Dialect, proxy: ChaosProxy, server: Any) -> tuple[set[str], list[str]]:
    """(call ids some server took an output for, ids it took twice on one connection)."""
    accepted: set[str] = set()
    twice: list[str] = []
    for link in proxy.links:
        accepted |= set(link.outputs_accepted) | link.ids_replayed
        twice += [c for c, n in link.outputs_accepted.items() if n > 1]
    if dialect == "gemini":
        for rec in server.connections:
            answered = Counter(r.id for m in rec.received if isinstance(m, ToolResponse) for r in m.function_responses)
            accepted |= {c for c, n in (answered - Counter(rec.unmatched_responses)).items() if c and n > 0}
    return accepted, twice


def _liveness_s(provider: object) -> float:
    """How long the provider's own liveness settings may take to notice a dead connection
    and connect again: the probe waits at least that long."""
    from turnstile.adapters import _socket

    heartbeat = getattr(provider, "heartbeat_s", getattr(_socket, "DEFAULT_HEARTBEAT_S", 0.0)) or 0.0
    connect = float(getattr(provider, "connect_timeout_s", 0.0) or 0.0)
    return 1.5 * float(heartbeat) + 2 * connect + 3.0


async def _settle_and_probe(convo: _Conversation, s: Settings) -> str | None:
    """None if the agent settled, answered the probe turn and settled again; else where it stuck."""
    agent = convo.agent
    stuck = await settle(agent, convo.changed, settle_s=s.settle_s, hold_s=s.hold_s)
    if stuck is not None or agent.state == "closed":
        return stuck
    probe_s = max(s.probe_s, _liveness_s(agent.provider))
    if not await convo.probe(probe_s):
        return "listening (unresponsive)"
    return await settle(agent, convo.changed, settle_s=s.settle_s, hold_s=s.hold_s)


async def run_conversation(index: int, seed: int, dialect: Dialect, clock: ChaosClock, s: Settings) -> RunResult:
    RUN.set(index)
    started = time.monotonic()
    rng = random.Random(f"chaos:{seed}:{index}")
    script = build_script(rng)
    faults = plan_faults(rng, frames=script.expected_frames(dialect), replies=len(script.scenario.replies),
                         has_tools=script.has_tools)  # fmt: skip
    clean = script.scenario
    script = place_scenario_faults(script, faults, dialect)
    result = RunResult(index, dialect, [f.describe() for f in faults], [f.kind for f in faults if f.reply >= 0])
    async with contextlib.AsyncExitStack() as stack:
        server: Any
        if dialect == "gemini":
            server = GeminiLiveServer(script.scenario, pace=s.pace, playout_speed=float(s.speed))
        else:
            server = OpenAIRealtimeServer(script.scenario, pace=s.pace)
        await stack.enter_async_context(server)
        proxy = ChaosProxy(f"http://127.0.0.1:{server.port}", faults, dialect)
        await proxy.start()
        stack.push_async_callback(proxy.close)

        def transient(index: int) -> None:
            if index == 0:  # the scenario's faults play on the first connection only
                server.scenario = clean

        proxy.on_upstream = transient
        room = ChaosRoom(clock)
        stack.push_async_callback(room.aclose)
        agent = RealtimeAgent(_provider(dialect, proxy, server), tools=[_weather_tool(s.tool_s)], options=_options())
        convo = _Conversation(script, agent, room, rng, s)
        try:
            await agent.start(room)
            await convo.drive()
            proxy.calm()
            result.stuck_state = await _settle_and_probe(convo, s)
            final = agent.state
        except Exception:
            result.note = "harness: " + traceback.format_exc(limit=4)
            final = agent.state
        try:
            async with asyncio.timeout(s.close_s):
                await agent.aclose()
        except TimeoutError:
            result.stuck_state = result.stuck_state or "aclose"
        result.outcome = "stuck" if result.stuck_state else "closed" if final == "closed" else "survived"
        result.injected += [f.kind + (":" + f.variant if f.variant else "") for _, f in proxy.injected]
        accepted, twice = _accepted(dialect, proxy, server)
        # Outputs for calls the server withdrew, or for a session closed for good, have nowhere to go.
        produced = [] if final == "closed" else [c for c in convo.outputs if c not in proxy.cancelled_calls]
        result.tool_lost = unanswered_outputs(produced, accepted)
        result.lost, result.duplicated = chat_problems(
            agent.chat_ctx, heard=convo.heard, user_texts=convo.user_texts, outputs=convo.outputs,
            server_duplicates=twice, timeline=convo.timeline,
        )  # fmt: skip
        result.errors = dict(Counter(e.code for e in convo.errors))
        result.connects = proxy.attempts
        sessions = getattr(agent.provider, "sessions", ())
        result.frames_refused = sum(
            getattr(x, "malformed_events", 0) + getattr(x, "unknown_events", 0) for x in sessions
        )
        result.path = list(agent.trace.path[-16:])
    result.seconds = time.monotonic() - started
    return result
