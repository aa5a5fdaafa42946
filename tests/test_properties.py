"""Property test: random provider and user event sequences against the real runtime.

Invariants, checked after every step and at the end of every run:
- at most one item plays at a time, and audio plays only while the agent is speaking;
- nothing more of a response the user barged in on begins to play;
- truncation only where the provider supports it, never 0, and never beyond what the
  listener heard of that item (LocalSpeaker counts the frames it received) nor beyond
  the audio the provider sent (the player pads the tail, padding is not speech);
- the published state equals the mapped current state once publishing settles;
- a reply owed (tool outputs sent, or a ``generate_reply``) is asked for exactly once
  (one ask answers every output sent before it), unless a response that began after it
  answered it or the user took the floor; nothing is asked for with nothing owed;
- liveness: once the script ends and the server finishes what it started, the agent
  settles in ``listening`` (or ``closed``) within the audio left to play plus the
  response deadline, well before any stall watchdog, and then answers a fresh turn;
- no exception reaches the event loop (garbage collected first, so an unretrieved task
  exception is seen), and no internal error is reported.

And what the chart's regions make checkable, after every step:
- ``speaking`` implies a playout (the player is playing or has audio queued);
- never two responses streaming: at most one response the runtime has not cancelled;
- ``response`` in ``no_response`` implies no live response in flight;
- ``user`` is ``talking`` exactly between a user_speech_started and its user_speech_stopped;
- every reply asked for (create_response) is either the user's own generate_reply or the
  chart leaving ``tools.reply_owed`` by its reply transition, one ask each; the chart's
  are never asked while the turn speaks or audio plays; and once the agent settles,
  ``reply_owed`` was left as often as it was entered.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from turnstile.adapters.scripted import ScriptedRealtime
from turnstile.adapters.testing import check_invariants
from turnstile.machine import DEFAULT_STATE_MAP, AgentError, AgentOptions, Capabilities, RealtimeAgent

from ._property_world import CountingRoom, World, settled

RATE = 24000
RESPONSE_TIMEOUT_S = 0.2
SETTLE_MARGIN_S = 2.0
"""Beyond the audio left to play and the response deadline; far below the slow watchdogs."""
SLOW_WATCHDOG_S = 10.0
FAST_WATCHDOG_S = 0.15

SINGLE_OPS = [
    "ready", "lost", "speech_started", "speech_stopped", "speech_stopped_long", "committed", "reply",
    "interrupt", "created", "audio", "audio_odd", "audio_new_item", "transcript",
    "audio_done", "text", "response_done", "tool", "tool_bad", "tool_slow",
    "server_interrupted", "error", "advance", "barge_at_end", "barge_next_frame", "withdraw",
]
# Phrases make the meaningful orders likely (a response that plays, then a barge-in),
# while single operations keep every other order possible.
PHRASES = [
    ["created", "audio_new_item", "transcript", "audio", "advance", "advance"],
    ["reply", "created", "audio_new_item", "advance", "speech_started"],
    ["audio_done", "response_done", "advance"],
    ["advance", "advance", "speech_started", "speech_stopped"],
    # A barge-in the moment the listener has heard the padded tail of an odd-length item.
    ["created", "audio_new_item", "audio_odd", "audio_done", "barge_at_end", "advance", "advance"],
    # The socket drops mid-response and comes back.
    ["created", "audio_new_item", "lost", "ready"],
    ["tool", "response_done", "advance"],
    # A tool that returns while its response still streams: its reply is owed at the end.
    ["created", "tool", "advance", "response_done"],
    # A barge-in before the audio, the next turn, then the cancelled response's audio.
    ["created", "speech_started", "committed", "audio_new_item", "advance"],
    # A barge-in before the asked-for response begins (cancelled on arrival), the next turn.
    ["reply", "speech_started", "created", "speech_stopped", "committed", "created"],
    # One tool answered by a response that begins while another runs, which is withdrawn.
    ["tool_slow", "tool", "advance", "created", "withdraw", "advance"],
]
OPS = st.one_of(st.sampled_from(SINGLE_OPS).map(lambda op: [op]), st.sampled_from(PHRASES))


def add(a: int, b: int) -> int:
    return a + b


def explode() -> str:
    raise RuntimeError("a tool that fails")


def check(world: World, caps: Capabilities) -> None:
    rt, session = world.agent._runtime, world.session
    playing = [h for h in rt.handles.values() if h.pushed_samples and not h.finished]
    assert len(playing) <= 1, playing
    if rt.player is not None and rt.player.playing:
        assert world.agent.state == "speaking", (world.agent.state, rt.player.current)
    assert not world.replayed, f"items of a response barged in on began to play: {world.replayed}"
    if not caps.supports_truncate:
        assert not {"truncate", "cancel_response", "delete_item"} & set(session.names())
    for audio_end_ms, heard, received in world.truncations:
        assert 0 < audio_end_ms <= min(heard, received) * 1000 // RATE, (
            f"truncated at {audio_end_ms} ms; the listener heard {heard} samples of the {received} sent")
    world.sync()
    assert not world.extra_asks, ("a response was asked for with no reply owed", session.names())
    check_invariants(world.agent)  # the regions' invariants, as users check them


def check_settled(world: World) -> None:
    """Once the agent settles, every reply owed was answered: reply_owed was left as often
    as it was entered, and the tools region rests."""
    tools = world.agent.trace.region("tools").transitions
    entered = sum(1 for _, s, t in tools if t == "reply_owed" and s != "reply_owed")
    left = sum(1 for _, s, t in tools if s == "reply_owed" and t != "reply_owed")
    assert entered == left, ("a reply owed was never answered", tools)
    assert "reply_owed" not in world.agent.configuration


async def settled_or_why(world: World, caps: Capabilities, timeout: float) -> None:
    """``settled``; an agent that does not settle is first checked against the invariants,
    whose failure says more than "stuck" (speaking with nothing to play, say)."""
    try:
        await settled(world.agent, timeout)
    except AssertionError:
        check(world, caps)
        raise


async def scenario(ops: list[str], caps: Capabilities, fast_watchdogs: bool,
                   loop_errors: list[dict[str, Any]]) -> None:
    asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: loop_errors.append(ctx))
    watchdog = FAST_WATCHDOG_S if fast_watchdogs else SLOW_WATCHDOG_S
    options = AgentOptions(
        response_timeout_s=RESPONSE_TIMEOUT_S, response_stall_timeout_s=watchdog,
        playout_stall_timeout_s=watchdog, tool_timeout_s=watchdog, session_timeout_s=watchdog,
    )
    provider, room = ScriptedRealtime(caps, ready_on_connect=False), CountingRoom(caller_sample_rate=RATE)
    release_tools = asyncio.Event()

    async def slow() -> str:
        await release_tools.wait()  # until the script ends, or the tool deadline
        return "done at last"

    agent = RealtimeAgent(provider, tools=[add, explode, slow], options=options)
    errors: list[AgentError] = []
    agent.on("error", errors.append)
    try:
        await agent.start(room)
        await provider.last_session.wait_sent("connect")
        check_invariants(agent)  # from here on it follows the user's speech and every ask
        world = World(agent, provider, room, release_tools)
        for op in ops:
            await world.do(op)
            check(world, caps)
            if agent.state == "closed":
                break
            await agent._publisher.settled()  # type: ignore[union-attr]
            assert room.attributes.get("lk.agent.state") == DEFAULT_STATE_MAP[agent.state], (
                agent.state, room.state_history)
        if agent.state != "closed":
            await world.finish()
            bound = world.audio_ms / 1000 + RESPONSE_TIMEOUT_S + SETTLE_MARGIN_S
            await settled_or_why(world, caps, bound)
            check(world, caps)
            check_settled(world)
            assert not world.owed, ("a reply owed was never asked for", world.session.names())
            # Still a working agent: a fresh turn is answered and played to the end.
            world.trigger = None
            await world.do("committed")
            await world.do("created")
            await world.do("audio_new_item")
            await world.finish()
            await settled_or_why(world, caps, 0.06 + SETTLE_MARGIN_S)
            check(world, caps)
            check_settled(world)
            assert world.iid in world.started_at, "the fresh turn's answer was never played"
    finally:
        await agent.aclose()
        await room.aclose()
    assert not [e for e in errors if e.code == "internal"], errors


@pytest.fixture
def frozen_heap() -> Iterator[None]:
    """What exists before the test is left out of its collections: each example collects
    garbage, and a full collection of the whole test process costs ~60 ms."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


# The mutation check (tests/mutants.py) only asks whether an example fails: shrinking
# one whose failure is a timeout would take minutes.
PHASES = [Phase.explicit, Phase.reuse, Phase.generate] if os.environ.get("TURNSTILE_NO_SHRINK") else list(Phase)


@settings(max_examples=50, deadline=None, phases=PHASES,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(
    ops=st.lists(OPS, min_size=1, max_size=10).map(lambda xs: ["ready", *(op for x in xs for op in x)]),
    truncate=st.booleans(),
    fast_watchdogs=st.booleans(),
)
# A barge-in before the asked-for response begins, then the next turn's response: the
# first is cancelled on arrival, so only the second may be live.
@example(ops=["ready", "reply", "speech_started", "created", "speech_stopped", "committed", "created"],
         truncate=True, fast_watchdogs=False)
# A tool's output sent while the answer to a committed turn is still awaited, and the user
# talks over thinking and falls silent with no new turn: the answer never comes. The agent
# waits for it as thinking (its deadline), then asks for the tool's reply (found by hypothesis).
@example(ops=["ready", "tool_bad", "created", "speech_started", "committed", "audio_new_item", "advance",
              "speech_started"], truncate=False, fast_watchdogs=False)
def test_invariants_hold_for_any_event_sequence(
    frozen_heap: None, ops: list[str], truncate: bool, fast_watchdogs: bool
) -> None:
    caps = Capabilities(supports_truncate=truncate)
    loop_errors: list[dict[str, Any]] = []
    asyncio.run(scenario(ops, caps, fast_watchdogs, loop_errors))
    gc.collect()  # a task that died unretrieved says so when it is collected
    assert not loop_errors, loop_errors
