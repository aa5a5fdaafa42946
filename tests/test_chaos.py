"""The chaos run in ``make test``: a short seeded subset of ``python -m benchmarks._chaos``,
and the checks it classifies conversations with, each against something that breaks them.

The subset's conversations are picked from seed 1 so that, between them, every proxy fault
kind, every malformed frame, every loopback scenario fault and all three dialects fire; it
runs once per module (about 15-25 s: one conversation waits for the socket's heartbeat).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Iterator

import pytest

from benchmarks._chaos import run_campaign
from benchmarks._chaos_checks import Timeline, chat_problems, settle, unanswered_outputs
from benchmarks._chaos_faults import HUGE_BYTES, MALFORMED_VARIANTS, PROXY_KINDS, SCENARIO_KINDS, malformed_frame
from benchmarks._chaos_report import Campaign, describe
from turnstile.adapters.local import LocalRoom
from turnstile.adapters.scripted import ScriptedRealtime
from turnstile.machine import AgentOptions, Capabilities, ChatContext, ChatMessage, RealtimeAgent

SEED = 1
SUBSET = [17, 29, 34, 36, 66, 74, 84, 94, 102, 115, 116, 139, 156, 212, 293, 603, 641, 781]
"""Conversations of seed 1 (index n speaks ga, beta, gemini for n % 3 = 0, 1, 2)."""


@pytest.fixture(scope="module")
def campaign() -> Iterator[Campaign]:
    # One run shared by the tests below: a module-scoped loop of its own.
    yield asyncio.run(run_campaign(SUBSET, seed=SEED, dialects=("ga", "beta", "gemini"), concurrency=len(SUBSET)))


def test_the_subset_fires_every_fault_kind_in_every_dialect(campaign: Campaign) -> None:
    fired = {k.split(":")[0] for r in campaign.results for k in r.injected}
    variants = {k.split(":")[1] for r in campaign.results for k in r.injected if ":" in k}
    story = "\n".join(describe(r, verbose=True) for r in campaign.results)
    assert set(PROXY_KINDS) | set(SCENARIO_KINDS) <= fired, story
    assert set(MALFORMED_VARIANTS) <= variants, story
    assert {r.dialect for r in campaign.results} == {"ga", "beta", "gemini"}
    for r in campaign.results:
        # A drop is seen by the client: it connects again (or gives up trying).
        if any(k in ("drop", "flap", "no_upgrade", "drop_in_tool") for k in r.injected):
            assert r.connects > 1, describe(r, verbose=True)
        # A frame no client can read reaches it, and is counted there.
        if any(k in ("malformed:bad_json", "malformed:truncated", "malformed:unknown_type") for k in r.injected):
            assert r.frames_refused > 0, describe(r, verbose=True)


def test_no_conversation_is_stuck_loses_anything_or_lets_an_exception_escape(campaign: Campaign) -> None:
    failing = [describe(r, verbose=True) for r in campaign.results if r.failed]
    assert not failing, "\n".join(failing)
    assert not campaign.unattributed


# ------------------------------------------------------------------ the checks themselves


async def test_settle_names_the_state_an_agent_is_stuck_in() -> None:
    # A response asked for and never begun, with the response deadline far away: stuck thinking.
    agent = RealtimeAgent(ScriptedRealtime(Capabilities()), options=AgentOptions(response_timeout_s=60))
    changed = asyncio.Event()
    agent.on("state_changed", lambda old, new, event: changed.set())
    room = LocalRoom()
    await agent.start(room)
    try:
        await agent.wait_for_state("listening")
        assert await settle(agent, changed, settle_s=1.0, hold_s=0.1) is None  # listening, and still
        agent.generate_reply()
        assert await settle(agent, changed, settle_s=0.3, hold_s=0.1) == "thinking"
        agent.interrupt()  # thinking -> listening: settled again
        assert await settle(agent, changed, settle_s=1.0, hold_s=0.1) is None
    finally:
        await agent.aclose()
        await room.aclose()
    assert await settle(agent, changed, settle_s=0.1, hold_s=0.1) is None  # closed is settled


def test_a_prompt_answered_twice_is_counted() -> None:
    t = Timeline()
    t.prompt()
    t.reply(interrupted=True)  # cut by a drop: the reply asked again is not a second answer
    t.reply(interrupted=False)
    t.prompt()
    t.reply(interrupted=False)
    assert t.answered_twice() == 0
    t.reply(interrupted=False)  # a second complete answer to the same prompt
    assert t.answered_twice() == 1


def test_chat_problems_find_lost_and_duplicated_items() -> None:
    ctx = ChatContext(messages=[
        ChatMessage(role="assistant", text="Hello.", id="a1"),
        ChatMessage(role="user", text="Weather?", id="u1"),
        ChatMessage(role="assistant", text="{}", tool_call_id="c1", name="get_weather"),
        ChatMessage(role="tool", text="sunny", tool_call_id="c1", name="get_weather"),
        ChatMessage(role="assistant", text="Sunny.", id="a2"),
    ])  # fmt: skip
    clean = dict(heard=["Hello.", "Sunny."], user_texts=["Weather?", "Weather?"], outputs=["c1"],
                 server_duplicates=[], timeline=Timeline())  # fmt: skip
    assert chat_problems(ctx, **clean) == ([], [])  # type: ignore[arg-type]
    # An item played twice keeps one entry: the first words heard are lost.
    lost, dup = chat_problems(ctx, **{**clean, "heard": ["Hello.", "Sun", "Sunny."]})  # type: ignore[arg-type]
    assert lost == ["reply heard, not in chat_ctx: 'Sun'"] and dup == []
    lost, _ = chat_problems(ctx, **{**clean, "heard": ["Hello.", "Sunny.", "Sunny."]})  # type: ignore[arg-type]
    assert lost == ["reply heard, not in chat_ctx: 'Sunny.'"]  # heard twice, one entry left
    lost, _ = chat_problems(ctx, **{**clean, "outputs": ["c1", "c2"]})  # type: ignore[arg-type]
    assert lost == ["tool output not in chat_ctx: c2"]
    ctx.messages.append(ChatMessage(role="tool", text="sunny", tool_call_id="c1"))
    ctx.messages.append(ChatMessage(role="assistant", text="Sunny.", id="a2"))
    _, dup = chat_problems(ctx, **{**clean, "heard": ["Hello.", "Sunny.", "Sunny."]})  # type: ignore[arg-type]
    assert dup == ["2 chat_ctx entries with id a2", "2 tool outputs for c1"]


def test_a_tool_output_no_server_took_is_lost() -> None:
    assert unanswered_outputs(["c1", "c2", "c2"], accepted={"c1"}) == ["c2"]
    assert unanswered_outputs(["c1"], accepted={"c1", "c9"}) == []


@pytest.mark.parametrize("dialect", ["ga", "beta", "gemini"])
def test_each_malformed_frame_is_broken_the_way_it_says(dialect: str) -> None:
    current = '{"type": "response.done", "response": {"id": "resp_1"}}'
    frames = {v: malformed_frame(v, dialect, current=current, audio_ids=("resp_1", "item_1"))  # type: ignore[arg-type]
              for v in MALFORMED_VARIANTS}  # fmt: skip
    for variant, frame in frames.items():
        assert isinstance(frame, bytes if dialect == "gemini" else str), variant  # the dialect's framing
    for variant in ("bad_json", "truncated"):
        with pytest.raises(ValueError):
            json.loads(frames[variant])
    parsed = {v: json.loads(f) for v, f in frames.items() if v not in ("bad_json", "truncated")}
    assert len(frames["huge"]) > HUGE_BYTES
    if dialect == "gemini":
        bad = parsed["bad_base64"]["serverContent"]["modelTurn"]["parts"][0]["inlineData"]["data"]
        assert not isinstance(parsed["type_list"]["serverContent"], dict)
        assert not isinstance(parsed["type_object"]["toolCall"], dict)
    else:
        bad = parsed["bad_base64"]["delta"]
        assert parsed["bad_base64"]["item_id"] == "item_1"  # on the item playing
        assert isinstance(parsed["type_list"]["type"], list) and isinstance(parsed["type_object"]["type"], dict)
        assert parsed["unknown_item_audio"]["item_id"] != "item_1"
    with pytest.raises(binascii.Error):
        base64.b64decode(bad, validate=True)
