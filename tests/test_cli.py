"""The ``turnstile`` command, as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from turnstile.adapters.cli import main
from turnstile.machine import Trace, TraceRecord


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


def test_committed_diagrams_match_and_the_console_script_runs() -> None:
    exe = Path(sys.executable).with_name("turnstile")
    result = subprocess.run([str(exe), "diagram", "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
