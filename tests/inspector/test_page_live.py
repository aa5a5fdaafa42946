"""The page, in a real browser, while a real agent takes a scripted call.

The agent is the real runtime with the real OpenAI adapter over a socket to the loopback
Realtime server; the caller speaks into LocalRoom's microphone track; the agent publishes
to a real inspector server; headless Chromium shows the page.
"""

from __future__ import annotations

import numpy as np

from turnstile.adapters.inspector import InspectorServer, attach_inspector
from turnstile.adapters.local import LocalRoom
from turnstile.adapters.openai import OpenAIRealtime
from turnstile.adapters.openai._server import OpenAIRealtimeServer
from turnstile.adapters.scenario import CallerTurn, Scenario
from turnstile.machine import RealtimeAgent

from .._util import wait_until
from ._browser import Page

RATE = 24000

# The demo call, shortened: a greeting, a question answered through a tool, a barge-in.
SCENARIO = Scenario.model_validate({"steps": [
    {"role": "model", "transcript": "Hi, how can I help?"},
    {"role": "caller", "transcript": "Weather in Paris?"},
    {"role": "model", "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
    {"role": "model", "transcript": "It is sunny in Paris, a lovely day for a long walk by the river."},
    {"role": "caller", "transcript": "And tomorrow?", "barge_in_after_ms": 1000},
    {"role": "model", "transcript": "Cloudy."},
]})  # fmt: skip

HIGHLIGHTED = "return [...document.querySelectorAll('#chart g.node.current title')].map(t => t.textContent)"


def get_weather(city: str) -> str:
    return f"sunny in {city}"


async def say(room: LocalRoom, turn: CallerTurn) -> None:
    pcm = np.frombuffer(turn.audio(), np.int16)
    await room.caller.say(np.concatenate([pcm, np.zeros(RATE, np.int16)]).tobytes())


async def highlighted_is(page: Page, state: str, timeout: float = 15.0) -> None:
    """``state`` is among the highlighted nodes (one per region of the chart)."""
    script = HIGHLIGHTED.removeprefix("return ") + ".includes(arguments[0])"
    await page.until(f"return {script}", f"{state} highlighted", timeout, state)


def turn_states(history: list[str], path: list[str]) -> list[str]:
    """The main region's leaf in each highlighted configuration, repeats collapsed."""
    known = set(path)
    out: list[str] = []
    for config in history:
        leaf = next((s for s in config.split(",") if s in known), None)
        if leaf is not None and (not out or out[-1] != leaf):
            out.append(leaf)
    return out


async def test_the_page_follows_a_live_call_through_the_chart(page: Page) -> None:
    scenario = SCENARIO
    question, barge_in = scenario.steps[1], scenario.steps[4]
    assert isinstance(question, CallerTurn) and isinstance(barge_in, CallerTurn)
    spoken: list[str] = []
    async with InspectorServer() as inspector, OpenAIRealtimeServer(scenario) as model:
        room = LocalRoom(caller_sample_rate=RATE)
        agent = RealtimeAgent(OpenAIRealtime(api_key="sk-loopback", url=model.url), tools=[get_weather])
        for name in ("agent_speech_committed", "agent_speech_interrupted"):
            agent.on(name, spoken.append)
        publisher = attach_inspector(agent, inspector.publish_url, room="demo-room")
        await page.open(inspector.url)
        try:
            await agent.start(room)
            await agent.wait_for_state("listening", timeout=10)
            await page.until("return document.querySelector('#live-sessions [data-session]')", "the live session")
            await highlighted_is(page, "listening")
            agent.generate_reply()  # the greeting
            await agent.wait_for_state("speaking", timeout=10)
            await highlighted_is(page, "speaking")
            await page.screenshot("live-speaking")
            await wait_until(lambda: len(spoken) == 1, timeout=15)
            await agent.wait_for_state("listening")
            await highlighted_is(page, "listening")
            before = room.speaker.heard_samples  # the greeting's
            await say(room, question)
            await agent.wait_for_state("speaking", timeout=15)  # after the tool
            await wait_until(lambda: room.speaker.heard_samples - before > RATE, timeout=15)
            await say(room, barge_in)
            await wait_until(lambda: len(spoken) == 3, timeout=20)  # the recovered reply
            await agent.wait_for_state("listening", timeout=15)
            await highlighted_is(page, "listening")

            # The barge-in is on the timeline, with where the reply was cut.
            cut = spoken[1].removesuffix("...")
            mark = await page.until(
                "const m = document.querySelector('.lane-barge .mark.barge');"
                "return m && {heard: Number(m.dataset.heardMs), label: m.textContent}",
                "the barge-in on the timeline",
            )
            assert mark["heard"] >= 1000, mark  # the caller cut in after 1 s of the reply
            assert cut and cut in mark["label"], (cut, mark)
            await page.until("return document.querySelector('.lane-tools .span.tool')", "the tool call")
            tool = await page.js("return document.querySelector('.lane-tools .span.tool').textContent")
            assert tool == "get_weather"
            # Every configuration the page highlighted was one the agent went through, in order.
            path = agent.trace.path
            shown = turn_states(await page.js("return window.inspector.history"), path)
            it = iter(path)
            assert all(state in it for state in shown), (shown, path)
            assert {"listening", "speaking", "interrupted"} & set(shown) >= {"listening", "speaking"}
            # The taken edges are weighted.
            taken = await page.js("return document.querySelectorAll('#chart g.edge.taken').length")
            assert taken >= 4
            await page.screenshot("live-after-barge-in")
        finally:
            await agent.aclose()
            await publisher.aclose()
            await room.aclose()
        await page.until(
            "return document.querySelector('#ended-sessions [data-session]')", "the session among the ended ones"
        )
