"""``turnstile demo --inspect``: the demo call published to an inspector, or to its own."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

from aiohttp import ClientSession

from turnstile.adapters.demo import run_demo
from turnstile.adapters.inspector import InspectorServer
from turnstile.adapters.scenario import Scenario

from .._cli_run import TURNSTILE

SHORT = {"steps": [
    {"role": "model", "transcript": "Hi, how can I help?"},
    {"role": "caller", "transcript": "Weather in Paris?"},
    {"role": "model", "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
    {"role": "model", "transcript": "Sunny."},
]}  # fmt: skip


async def test_the_demo_publishes_its_call_to_a_running_inspector(tmp_path: Path) -> None:
    async with InspectorServer() as inspector:
        code = await run_demo(
            trace_path=tmp_path / "t.jsonl", diagram_path=tmp_path / "c.dot", wav_path=tmp_path / "w.wav",
            scenario=Scenario.model_validate(SHORT), inspect=inspector.publish_url,
        )  # fmt: skip
        assert code == 0
        [session] = inspector.sessions
        assert session.hello["room"] == "turnstile demo" and session.hello["chart"] == "AgentChart"
        assert not session.live  # the call ended, and the page says so
        kinds = [m["type"] for m in session.messages]
        assert "tools" in kinds and kinds.count("transcript") == 3 and kinds[-1] == "bye"


async def test_demo_inspect_serves_its_own_page_and_starts_the_call_when_it_opens(tmp_path: Path) -> None:
    (tmp_path / "short.json").write_text(json.dumps(SHORT), encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        str(TURNSTILE), "demo", "--inspect", "--scenario", "short.json", cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    lines: list[str] = []

    async def line_with(text: str) -> str:
        while True:
            line = (await proc.stdout.readline()).decode()  # type: ignore[union-attr]
            assert line, f"the demo ended without printing {text!r}: {lines}"
            lines.append(line)
            if text in line:
                return line

    try:
        async with asyncio.timeout(40):
            opening = await line_with("inspector: open http://127.0.0.1:")
            url = opening.split("open ", 1)[1].split()[0]
            # Until a page opens, the call does not start: the demo prints nothing more.
            try:
                async with asyncio.timeout(1.5):
                    early = await proc.stdout.readline()
            except TimeoutError:
                early = b""
            assert early == b"", early
            async with ClientSession() as http, http.ws_connect(url.rstrip("/") + "/watch") as page:
                first = json.loads((await page.receive()).data)
                assert first == {"kind": "sessions", "sessions": []}  # the call waited for the page
                started = json.loads((await page.receive()).data)
                assert started["kind"] == "session" and started["summary"]["room"] == "turnstile demo"
                await line_with("inspector: still serving")
            proc.send_signal(signal.SIGINT)
            assert await proc.wait() == 0
        assert (tmp_path / "out" / "demo-trace.jsonl").is_file()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
