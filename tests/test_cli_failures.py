"""Every way a user was seen to make ``turnstile`` fail: one line on stderr, a non-zero exit.

Each case runs the console script in a subprocess, in a temporary folder, as a user would;
no traceback, no pydantic links, no second line.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from turnstile.adapters._cli_errors import run_guarded

from ._cli_run import TURNSTILE, run_cli, stderr_lines, without_graphviz

TRACE_LINE = '{"t": 0.1, "event": "session_ready", "source": "initializing", "target": "listening"}'

INPUTS = {
    "bad.json": '{"steps": [{"role": "caller"}]}',  # a caller turn without its transcript
    "cut.json": '{"steps": [{"role": "caller", "transcr',
    "part.jsonl": TRACE_LINE + '\n{"t": 0.2, "event": "respo',
    "words.jsonl": "these are not trace records\n",
    "nowav.json": '{"steps": [{"role": "caller", "transcript": "Hi", "wav": "nope.wav"}]}',
}

# (id, arguments, what the line must say, extra environment)
CASES = [
    ("scenario-malformed", ["scenario", "bad.json"], "bad.json is not valid: steps.0.caller.transcript", {}),
    ("scenario-cut-off", ["scenario", "cut.json"], "cut.json is not valid: Invalid JSON", {}),
    ("scenario-missing", ["scenario", "nope.json"], "nope.json: no such file", {}),
    ("serve-malformed", ["serve", "--scenario", "bad.json"], "bad.json is not valid", {}),
    ("serve-missing", ["serve", "--scenario", "nope.json"], "nope.json: no such file", {}),
    ("demo-malformed", ["demo", "--scenario", "bad.json"], "bad.json is not valid", {}),
    ("demo-wav-missing", ["demo", "--scenario", "nowav.json"], "nowav.json: steps.0.wav: nope.wav: no such file", {}),
    ("trace-missing", ["diagram", "--trace", "nope.jsonl"], "nope.jsonl: no such file", {}),
    ("trace-partial", ["diagram", "--trace", "part.jsonl"], "part.jsonl, line 2: not a trace record", {}),
    ("trace-words", ["diagram", "--trace", "words.jsonl"], "words.jsonl, line 1: not a trace record", {}),
    ("trace-binary", ["diagram", "--trace", "binary.jsonl"], "binary.jsonl: not a text file", {}),
    ("trace-directory", ["diagram", "--trace", "."], ".: is a directory", {}),
    ("chart-no-class", ["diagram", "--chart", "turnstile.machine:Nope"], "turnstile.machine has no Nope", {}),
    ("chart-no-module", ["diagram", "--chart", "nosuchmodule:Chart"], "no module named 'nosuchmodule'", {}),
    ("chart-not-a-chart", ["diagram", "--chart", "json:JSONDecoder"], "not an AgentChart subclass", {}),
    ("chart-raises", ["diagram", "--chart", "broken:Chart"], "importing broken failed: ZeroDivisionError", {}),
    ("output-unknown-suffix", ["diagram", "-o", "x.txt"], "cannot tell the format of x.txt", {}),
    ("output-format-mismatch", ["diagram", "-o", "x.svg", "--format", "png"], "x.svg is named as svg", {}),
    ("format-needs-output", ["diagram", "--format", "png"], "--format png needs -o FILE", {}),
    ("serve-port-in-use", ["serve", "--port", "{busy_port}"], "cannot listen on 127.0.0.1:", {}),
    ("serve-port-range", ["serve", "--port", "99999"], "99999 is not a port", {}),
    ("unknown-command", ["nope"], "invalid choice: 'nope'", {}),
    ("unknown-option", ["demo", "--nope"], "unrecognized arguments: --nope", {}),
    ("demo-remote-needs-a-key", ["demo", "--url", "wss://realtime.example.invalid/v1/realtime"],
     "needs an API key in OPENAI_API_KEY", {"OPENAI_API_KEY": ""}),
    ("demo-dead-port", ["demo", "--url", "ws://127.0.0.1:{dead_port}/v1/realtime"],
     "could not start a session with ws://127.0.0.1:", {"OPENAI_API_KEY": "sk-test"}),
]  # fmt: skip


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture
def dead_port() -> int:
    with socket.socket() as sock:  # bound, then closed: nothing listens there
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name, text in INPUTS.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "binary.jsonl").write_bytes(bytes(range(128, 256)) * 4)
    (tmp_path / "broken.py").write_text("1 / 0\n")
    return tmp_path


@pytest.mark.parametrize(("args", "says", "env"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_failure_is_one_line_and_a_non_zero_exit(
    args: list[str], says: str, env: dict[str, str], folder: Path, busy_port: int, dead_port: int
) -> None:
    argv = [a.format(busy_port=busy_port, dead_port=dead_port) for a in args]
    result = run_cli(*argv, cwd=folder, env={**os.environ, **env}, timeout=60)
    lines = stderr_lines(result)
    assert result.returncode != 0
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("turnstile") and says in lines[0], lines[0]
    assert "errors.pydantic.dev" not in lines[0]
    assert "Unclosed" not in result.stdout + result.stderr  # the dead port's aiohttp session
    assert not (folder / "x.svg").exists()  # refused, not written with the wrong bytes


def test_svg_without_graphviz_says_what_it_could_not_draw_and_how_to_get_it(tmp_path: Path) -> None:
    result = run_cli("diagram", "-o", "x.svg", cwd=tmp_path, env=without_graphviz(tmp_path))
    [line] = stderr_lines(result)
    assert result.returncode != 0
    assert "cannot draw x.svg" in line
    assert "apt install graphviz / brew install graphviz" in line and "turnstile-agents[render]" in line
    assert not (tmp_path / "x.svg").exists()


def test_text_formats_need_no_graphviz(tmp_path: Path) -> None:
    for name in ("x.dot", "x.mmd"):
        result = run_cli("diagram", "-o", name, cwd=tmp_path, env=without_graphviz(tmp_path))
        assert result.returncode == 0, result.stderr
        assert (tmp_path / name).read_text().strip()


def test_a_closed_pipe_is_silent(tmp_path: Path) -> None:
    # `turnstile scenario --schema | head`: the reader is gone before the schema is written.
    proc = subprocess.Popen([str(TURNSTILE), "scenario", "--schema"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    assert proc.wait(timeout=60) != 0
    assert proc.stderr.read() == b""


def test_an_unexpected_error_is_one_line_too(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TURNSTILE_DEBUG", raising=False)

    def command() -> int:
        raise TypeError("a bug\nover two lines")

    assert run_guarded("turnstile demo", command) == 1
    [line] = stderr_lines(capsys.readouterr().err)
    assert line == "turnstile demo: TypeError: a bug over two lines (TURNSTILE_DEBUG=1 shows the traceback)"
    monkeypatch.setenv("TURNSTILE_DEBUG", "1")
    with pytest.raises(TypeError):
        run_guarded("turnstile demo", command)
