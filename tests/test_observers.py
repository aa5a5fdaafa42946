"""An agent's observers, wired by its options and the environment: the live inspector
(``inspector=`` / ``TURNSTILE_INSPECT``) and the recorder (``recorder=`` /
``TURNSTILE_RECORD``, ``--record DIR`` on the CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from turnstile.adapters.inspector import InspectorServer
from turnstile.adapters.local import LocalRoom
from turnstile.adapters.scripted import ScriptedRealtime, pcm_tone
from turnstile.machine import RealtimeAgent

from ._cli_run import run_cli
from ._util import wait_until


async def test_an_agent_given_an_inspector_publishes_its_session_and_its_end() -> None:
    async with InspectorServer(port=0) as server:
        provider, room = ScriptedRealtime(), LocalRoom()
        agent = RealtimeAgent(provider, inspector=server.publish_url)
        await agent.start(room)
        await agent.wait_for_state("listening")
        provider.last_session.start_audio_response(pcm_tone(100), transcript="hello")
        await wait_until(lambda: any(True for _ in server.sessions), timeout=10)
        [session] = list(server.sessions)
        assert session.summary()["live"]
        await agent.aclose()  # flushes the goodbye
        await wait_until(lambda: not session.summary()["live"], timeout=10)
        assert session.summary()["state"] == "closed"
        await room.aclose()


async def test_the_environment_names_the_inspector(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TURNSTILE_INSPECT", "ws://127.0.0.1:9/publish")  # nothing listens there
    agent = RealtimeAgent(ScriptedRealtime())
    assert [type(o).__name__ for o in agent._observers] == ["InspectorPublisher"]
    await agent.aclose()  # an inspector that is not there never holds the agent up
    monkeypatch.delenv("TURNSTILE_INSPECT")
    assert RealtimeAgent(ScriptedRealtime())._observers == []


def test_demo_record_writes_the_calls_wire_frames_and_its_trace(tmp_path: Path) -> None:
    result = run_cli("demo", "--record", "rec", "--trace", "out/t.jsonl", "--diagram", "out/c.dot",
                     "--wav", "out/c.wav", cwd=tmp_path, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    [recording] = list((tmp_path / "rec").iterdir())
    lines = [json.loads(line) for line in recording.read_text().splitlines() if line.strip()]
    text = recording.read_text()
    assert "response.create" in text and "session.update" in text  # frames both ways
    assert "session_ready" in text  # the trace, at the end
    assert len(lines) > 20
