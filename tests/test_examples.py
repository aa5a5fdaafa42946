"""Every file in examples/ runs, against the loopback servers over real sockets, and does
what it says: the agents speak and call their tool, the hooks and the subclassed chart
decide the barge-ins, and the example test file passes under plain pytest in a project
with no configuration.

The agent examples run as a user runs them (a subprocess, the URL from the command line or
the environment, no API key); the others are imported and their ``main`` awaited, so the
test can look at what they return.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from turnstile.adapters.gemini._loopback import GeminiLiveServer
from turnstile.adapters.local import LocalRoom
from turnstile.adapters.openai._server import OpenAIRealtimeServer
from turnstile.adapters.scenario import Scenario
from turnstile.adapters.scripted import ScriptedRealtime, pcm_tone
from turnstile.machine import (
    AgentChart,
    AgentOptions,
    InputSpeechStarted,
    RealtimeAgent,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TIMEOUT_S = 90.0
TOOL_LINE = "tool:   get_weather -> 21 degrees and sunny in Paris"

WEATHER_CALL = Scenario.model_validate({"steps": [
    {"role": "model", "transcript": "Hello!"},
    {"role": "caller", "transcript": "What's the weather in Paris?"},
    {"role": "model", "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
    {"role": "model", "transcript": "Sunny in Paris."},
]})  # fmt: skip
LONG_GREETING = (
    "Hello and welcome to the weather line, where every forecast is read out slowly and "
    "carefully, so please bear with me while I go through all of the usual notices first."
)


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without keys, example URLs or pytest settings: a user's shell."""
    drop = {"OPENAI_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY", "OPENAI_REALTIME_URL",
            "GEMINI_LIVE_URL", "PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTHONPATH"}  # fmt: skip
    return {**{k: v for k, v in os.environ.items() if k not in drop}, **extra}


async def _run(*args: str, cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *args, cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with asyncio.timeout(TIMEOUT_S):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
def examples(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """examples/ on sys.path (they import each other by name, as ``python examples/x.py``
    does), and a loader for its modules; they are forgotten afterwards."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    before = set(sys.modules)

    def load(name: str) -> ModuleType:
        return importlib.import_module(name)

    yield load
    for name in set(sys.modules) - before:
        if getattr(sys.modules[name], "__file__", "") and str(EXAMPLES) in str(sys.modules[name].__file__):
            del sys.modules[name]


async def test_the_openai_agent_greets_calls_its_tool_and_answers() -> None:
    async with OpenAIRealtimeServer(WEATHER_CALL) as server:
        rc, out, err = await _run("openai_agent.py", "--url", server.url, cwd=EXAMPLES, env=_clean_env())
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "agent:  Hello!"
    assert TOOL_LINE in lines and lines[-1] == "agent:  Sunny in Paris."
    sent = server.received[0]
    outputs = [e.item.output for e in sent if e.type == "conversation.item.create"
               and e.item.type == "function_call_output"]  # fmt: skip
    assert outputs == ["21 degrees and sunny in Paris"]
    assert "Traceback" not in err


async def test_the_gemini_agent_takes_its_url_from_the_environment() -> None:
    async with GeminiLiveServer(WEATHER_CALL) as server:
        env = _clean_env(GEMINI_LIVE_URL=server.url)
        rc, out, err = await _run("gemini_agent.py", cwd=EXAMPLES, env=env)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "agent:  Hello!"
    assert TOOL_LINE in lines and lines[-1] == "agent:  Sunny in Paris."
    received = [type(m).__name__ for m in server.received[0]]
    assert received[0] == "Setup" and "ToolResponse" in received
    assert "Traceback" not in err


async def test_the_hooks_log_and_let_the_agent_talk_through_a_cough(
    examples: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = Scenario.model_validate({"steps": [{"role": "model", "transcript": LONG_GREETING}]})
    async with OpenAIRealtimeServer(scenario) as server:
        trace = await examples("chart_hooks").main(server.url)
    out = capsys.readouterr().out
    # The cough came and went (the VAD said so) while the agent went on speaking ...
    assert "agent:  still speaking" in out
    # ... then the caller talked on, and cut it off: once.
    assert trace.path[:6] == ["initializing", "listening", "thinking", "speaking", "interrupted", "listening"]
    assert trace.path.count("interrupted") == 1
    assert "chart:  speaking --user_speech_started--> interrupted" in out  # the Log listener
    truncates = [e for e in server.received[0] if e.type == "conversation.item.truncate"]
    assert len(truncates) == 1


async def test_the_subclassed_chart_plays_the_greeting_whole_and_no_more(examples: Any) -> None:
    scenario = Scenario.model_validate({"steps": [
        {"role": "model",
         "transcript": "Hello. This call may be recorded for quality and training purposes, thank you."},
        {"role": "model", "transcript": "Of course, go ahead and ask me anything you like about the weather today."},
    ]})  # fmt: skip
    async with OpenAIRealtimeServer(scenario) as server:
        heard = await examples("subclassed_chart").main(server.url)
    assert heard[0] == scenario.steps[0].transcript  # type: ignore[union-attr]  # whole, talked over
    assert heard[1].endswith("...") and len(heard) == 2  # cut where the caller talked over it
    truncates = [e for e in server.received[0] if e.type == "conversation.item.truncate"]
    assert len(truncates) == 1


async def test_a_guard_in_a_subclass_only_adds_a_condition(examples: Any) -> None:
    """What the docs say: the chart's, the runtime's and listeners' guards of one name are
    ANDed. A subclass whose guard allows every barge-in lifts neither the runtime's
    (``allow_interruptions=False``) nor a listener's."""
    chart: type[AgentChart] = examples("subclassed_chart").GreetingPlaysWhole

    class Always(chart):  # type: ignore[valid-type,misc]
        greeted = True

    class Never:
        def interruption_allowed(self) -> bool:
            return False

    async def barged_in(options: AgentOptions | None = None, listeners: tuple[object, ...] = ()) -> bool:
        provider, room = ScriptedRealtime(), LocalRoom()
        agent = RealtimeAgent(provider, chart=Always, options=options, listeners=listeners)
        await agent.start(room)
        await agent.wait_for_state("listening")
        provider.last_session.start_audio_response(pcm_tone(1000), done=False)
        await agent.wait_for_state("speaking")
        provider.last_session.emit(InputSpeechStarted())
        cut = agent.state == "listening"
        await agent.aclose()
        await room.aclose()
        return cut

    assert await barged_in()  # the subclass allows it, and so does everyone else
    assert not await barged_in(AgentOptions(allow_interruptions=False))
    assert not await barged_in(listeners=(Never(),))


async def test_the_example_test_file_passes_under_plain_pytest(tmp_path: Path) -> None:
    """A project with no pytest configuration (strict asyncio mode): only the plugin's
    marking makes its async tests run."""
    for path in EXAMPLES.glob("*.py"):
        shutil.copy(path, tmp_path)
    rc, out, err = await _run("-m", "pytest", "-q", "-p", "no:cacheprovider", "test_agent.py",
                              cwd=tmp_path, env=_clean_env())  # fmt: skip
    assert rc == 0, out + err
    assert "3 passed" in out
