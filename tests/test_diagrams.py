"""The chart's diagrams: every declared transition drawn once, traces laid over them, the
committed renders kept in step with the chart."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from statemachine import State, StateChart

from benchmarks._chart_v1 import AgentChartV1
from turnstile.diagrams import (
    chart_dot,
    chart_mermaid,
    chart_model,
    check_committed,
    render,
    write_committed,
)
from turnstile.machine import AgentChart, Trace, TraceRecord, chart_transitions

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's dot program is not installed (make setup)"
)

# AgentChart as it was before its regions (one compound, no parallel state): the
# single-region drawing is checked on it, whatever shape AgentChart has. The same frozen
# declaration the dispatch bench times the regions against.
Turns = AgentChartV1


COMMITTED = ("agent_chart.dot", "agent_chart.svg", "agent_chart.mmd")
LEAVES = ("initializing", "listening", "thinking", "speaking", "interrupted")


def edge_lines(dot: str, event: str) -> list[str]:
    """The DOT edge statements with a label line that starts with ``event`` (transitions
    sharing source, target and actions are one edge, a line per trigger)."""
    label = re.compile(rf'label="?(?:[^"]*?\\n)?{re.escape(event)}(?![\w.])')
    return [line for line in dot.splitlines() if " -> " in line and label.search(line)]


def attr(line: str, name: str) -> str | None:
    match = re.search(rf'\b{name}=("[^"]*"|[^ \]]+)', line)
    return match.group(1).strip('"') if match else None


def trace_of(*records: tuple[str | None, str, str]) -> Trace:
    return Trace(
        TraceRecord(t=float(i), event=event, source=source, target=target)
        for i, (event, source, target) in enumerate(records)
    )


# The committed renders ------------------------------------------------------------------


def test_committed_renders_match_the_chart() -> None:
    drifted = check_committed()
    assert drifted == [], f"{', '.join(drifted)} no longer match AgentChart: run `make diagrams`"


def test_output_is_deterministic_across_processes() -> None:
    # Another hash seed reorders anything drawn from a set; the committed .dot must not.
    code = "from turnstile.diagrams import chart_dot, chart_mermaid; print(chart_dot().source + chart_mermaid())"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout == chart_dot().source + chart_mermaid() + "\n"


@needs_dot
@pytest.mark.parametrize("name", COMMITTED)
def test_drift_is_detected(tmp_path: Path, name: str) -> None:
    written = write_committed(tmp_path)
    assert sorted(p.name for p in written) == sorted(COMMITTED)
    assert check_committed(tmp_path) == []
    path = tmp_path / name
    text = path.read_text(encoding="utf-8")
    if name.endswith(".svg"):
        # Only the hash is compared (layouts differ between Graphviz versions).
        digest = re.search(r"turnstile-chart-sha256: ([0-9a-f]{64})", text)
        assert digest is not None
        path.write_text(text.replace(digest.group(1), "0" * 64), encoding="utf-8")
    else:
        path.write_text(text.replace("session_ready", "session_started"), encoding="utf-8")
    assert check_committed(tmp_path) == [name]
    path.unlink()
    assert check_committed(tmp_path) == [name]


# The chart as declared ------------------------------------------------------------------


def test_every_declared_transition_is_drawn_in_dot() -> None:
    dot = chart_dot().source
    for t in chart_transitions(AgentChart):
        lines = edge_lines(dot, t.event or "(auto)")
        if t.declared_on != t.source:
            # Declared on the compound: one edge, from the cluster's border.
            assert any(attr(line, "ltail") == f"cluster_{t.declared_on}" for line in lines), t
        else:
            ends = [re.match(r"\s*(\w+)(?::\w)? -> (\w+)", line) for line in lines]
            assert any(m and m.groups() == (t.source, t.target) for m in ends), t


def test_transitions_declared_on_the_compound_are_drawn_once() -> None:
    dot = chart_dot(Turns).source
    for event in ("close", "session_lost"):
        [line] = edge_lines(dot, event)
        assert attr(line, "ltail") == "cluster_active"
    assert "subgraph cluster_active {" in dot
    for leaf in LEAVES:
        assert re.search(rf"^\t\t{leaf} \[", dot, re.M), f"{leaf} is not inside the cluster"
    assert re.search(r"^\tclosed \[.*shape=doublecircle", dot, re.M)
    assert re.search(r"^\t_initial -> initializing$", dot, re.M)
    # The targetless error transition is listed in the compound, not drawn as an edge.
    assert "error.execution / report_error (no target)" in dot
    assert not edge_lines(dot, "error.execution")


def test_internal_self_transitions_are_loops() -> None:
    dot = chart_dot(Turns).source
    for event, state in [("user_speech_stopped", "listening"), ("tool_calls", "speaking")]:
        loops = [line for line in edge_lines(dot, event) if re.search(rf"{state}(:\w)? -> {state}\b", line)]
        assert len(loops) == 1, (event, state)


def test_entry_and_exit_actions_are_drawn_inside_their_state() -> None:
    (thinking,) = [n for n in chart_model(Turns).nodes if n.id == "thinking"]
    assert (thinking.entry, thinking.exit) == (("expect_response",), ("stop_expecting_response",))
    node = [line for line in chart_dot(Turns).source.splitlines() if re.match(r"\s*thinking \[", line)]
    assert len(node) == 1 and "entry / expect_response" in node[0]
    assert "exit / stop_expecting_response" in node[0]
    mmd = chart_mermaid(Turns)
    note = mmd[mmd.index("note right of thinking") :]
    assert note.index("entry / expect_response") < note.index("end note")
    # Declared actions only: python-statemachine's naming conventions are not drawn.
    assert "on_enter" not in chart_dot(Turns).source and "on_enter" not in mmd


def test_every_declared_transition_is_in_mermaid() -> None:
    mmd = chart_mermaid()
    assert mmd.startswith("stateDiagram-v2\n")
    for t in chart_transitions(AgentChart):
        source = t.declared_on  # the compound's transitions are drawn from the compound
        trigger = re.escape(t.event or "(auto)")
        assert re.search(rf"^\s*{source} --> {t.target} : (?:.*, )?{trigger}(?![\w.])", mmd, re.M), t


def test_the_compound_and_its_edges_in_mermaid() -> None:
    lines = chart_mermaid(Turns).splitlines()
    assert "    state active {" in lines and "        [*] --> initializing" in lines
    assert "    [*] --> active" in lines and "    closed --> [*]" in lines
    # Edges leaving the compound sit outside its block, where Mermaid keeps `closed` outside.
    assert "    active --> closed : close / release" in lines


# A trace over the chart -----------------------------------------------------------------


SHORT_CALL = trace_of(
    ("session_ready", "initializing", "listening"),
    ("response_started", "listening", "thinking"),
    ("response_done", "thinking", "listening"),
    ("response_started", "listening", "thinking"),
    ("audio_started", "thinking", "speaking"),
    ("user_speech_started", "speaking", "interrupted"),
    (None, "interrupted", "listening"),
    ("close", "listening", "closed"),
)


def test_a_trace_marks_visited_edges_with_their_count() -> None:
    dot = chart_dot(Turns, SHORT_CALL).source
    [twice] = [line for line in edge_lines(dot, "response_started") if "listening -> thinking" in line]
    [once] = edge_lines(dot, "session_ready")
    assert "×2" in twice and "×1" in once
    assert float(attr(twice, "penwidth") or 0) > float(attr(once, "penwidth") or 0) > 1
    assert attr(twice, "style") is None
    [auto] = edge_lines(dot, "(auto)")
    assert "×1" in auto


def test_a_trace_counts_a_leaf_record_towards_the_compound_edge() -> None:
    # `close` is declared on `active`; the record names the leaf it left.
    [close] = edge_lines(chart_dot(Turns, SHORT_CALL).source, "close")
    assert "×1" in close and attr(close, "ltail") == "cluster_active"
    records = [("close", leaf, "closed") for leaf in LEAVES]
    [close] = edge_lines(chart_dot(Turns, trace_of(*records)).source, "close")
    assert "×5" in close


def test_a_trace_fades_unvisited_edges() -> None:
    dot = chart_dot(Turns, SHORT_CALL).source
    for event in ("session_lost", "playout_done", "tool_calls"):
        for line in edge_lines(dot, event):
            assert attr(line, "style") == "dashed" and attr(line, "color") == "grey70", line
            assert "×" not in line


def test_a_trace_marks_its_final_state() -> None:
    dot = chart_dot(Turns, SHORT_CALL).source
    [closed] = [line for line in dot.splitlines() if line.startswith("\tclosed [")]
    assert "filled" in (attr(closed, "style") or "") and attr(closed, "fillcolor")
    ends_speaking = chart_dot(Turns, Trace(list(SHORT_CALL.records)[:5])).source
    [speaking] = [line for line in ends_speaking.splitlines() if line.startswith("\t\tspeaking [")]
    assert "filled" in (attr(speaking, "style") or "")
    assert "filled" not in dot.split("\tclosed [")[0]  # no other state is marked


def test_a_trace_in_mermaid() -> None:
    mmd = chart_mermaid(Turns, SHORT_CALL)
    # One edge for the three transitions from listening to thinking with no action.
    assert re.search(r"listening --> thinking : user_turn_committed \[replies_to_turns\], "
                     r"reply_requested, response_started ×2$", mmd, re.M)
    assert "active --> closed : close / release ×1" in mmd
    assert "class closed traceEnd" in mmd


def test_transitions_sharing_source_target_and_actions_are_one_edge() -> None:
    dot = chart_dot(Turns).source
    bundle = [line for line in dot.splitlines() if re.match(r"\s*listening -> thinking \[", line)]
    # tool_calls runs tools: an edge of its own; the three without an action share one.
    assert len(bundle) == 2, bundle
    shared = next(line for line in bundle if "run_tools" not in line)
    assert r"user_turn_committed [replies_to_turns]\nreply_requested\nresponse_started" in shared


def test_every_declared_transition_counts_when_traced() -> None:
    transitions = chart_transitions(AgentChart)
    trace = trace_of(*((t.event, t.source, t.target) for t in transitions))
    counts = chart_model(AgentChart, trace).counts
    assert counts is not None
    assert sum(counts.values()) == len(transitions), "a declared transition matched no edge"


# Files -----------------------------------------------------------------------------------


def test_render_text_formats_need_no_dot_program(tmp_path: Path) -> None:
    assert render(tmp_path / "c.dot").read_text(encoding="utf-8") == chart_dot().source
    assert render(tmp_path / "c.mmd").read_text(encoding="utf-8") == chart_mermaid()
    forced = render(tmp_path / "c.txt", format="mermaid")
    assert forced.read_text(encoding="utf-8").startswith("stateDiagram-v2")
    with pytest.raises(ValueError, match="format"):
        render(tmp_path / "c.txt")


@needs_dot
def test_render_svg_and_png(tmp_path: Path) -> None:
    svg = render(tmp_path / "out" / "c.svg", trace=SHORT_CALL).read_bytes()
    assert svg.startswith(b"<?xml") and b"<svg" in svg
    assert svg.splitlines()[1].startswith(b"<!-- turnstile-chart-sha256: ")
    png = render(tmp_path / "c.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


# Other charts ---------------------------------------------------------------------------


def test_a_subclass_with_an_extra_state_renders_it() -> None:
    before = chart_transitions(AgentChart)

    # Only transitions *leaving* the new state: python-statemachine shares the inherited
    # State objects, so `AgentChart.active.to(paused)` here would add an edge to
    # AgentChart itself (see the subprocess test below). Nothing enters `paused`, hence
    # the relaxed reachability check.
    class Pausable(AgentChart):  # type: ignore[misc]
        validate_disconnected_states = False
        paused = State()
        resume = paused.to(AgentChart.active)

    dot = chart_dot(Pausable).source
    assert re.search(r"^\tpaused \[", dot, re.M)
    [resume] = edge_lines(dot, "resume")
    assert resume.lstrip().startswith("paused -> initializing") and attr(resume, "lhead") == "cluster_active"
    assert "paused --> active : resume" in chart_mermaid(Pausable)
    assert chart_transitions(AgentChart) == before
    assert "paused" not in chart_dot().source


def test_a_subclass_adding_transitions_to_inherited_states_renders_them() -> None:
    # Run apart: declaring `AgentChart.active.to(...)` in a subclass mutates AgentChart.
    code = textwrap.dedent(
        """
        from statemachine import State
        from turnstile.diagrams import chart_dot, chart_mermaid
        from tests.test_diagrams import Turns

        class OnHold(Turns):
            paused = State()
            hold = Turns.active.to(paused)
            resume = paused.to(Turns.active)
            mute = Turns.active.listening.to.itself(internal=True, cond="can_mute")

        print(chart_dot(OnHold).source)
        print(chart_mermaid(OnHold))
        """
    )
    root = Path(__file__).resolve().parent.parent  # where `tests` imports from
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    ).stdout
    [hold] = edge_lines(out, "hold")
    assert hold.lstrip().startswith("interrupted -> paused") and attr(hold, "ltail") == "cluster_active"
    assert edge_lines(out, "mute [can_mute]")
    assert "active --> paused : hold" in out and "paused --> active : resume" in out


class Door(StateChart[Any]):
    """Not an AgentChart: guards with ``unless``, callables, a nested compound."""

    class open(State.Compound):
        ajar = State(initial=True)

        class wide(State.Compound):
            still = State(initial=True)
            swinging = State()
            push = still.to(swinging)

        widen = ajar.to(wide)
        settle = wide.swinging.to(ajar)

    shut = State(final=True)
    slam = open.to(shut, unless="locked", on=lambda: None)


def test_any_chart_renders() -> None:
    dot = chart_dot(Door).source
    assert "subgraph cluster_wide {" in dot and "subgraph cluster_open {" in dot
    [slam] = edge_lines(dot, "slam")
    assert "slam [not locked]" in slam and "<lambda>" in slam
    [widen] = edge_lines(dot, "widen")
    assert widen.lstrip().startswith("ajar -> still") and attr(widen, "lhead") == "cluster_wide"
    mmd = chart_mermaid(Door)
    assert "        state wide {" in mmd and "            [*] --> still" in mmd
    assert "        ajar --> wide : widen" in mmd
    # Written in the block of `open`, the innermost holding both ends: at the top level
    # Mermaid would draw `ajar` outside `open`.
    assert "        swinging --> ajar : settle" in mmd.splitlines()
