"""The page, in a real browser, while a real agent takes a scripted call.

The agent is the real runtime with the real OpenAI adapter over a socket to the loopback
Realtime server; the caller speaks into LocalRoom's microphone track; the agent publishes
to a real inspector server; headless Chromium shows the page.
"""

from __future__ import annotations

from turnstile.adapters.inspector import InspectorServer, attach_inspector
from turnstile.adapters.local import LocalRoom
from turnstile.adapters.openai import OpenAIRealtime
from turnstile.adapters.openai._server import OpenAIRealtimeServer
from turnstile.machine import RealtimeAgent

from ._browser import Page
from ._call import RATE, SCENARIO, barge_in_call, get_weather

HIGHLIGHTED = "return [...document.querySelectorAll('#chart g.node.current title')].map(t => t.textContent)"


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
    spoken: list[str] = []
    expected = {"listening": "listening", "greeting": "speaking", "greeted": "listening", "done": "listening"}

    async def step(name: str) -> None:
        if name == "listening":
            await page.until("return document.querySelector('#live-sessions [data-session]')", "the live session")
        await highlighted_is(page, expected[name])
        if name == "greeting":
            await page.screenshot("live-speaking")

    async with InspectorServer() as inspector, OpenAIRealtimeServer(SCENARIO) as model:
        room = LocalRoom(caller_sample_rate=RATE)
        agent = RealtimeAgent(OpenAIRealtime(api_key="sk-loopback", url=model.url), tools=[get_weather])
        publisher = attach_inspector(agent, inspector.publish_url, room="demo-room")
        await page.open(inspector.url)
        try:
            await barge_in_call(agent, room, spoken, step)

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
