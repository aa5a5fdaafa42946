"""Charts with parallel regions, drawn as UML draws them: in DOT a dashed box per region
inside the parallel state's box, in Mermaid concurrent regions split by ``--``; traces and
the README's transition table over the same edges."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from statemachine import State, StateChart

from turnstile.diagrams import chart_dot, chart_mermaid, chart_model, render, transition_table
from turnstile.machine import Trace

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's dot program is not installed (make setup)"
)


class Phone(StateChart[Any]):
    """Three regions; transitions declared on the parallel state itself; eventless ones
    guarded by In(...)."""

    allow_event_without_transition = True

    class active(State.Parallel):
        class turn(State.Compound):
            idle = State(initial=True)
            busy = State(enter="start")
            waiting = State()

            go = idle.to(busy, cond="In('quiet') and ready") | idle.to(waiting)
            done = busy.to(idle)
            stop = busy.to(idle)
            tick = busy.to.itself(internal=True, on="count")
            waiting.to(idle, cond="In('away')")

        class user(State.Compound):
            quiet = State(initial=True)
            talking = State()
            away = State()

            speak = quiet.to(talking) | away.to(talking)
            hush = talking.to(quiet, on="note")
            leave = quiet.to(away)
            talking.to(quiet, cond="In('busy')")

        class tools(State.Compound):
            none = State(initial=True)
            running = State()
            owed = State()

            call = none.to(running, on="run")
            result = running.to(owed)
            owed.to(none, cond="In('idle')", on="ask")

        # Declared on a region: the turn starts over, the other regions keep their state.
        restart = turn.to(turn.idle, on="rewind")

    closed = State(final=True)
    close = active.to(closed, on="release")
    reset = active.to(active, on="reconnect")
    oops = active.to(None, on="report")  # type: ignore[arg-type]


REGIONS = {
    "turn": ("idle", "busy", "waiting"),
    "user": ("quiet", "talking", "away"),
    "tools": ("none", "running", "owed"),
}

# (source, target, label) of every edge, merged ones included: what both formats must show.
EDGES = [
    ("idle", "busy", "go [In('quiet') and ready]"),
    ("idle", "waiting", "go"),
    ("busy", "idle", r"done\nstop"),
    ("busy", "busy", r"tick\n/ count"),
    ("waiting", "idle", "(auto) [In('away')]"),
    ("quiet", "talking", "speak"),
    ("away", "talking", "speak"),
    ("talking", "quiet", r"hush\n/ note"),
    ("talking", "quiet", "(auto) [In('busy')]"),
    ("quiet", "away", "leave"),
    ("none", "running", r"call\n/ run"),
    ("running", "owed", "result"),
    ("owed", "none", r"(auto) [In('idle')]\n/ ask"),
]


@dataclass(frozen=True)
class Record:
    """A trace record as the trace of a chart with regions writes it (region and
    configuration included), independent of the fields TraceRecord has today."""

    event: str | None
    source: str
    target: str
    region: str | None = None
    configuration: tuple[str, ...] = ()
    t: float = 0.0


def trace_of(*records: Record) -> Trace:
    return Trace(records)  # type: ignore[arg-type]  # only the fields the overlay reads


def clusters(dot: str) -> dict[str, str]:
    """cluster name -> its body (nested clusters included), from the DOT text."""
    out: dict[str, str] = {}
    for match in re.finditer(r"^(\t+)subgraph (cluster_\w+) \{$", dot, re.M):
        end = re.compile(rf"^{match.group(1)}\}}$", re.M).search(dot, match.end())
        assert end is not None
        out[match.group(2)] = dot[match.end() : end.start()]
    return out


def edge_statement(dot: str, source: str, target: str, label: str) -> str | None:
    for line in dot.splitlines():
        if re.match(rf"\s*{source} -> {target} \[", line) and f'label="{label}"' in line.replace(
            f"label={label} ", f'label="{label}" '
        ).replace(f"label={label}]", f'label="{label}"]'):
            return line
    return None


# DOT --------------------------------------------------------------------------------------


def test_each_region_is_a_dashed_cluster_inside_the_parallel_state() -> None:
    dot = chart_dot(Phone).source
    found = clusters(dot)
    assert set(found) == {"cluster_active", *(f"cluster_{r}" for r in REGIONS)}
    assert "style=rounded" in found["cluster_active"].split("subgraph")[0]
    for region, leaves in REGIONS.items():
        body = found[f"cluster_{region}"]
        assert f"subgraph cluster_{region} {{" in found["cluster_active"]
        head = body.splitlines()[1]
        assert "style=dashed" in head and f"<b>{region}</b>" in head, head
        for leaf in leaves:
            assert re.search(rf"^\t\t\t{leaf} \[", body, re.M), (region, leaf)
        # Its own initial pseudostate, pointing at its own initial state.
        assert re.search(rf"^\t\t\t_initial_{region} \[.*shape=point", body, re.M)
        assert re.search(rf"^\t\t\t_initial_{region} -> {leaves[0]}$", body, re.M)
    # The chart's initial arrow enters the parallel state at its border.
    assert re.search(r"^\t_initial -> idle \[lhead=cluster_active\]$", dot, re.M)
    # The regions are declared in document order (dot keeps that order top to bottom).
    order = [m.group(1) for m in re.finditer(r"subgraph cluster_(\w+) \{", dot)]
    assert order == ["active", *REGIONS]


def test_every_transition_of_every_region_is_an_edge() -> None:
    dot = chart_dot(Phone).source
    for source, target, label in EDGES:
        assert edge_statement(dot, source, target, label), (source, target, label)
    edges = [line for line in dot.splitlines() if " -> " in line and not line.lstrip().startswith("_initial")]
    # The 13 edges, close, and reset and restart (each out to a junction and back in).
    assert len(edges) == len(EDGES) + 5, edges


def test_transitions_declared_on_the_parallel_state_leave_its_border() -> None:
    dot = chart_dot(Phone).source
    [close] = [line for line in dot.splitlines() if "close" in line and " -> closed" in line]
    # An edge clipped at a cluster carries its label as an xlabel, placed after the clip.
    assert "ltail=cluster_active" in close and 'xlabel="close\\n/ release"' in close
    assert " label=" not in close
    # It leaves from the first region (the main one), where the edges into active arrive.
    assert close.lstrip().startswith("waiting -> closed")
    # active -> active: out to a junction and back in at the border.
    [out] = [line for line in dot.splitlines() if "reset" in line]
    assert re.match(r"\s*waiting -> _via_\d+ \[", out) and "ltail=cluster_active" in out
    via = re.search(r"(_via_\d+)", out)
    assert via is not None and re.search(rf"^\t{via.group(1)} -> idle \[lhead=cluster_active\]$", dot, re.M)
    # turn -> idle, declared on the region: its junction stays inside the parallel state.
    [out] = [line for line in dot.splitlines() if "restart" in line]
    assert re.match(r"\s*waiting -> _via_\d+ \[", out) and "ltail=cluster_turn" in out
    via = re.search(r"(_via_\d+)", out)
    assert via is not None and re.search(rf"^\t\t{via.group(1)} \[", clusters(dot)["cluster_active"], re.M)
    # The targetless transition is listed inside the parallel state.
    assert "oops / report (no target)" in clusters(dot)["cluster_active"].splitlines()[1]


def test_a_subclass_of_a_chart_with_regions_draws() -> None:
    class Pausable(Phone):
        validate_disconnected_states = False
        paused = State()
        resume = paused.to(Phone.active)

    dot = chart_dot(Pausable).source
    assert re.search(r"^\tpaused -> idle \[lhead=cluster_active xlabel=resume\]$", dot, re.M)
    assert set(clusters(dot)) == {"cluster_active", *(f"cluster_{r}" for r in REGIONS)}
    assert "paused --> active : resume" in chart_mermaid(Pausable)


# Mermaid ---------------------------------------------------------------------------------


def mermaid_tree(text: str) -> dict[str, Any]:
    """Blocks of a stateDiagram: {"lines": [...], "sections": [[child blocks/lines]...]}:
    enough of Mermaid's grammar to say what lies in which region."""
    root: dict[str, Any] = {"name": None, "sections": [[]]}
    stack = [root]
    for raw in text.splitlines()[1:]:
        line = raw.strip()
        if opened := re.fullmatch(r"state (\w+) \{", line):
            block = {"name": opened.group(1), "sections": [[]]}
            stack[-1]["sections"][-1].append(block)
            stack.append(block)
        elif line == "}":
            stack.pop()
        elif line == "--":
            stack[-1]["sections"].append([])
        else:
            stack[-1]["sections"][-1].append(line)
    assert stack == [root], "unbalanced braces"
    return root


def block(tree: dict[str, Any], name: str) -> dict[str, Any]:
    for section in tree["sections"]:
        for item in section:
            if isinstance(item, dict):
                if item["name"] == name:
                    return item
                try:
                    return block(item, name)
                except KeyError:
                    pass
    raise KeyError(name)


def test_mermaid_regions_are_concurrent_sections() -> None:
    tree = mermaid_tree(chart_mermaid(Phone))
    active = block(tree, "active")
    # One section per region, split by `--`, each holding just that region's block.
    assert [[item["name"] for item in section] for section in active["sections"]] == [[r] for r in REGIONS]
    for region, leaves in REGIONS.items():
        [lines] = block(tree, region)["sections"]
        assert lines[: len(leaves)] == list(leaves)
        assert f"[*] --> {leaves[0]}" in lines  # each region enters its own initial state
    top = tree["sections"][0]
    assert "[*] --> active" in top and "active --> closed : close / release" in top
    # Top level: the only place a mention does not pull a state out of its region.
    assert "active --> active : reset / reconnect" in top
    assert "turn --> idle : restart / rewind" in top
    assert "oops / report (no target)" in top


def test_mermaid_has_every_edge_in_its_region() -> None:
    tree = mermaid_tree(chart_mermaid(Phone))
    for source, target, label in EDGES:
        [region] = [r for r, leaves in REGIONS.items() if source in leaves]
        [lines] = block(tree, region)["sections"]
        merged = label.replace(r"\n", " ").replace("done stop", "done, stop")
        assert f"{source} --> {target} : {merged}" in lines, (source, target, merged)


# Rendering -------------------------------------------------------------------------------


@needs_dot
def test_the_svg_draws_every_region_dashed(tmp_path: Path) -> None:
    svg = render(tmp_path / "phone.svg", chart=Phone).read_text(encoding="utf-8")
    for region in REGIONS:
        group = re.search(rf"<title>cluster_{region}</title>\s*<(?:path|polygon) ([^>]*)>", svg)
        assert group is not None and "stroke-dasharray" in group.group(1), region
    for leaves in REGIONS.values():
        for leaf in leaves:
            assert f"<title>{leaf}</title>" in svg
    assert "In(&#39;quiet&#39;) and ready" in svg or "In('quiet') and ready" in svg


@needs_dot
def test_regions_stack_top_to_bottom_in_declaration_order() -> None:
    plain = subprocess.run(
        ["dot", "-Tplain"], input=chart_dot(Phone).source, capture_output=True, text=True, check=True
    ).stdout
    y = {m.group(1): float(m.group(2)) for m in re.finditer(r"^node (\w+) \S+ (\S+)", plain, re.M)}
    # -Tplain's y grows upwards.
    assert y["idle"] > y["quiet"] > y["none"], y


# Traces ----------------------------------------------------------------------------------


def counts_by_label(trace: Trace) -> dict[str, int]:
    model = chart_model(Phone, trace)
    counts: dict[str, int] = {}
    for edge in model.edges:  # two edges are `speak`: quiet -> talking, away -> talking
        counts[edge.label] = counts.get(edge.label, 0) + (model.count(edge) or 0)
    return counts


def test_a_trace_counts_each_regions_transitions() -> None:
    trace = trace_of(
        Record("call", "none", "running", "tools"),
        Record("go", "idle", "busy", "turn"),
        Record("speak", "quiet", "talking", "user"),
        Record(None, "talking", "quiet", "user"),  # eventless, In('busy')
        Record("result", "running", "owed", "tools"),
        Record("done", "busy", "idle", "turn"),
        Record(None, "owed", "none", "tools"),
        Record("speak", "quiet", "talking", "user"),
    )
    counts = counts_by_label(trace)
    assert counts["speak"] == 2 and counts["call / run"] == 1 and counts["result"] == 1
    assert counts["(auto) [In('busy')]"] == 1 and counts["(auto) [In('idle')] / ask"] == 1
    assert counts["go [In('quiet') and ready]"] == 1 and counts["done, stop"] == 1
    assert counts["hush / note"] == 0 and counts["close / release"] == 0
    dot = chart_dot(Phone, trace).source
    assert "×2" in (edge_statement(dot, "quiet", "talking", r"speak\n×2") or "")


def test_a_transition_of_the_parallel_state_counts_once_however_it_is_recorded() -> None:
    # Once, in the main region (as the trace records it), or once per region.
    once = trace_of(Record("close", "busy", "closed", "turn"))
    per_region = trace_of(
        Record("close", "busy", "closed", "turn"),
        Record("close", "talking", "closed", "user"),
        Record("close", "owed", "closed", "tools"),
    )
    no_region = trace_of(Record("close", "talking", "closed"))  # a trace from before regions
    for trace in (once, per_region, no_region):
        assert counts_by_label(trace)["close / release"] == 1
    reset = trace_of(Record("reset", "busy", "idle", "turn"), Record("reset", "talking", "quiet", "user"))
    assert counts_by_label(reset)["reset / reconnect"] == 1
    # Re-entering the parallel state enters every region: a record may name any of them.
    unnamed = trace_of(Record("reset", "talking", "quiet"))
    assert counts_by_label(unnamed)["reset / reconnect"] == 1


def test_every_declared_transition_counts_when_traced() -> None:
    model = chart_model(Phone)
    records = [
        Record(
            event,
            source,
            target,
            region=next((r for r, leaves in REGIONS.items() if source in leaves), None),
        )
        for source, target, label in EDGES
        for event in [None if label.startswith("(auto)") else re.split(r"[ \\\[]", label)[0]]
    ]
    records += [
        Record("stop", "busy", "idle", "turn"),
        Record("restart", "waiting", "idle", "turn"),
        Record("close", "idle", "closed", "turn"),
        Record("oops", "busy", "busy", "turn"),  # targetless: the leaf stays
    ]
    traced = chart_model(Phone, trace_of(*records))
    assert traced.counts is not None
    assert sum(traced.counts.values()) == len(records)
    assert [e.label for e in model.edges if not traced.count(e)] == ["reset / reconnect"]


def test_a_trace_marks_the_configuration_it_ended_in() -> None:
    recorded = trace_of(
        Record("speak", "quiet", "talking", "user", ("busy", "talking", "none")),
    )
    derived = trace_of(  # no configuration in the records: each region's last leaf
        Record("go", "idle", "busy", "turn"),
        Record("call", "none", "running", "tools"),
        Record("speak", "quiet", "talking", "user"),
        Record("result", "running", "owed", "tools"),
    )
    for trace, expected in [(recorded, ("busy", "talking", "none")), (derived, ("busy", "talking", "owed"))]:
        assert chart_model(Phone, trace).final_states == expected
        dot = chart_dot(Phone, trace).source
        marked = re.findall(r"^\t+(\w+) \[.*fillcolor", dot, re.M)
        assert tuple(marked) == expected
        assert f"class {','.join(expected)} traceEnd" in chart_mermaid(Phone, trace)
    closed = trace_of(Record("go", "idle", "busy", "turn"), Record("close", "busy", "closed", "turn"))
    assert chart_model(Phone, closed).final_states == ("closed",)


# The README's table ----------------------------------------------------------------------


def test_transition_table_has_a_row_per_edge() -> None:
    table = transition_table(Phone)
    lines = table.splitlines()
    assert lines[0] == "| region | source | event | guard | target | action |"
    assert lines[1] == "|---|---|---|---|---|---|"
    rows = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines[2:]]
    assert all(len(row) == 6 for row in rows), rows
    assert len(rows) == len(chart_model(Phone).edges)
    assert ["—", "`active`", "`close`", "", "`closed`", "`release`"] in rows
    assert ["—", "`active`", "`oops`", "", "(no target)", "`report`"] in rows
    assert ["`turn`", "`busy`", "`done`, `stop`", "", "`idle`", ""] in rows
    assert ["`turn`", "`busy`", "`tick`", "", "`busy` (internal)", "`count`"] in rows
    assert ["`tools`", "`owed`", "`(auto)`", "`In('idle')`", "`none`", "`ask`"] in rows
    assert ["`user`", "`quiet`", "`speak`", "", "`talking`", ""] in rows


def test_transition_table_names_each_guard_of_a_merged_row() -> None:
    class Merged(StateChart[Any]):
        a = State(initial=True)
        b = State(final=True)
        go = a.to(b, cond="ready")
        push = a.to(b)
        pull = a.to(b, cond="In('a') or x")

    [row] = transition_table(Merged).splitlines()[2:]
    assert row == "| — | `a` | `go`, `push`, `pull` | `ready` (go); `In('a') or x` (pull) | `b` | |"


class Crossing(StateChart[Any]):
    """Edges Mermaid cannot write in a nested block without moving a state out of its own."""

    validate_disconnected_states = False

    class split(State.Parallel):
        class left(State.Compound):
            a = State(initial=True)
            b = State()
            go = a.to(b)

        class right(State.Compound):
            c = State(initial=True)
            d = State()

        jump = left.a.to(right.d)  # from one region into another

    class outer(State.Compound):
        class inner(State.Compound):
            e = State(initial=True)
            f = State()

        back = inner.to(inner.f)  # from a compound into its own child

    hop = split.to(outer)


def test_mermaid_writes_edges_that_would_move_a_state_at_the_top_level() -> None:
    tree = mermaid_tree(chart_mermaid(Crossing))
    top = tree["sections"][0]
    assert "a --> d : jump" in top and "inner --> f : back" in top
    # Each state is still mentioned only in its own block, so Mermaid leaves it there.
    assert block(tree, "right")["sections"] == [["c", "d", "[*] --> c"]]
    assert block(tree, "inner")["sections"] == [["e", "f", "[*] --> e"]]
    assert "a --> b : go" in block(tree, "left")["sections"][0]


class PhoneActions:
    """Phone's guards and actions, so the chart runs (the drawing needs none of them)."""

    ready = True

    def start(self) -> None: ...

    def count(self) -> None: ...

    def note(self) -> None: ...

    def run(self) -> None: ...

    def ask(self) -> None: ...

    def release(self) -> None: ...

    def reconnect(self) -> None: ...

    def report(self) -> None: ...

    def rewind(self) -> None: ...


def test_a_trace_recorded_by_the_chart_counts_every_record() -> None:
    trace = Trace()
    phone = Phone(PhoneActions(), listeners=[trace.listener()])
    for event in ("call", "go", "tick", "speak", "result", "done", "reset", "restart", "close"):
        phone.send(event)
    model = chart_model(Phone, trace)
    assert model.counts is not None
    by_label = counts_by_label(trace)
    assert by_label["go [In('quiet') and ready]"] == 1 and by_label["go"] == 0
    assert by_label["tick / count"] == 1 and by_label["done, stop"] == 1
    # Owed while busy; the turn's `done` made In('idle') true and the eventless edge fired.
    assert by_label["(auto) [In('idle')] / ask"] == 1
    assert by_label["reset / reconnect"] == 1 and by_label["restart / rewind"] == 1
    assert by_label["close / release"] == 1
    # Every record the listener wrote is a transition the drawing shows, once per firing.
    assert sum(model.counts.values()) == len(trace.records), list(trace.records)
    assert model.final_states == ("closed",)
