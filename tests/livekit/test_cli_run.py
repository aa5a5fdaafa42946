"""``turnstile run`` and ``turnstile worker``: one-line errors, and the token's grants."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import jwt
import pytest

from turnstile.adapters.cli import main
from turnstile.adapters.livekit import (
    LiveKitSettings,
    SettingsError,
    agent_token,
    worker_entrypoint,
)
from turnstile.adapters.livekit._room import PARTICIPANT_ENV, PROVIDER_ENV, WORKER_PRELOAD

SETTINGS = {
    "LIVEKIT_URL": "wss://example.livekit.cloud", "LIVEKIT_API_KEY": "APIkey", "LIVEKIT_API_SECRET": "s3cret" * 6,
}  # fmt: skip


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in [*SETTINGS, "OPENAI_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY", PROVIDER_ENV, PARTICIPANT_ENV]:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    return err


def test_missing_settings_are_named(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--room", "lobby"]) == 2
    err = one_line_error(capsys)
    assert err.startswith("turnstile run: LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET not set")
    env.setenv("LIVEKIT_URL", SETTINGS["LIVEKIT_URL"])
    env.setenv("LIVEKIT_API_KEY", SETTINGS["LIVEKIT_API_KEY"])
    assert main(["run", "--room", "lobby"]) == 2
    assert one_line_error(capsys).startswith("turnstile run: LIVEKIT_API_SECRET not set")


def test_a_url_that_is_not_a_livekit_url(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in SETTINGS.items():
        env.setenv(name, value)
    env.setenv("LIVEKIT_URL", "localhost:7880")
    assert main(["run", "--room", "lobby"]) == 2
    assert "LIVEKIT_URL='localhost:7880' is not a LiveKit URL" in one_line_error(capsys)


@pytest.mark.parametrize(("provider", "key"), [("openai", "OPENAI_API_KEY"), ("gemini", "GOOGLE_API_KEY")])
def test_a_provider_without_its_key(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], provider: str, key: str
) -> None:
    for name, value in SETTINGS.items():
        env.setenv(name, value)
    assert main(["run", "--provider", provider, "--room", "lobby"]) == 2
    assert key in one_line_error(capsys)


def test_a_server_that_does_not_answer(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for name, value in SETTINGS.items():
        env.setenv(name, value)
    env.setenv("LIVEKIT_URL", f"ws://127.0.0.1:{port}")
    env.setenv("OPENAI_API_KEY", "sk-test")
    assert main(["run", "--room", "lobby"]) == 1
    assert f"turnstile run: could not join room 'lobby' at ws://127.0.0.1:{port}" in one_line_error(capsys)


def test_the_console_script_prints_no_traceback(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("turnstile")
    result = subprocess.run([str(exe), "run", "--room", "lobby"], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, timeout=60, check=False)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "LIVEKIT_URL" in result.stderr


def test_https_urls_become_wss() -> None:
    env = {**SETTINGS, "LIVEKIT_URL": "https://example.livekit.cloud"}
    assert LiveKitSettings.from_env(env).url == "wss://example.livekit.cloud"


def test_the_token_grants_only_what_the_agent_needs() -> None:
    settings = LiveKitSettings.from_env(SETTINGS)
    token = agent_token(settings, room="lobby", identity="turnstile-agent-1")
    claims = jwt.decode(token, SETTINGS["LIVEKIT_API_SECRET"], algorithms=["HS256"])
    assert claims["iss"] == "APIkey" and claims["sub"] == "turnstile-agent-1"
    assert claims["kind"] == "agent" and claims["exp"] > claims["nbf"]
    assert claims["video"] == {
        "roomJoin": True,
        "room": "lobby",
        "canPublish": True,
        "canSubscribe": True,
        "canPublishData": True,
        "canPublishSources": ["microphone"],
        "canUpdateOwnMetadata": True,  # lk.agent.state is an attribute of the agent's own
    }
    with pytest.raises(SettingsError):
        agent_token(settings, room=" ", identity="x")


def test_worker_without_livekit_agents(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    env.setitem(sys.modules, "livekit.agents", None)  # as if it were not installed
    assert main(["worker", "start"]) == 2
    assert "pip install 'turnstile-agents[worker]'" in one_line_error(capsys)


def test_worker_hands_the_agent_to_livekit_agents(env: pytest.MonkeyPatch) -> None:
    """The glue, against a minimal livekit.agents (the real one is not installed here)."""
    ran: dict[str, Any] = {}

    class AgentServer:
        def __init__(self, **options: Any) -> None:
            ran.update(options=options)

        def rtc_session(self, func: Any, *, agent_name: str = "") -> Any:
            ran.update(entrypoint=func, agent_name=agent_name)
            return func

    def run_app(server: Any) -> None:
        ran.update(server=server, argv=list(sys.argv))

    fake = types.ModuleType("livekit.agents")
    fake.AgentServer = AgentServer  # type: ignore[attr-defined]
    fake.cli = types.SimpleNamespace(run_app=run_app)  # type: ignore[attr-defined]
    env.setitem(sys.modules, "livekit.agents", fake)
    env.setattr(sys, "argv", list(sys.argv))
    env.setenv("GOOGLE_API_KEY", "g-test")
    argv = ["worker", "--provider", "gemini", "--participant", "alice", "--agent-name", "tutor", "dev",
            "--log-level", "debug"]  # fmt: skip
    assert main(argv) == 0
    assert ran["entrypoint"] is worker_entrypoint and ran["agent_name"] == "tutor"
    # Turnstile's modules are loaded once in the forkserver, shared by every job process.
    assert ran["options"] == {"preload_modules": WORKER_PRELOAD}
    assert ran["argv"] == ["turnstile worker", "dev", "--log-level", "debug"]
    assert os.environ[PROVIDER_ENV] == "gemini" and os.environ[PARTICIPANT_ENV] == "alice"


def test_worker_can_run_every_call_as_a_thread_of_one_process(env: pytest.MonkeyPatch) -> None:
    made: dict[str, Any] = {}

    class AgentServer:
        def __init__(self, **options: Any) -> None:
            made.update(options)

        def rtc_session(self, func: Any, *, agent_name: str = "") -> Any:
            return func

    fake = types.ModuleType("livekit.agents")
    fake.AgentServer = AgentServer  # type: ignore[attr-defined]
    fake.JobExecutorType = types.SimpleNamespace(THREAD="thread-executor")  # type: ignore[attr-defined]
    fake.cli = types.SimpleNamespace(run_app=lambda server: None)  # type: ignore[attr-defined]
    env.setitem(sys.modules, "livekit.agents", fake)
    env.setattr(sys, "argv", list(sys.argv))
    env.setenv("OPENAI_API_KEY", "sk-test")
    assert main(["worker", "--executor", "thread", "start"]) == 0
    assert made == {"preload_modules": WORKER_PRELOAD, "job_executor_type": "thread-executor"}
