"""A trace file opened from disk: the chart, the lanes, and the time scrubber."""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp import ClientSession

from turnstile.adapters.inspector import InspectorServer

from ._browser import Page

# An older trace (no region field), as `turnstile demo` wrote them before the regions.
RECORDS = [
    (0.5, "session_ready", "initializing", "listening"),
    (2.0, "user_turn_committed", "listening", "thinking"),
    (2.5, "audio_started", "thinking", "speaking"),
    (4.0, "user_speech_started", "speaking", "interrupted"),
    (4.0, None, "interrupted", "listening"),
    (6.0, "close", "listening", "closed"),
]

CURRENT = "return [...document.querySelectorAll('#chart g.node.current title')].map(t => t.textContent)"


async def scrub_to(page: Page, t: float) -> list[str]:
    await page.js(
        "const s = document.getElementById('scrubber'); s.value = arguments[0];"
        "s.dispatchEvent(new Event('input'));",
        t,
    )
    await page.until("return window.inspector.rendered === arguments[0]", f"the views at {t}s", 5, t)
    highlighted: list[str] = await page.until(
        f"const c = ({CURRENT.removeprefix('return ')}); return c.length && c", "a highlighted state"
    )
    return highlighted


async def test_a_trace_file_loads_and_the_scrubber_moves_through_it(page: Page, tmp_path: Path) -> None:
    trace = tmp_path / "call-trace.jsonl"
    lines = [json.dumps({"t": t, "event": e, "source": s, "target": d, "data": {}}) for t, e, s, d in RECORDS]
    trace.write_text("\n".join(lines) + "\nnot json\n", encoding="utf-8")
    async with InspectorServer() as inspector:
        await page.open(inspector.url)
        await page.until("return document.getElementById('status').textContent === 'connected'", "connected")
        await page.upload("#open-file", trace)
        await page.until("return document.querySelector('#chart svg g.node')", "the chart of the trace")
        status = await page.js("return document.getElementById('status').textContent")
        assert "6 records" in status and "1 unreadable" in status, status
        assert await scrub_to(page, 6.0) == ["closed"]
        assert await scrub_to(page, 3.0) == ["speaking"]
        assert await scrub_to(page, 1.0) == ["listening"]
        # Back at the end: the barge-in with how long the reply had played (2.5 s -> 4.0 s).
        await scrub_to(page, 6.0)
        heard = await page.until(
            "const m = document.querySelector('.lane-barge .mark.barge'); return m && Number(m.dataset.heardMs)",
            "the barge-in",
        )
        assert heard == 1500
        states = await page.js("return [...document.querySelectorAll('.lane-states .span')].map(s => s.dataset.state)")
        assert states == ["initializing", "listening", "thinking", "speaking", "interrupted", "listening", "closed"]
        counts = await page.js("return [...document.querySelectorAll('#chart g.edge.taken')].length")
        assert counts >= 4  # every transition of the file is drawn on its edge
        await page.screenshot("offline-trace")
        # A click shows the chart at its own size (a chart with regions is small when fitted).
        await page.js("document.getElementById('chart').click()")
        size = await page.js("const s = document.querySelector('#chart svg'); return [s.style.width, s.dataset.width]")
        assert size[0] and size[0] == size[1], size
        await page.screenshot("offline-trace-actual-size")


async def test_the_page_and_its_files_are_served_without_the_internet() -> None:
    """What the page loads comes from the package itself (it ships in the wheel)."""
    async with InspectorServer() as inspector, ClientSession() as http:
        async with http.get(inspector.url) as response:
            html = await response.text()
        assert response.status == 200 and "Turnstile inspector" in html
        assert "http://" not in html and "https://" not in html
        for name in ("inspector.js", "model.js", "chart.js", "timeline.js", "inspector.css"):
            async with http.get(f"{inspector.url}static/{name}") as response:
                body = await response.text()
            assert response.status == 200, name
            assert "https://" not in body and "http://" not in body, name


async def test_a_recording_file_shows_its_exact_cut_and_the_chat(page: Page, tmp_path: Path) -> None:
    """A recording (turnstile.adapters.recording's JSONL) carries the heard position of a
    cut reply and the final chat: the page shows both, beside the trace's states."""
    lines: list[dict[str, object]] = [
        {"kind": "header", "format": 1, "provider": "openai"},
        {"kind": "frame", "t": 0.1, "conn": 1, "dir": "client", "text": "{}"},
        {"kind": "room", "t": 3.9, "fact": "stopped", "heard_ms": 1234, "interrupted": True},
    ]
    lines += [{"kind": "trace", "record": {"t": t, "event": e, "source": s, "target": d}} for t, e, s, d in RECORDS]
    lines.append({"kind": "chat", "messages": [
        {"role": "user", "text": "Weather in Paris?"},
        {"role": "assistant", "text": "It is sunny...", "interrupted": True},
    ]})  # fmt: skip
    recording = tmp_path / "call.jsonl"
    recording.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    async with InspectorServer() as inspector:
        await page.open(inspector.url)
        await page.upload("#open-file", recording)
        await page.until("return document.querySelector('#chart svg g.node')", "the chart of the recording")
        cuts = await page.until(
            "const m = [...document.querySelectorAll('.lane-barge .mark.barge')];"
            "return m.length && m.map(x => x.dataset.heardMs)",
            "the recorded cut",
        )
        assert cuts == ["1234"]  # the recorder's heard position, not one guessed from the states
        said = await page.until(
            "const t = [...document.querySelectorAll('#transcript .turn .text')];"
            "return t.length && t.map(x => x.textContent)",
            "the chat",
        )
        assert said == ["Weather in Paris?", "It is sunny — cut off"]
