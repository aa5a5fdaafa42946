"""The ``turnstile`` command, as a user runs it."""

from __future__ import annotations

import argparse
from importlib import metadata
from pathlib import Path

import pytest

from turnstile.adapters.cli import main, parser
from turnstile.machine import Trace, TraceRecord

from ._cli_run import run_cli, stderr_lines


def test_diagram_to_stdout_in_mermaid(capsys) -> None:
    assert main(["diagram", "--format", "mermaid"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("stateDiagram-v2")
    assert "speaking --> interrupted" in out


def test_diagram_with_a_trace_to_a_file(tmp_path: Path) -> None:
    trace_path = tmp_path / "t.jsonl"
    Trace([TraceRecord(t=0, event="session_ready", source="initializing", target="listening")]
          ).write_jsonl(trace_path)
    out = tmp_path / "chart.dot"
    assert main(["diagram", "-o", str(out), "--trace", str(trace_path)]) == 0
    text = out.read_text()
    assert "×1" in text and "digraph" in text


def test_committed_diagrams_match_and_the_console_script_runs(tmp_path: Path) -> None:
    result = run_cli("diagram", "--check", cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_version(tmp_path: Path) -> None:
    result = run_cli("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"turnstile {metadata.version('turnstile-agents')}"


@pytest.mark.parametrize("command", ["", "diagram", "demo", "serve", "scenario", "run", "worker"])
def test_help_is_plain_text(command: str) -> None:
    # reST markup (``name``) reads as noise in a terminal.
    text = parser_help(command)
    assert "`" not in text
    assert "usage: turnstile" in text


def parser_help(command: str) -> str:
    top = parser()
    if not command:
        return top.format_help()
    [sub] = [a for a in top._actions if isinstance(a, argparse._SubParsersAction)]
    return str(sub.choices[command].format_help())


def test_demo_options_show_their_defaults() -> None:
    text = " ".join(parser_help("demo").split())
    for default in ("out/demo-trace.jsonl", "out/demo-chart.svg", "out/demo-conversation.wav", "(default: openai)",
                    "(default: the bundled demo)", "(default: the loopback server)"):  # fmt: skip
        assert default in text, default


def test_a_chart_from_the_users_own_folder(tmp_path: Path) -> None:
    # The console script's sys.path does not hold the current directory; --chart must.
    (tmp_path / "mychart.py").write_text(
        "from turnstile.machine import AgentChart\n\nclass MyChart(AgentChart):\n    pass\n"
    )
    result = run_cli("diagram", "--chart", "mychart:MyChart", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("digraph MyChart {")


def test_a_trace_of_states_the_chart_lacks_is_drawn_with_a_warning(tmp_path: Path) -> None:
    Trace([
        TraceRecord(t=0, event="session_ready", source="initializing", target="listening"),
        TraceRecord(t=1, event="dance", source="listening", target="dancing"),
    ]).write_jsonl(tmp_path / "t.jsonl")  # fmt: skip
    result = run_cli("diagram", "--trace", "t.jsonl", "-o", "chart.dot", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [warning] = stderr_lines(result)
    assert "warning: t.jsonl names states AgentChart does not declare (dancing)" in warning
    assert "×1" in (tmp_path / "chart.dot").read_text()  # the rest of the trace is drawn


def test_a_trace_of_the_chart_draws_without_a_warning(tmp_path: Path) -> None:
    Trace([TraceRecord(t=0, event="session_ready", source="initializing", target="listening")]
          ).write_jsonl(tmp_path / "t.jsonl")  # fmt: skip
    result = run_cli("diagram", "--trace", "t.jsonl", "--format", "mermaid", cwd=tmp_path)
    assert result.returncode == 0 and stderr_lines(result) == []
    assert result.stdout.startswith("stateDiagram-v2")
