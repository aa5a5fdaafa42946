"""A trace of a chart with parallel regions: each record names its region and the configuration.

The chart here is a small phone of its own (three regions), so these tests hold whatever
shape the agent chart has.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from statemachine import State, StateChart

from turnstile.machine import Trace, TraceAssertionError, TraceRecord
from turnstile.machine._trace import chart_shape


class Phone(StateChart):  # type: ignore[type-arg]
    allow_event_without_transition = True

    class active(State.Parallel):
        class call(State.Compound):  # the first region: the main one
            idle = State(initial=True)
            ringing = State()
            talking = State()
            dial = idle.to(ringing)
            answer = ringing.to(talking)
            hang_up = talking.to(idle) | ringing.to(idle)
            tick = talking.to(None)  # type: ignore[arg-type]

        class screen(State.Compound):
            dark = State(initial=True)
            lit = State()
            dial = dark.to(lit)
            # Eventless, on another region's state: the screen goes dark once the call ends.
            lit.to(dark, cond="In('idle')")

        class battery(State.Compound):
            class ok(State.Compound):
                full = State(initial=True)
                fine = State()
                use = full.to(fine)

            low = State()
            # Declared on the compound ``ok``: the record names the leaf it left.
            dial = ok.to(low)
            plug = low.to(ok)

    closed = State(final=True)
    broken = State(final=True)
    close = active.to(closed)
    reboot = active.to(active)
    ping = active.to(None)  # type: ignore[arg-type]
    # Declared in a region, it leaves every region: the record is the battery's.
    burn_out = active.battery.low.to(broken)


class Lamp(StateChart):  # type: ignore[type-arg]
    """No parallel state: one region, named ``turn`` as traces always named it."""

    off = State(initial=True)
    on = State()
    done = State(final=True)
    switch = off.to(on) | on.to(off)
    flicker = on.to.itself(internal=True)
    finish = on.to(done)


def run(chart: type[Any], *events: str) -> Trace:
    trace = Trace()
    machine = chart(listeners=[trace.listener()])
    for event in events:
        machine.send(event)
    return trace


CALL = ("use", "dial", "ping", "answer", "tick", "plug", "hang_up", "reboot", "close")


def rows(trace: Trace) -> list[tuple[str, str | None, str, str]]:
    return [(r.region, r.event, r.source, r.target) for r in trace.records]


def test_each_record_names_its_region_and_the_leaf_that_region_left_and_entered() -> None:
    trace = run(Phone, *CALL)
    assert rows(trace) == [
        ("battery", "use", "full", "fine"),
        # One event, one transition per region, one record each (document order).
        ("call", "dial", "idle", "ringing"),
        ("screen", "dial", "dark", "lit"),
        # Declared on the compound ``ok``, in the same step as the two above: the leaf
        # left is the one before that step, not the one the other records already show.
        ("battery", "dial", "fine", "low"),
        # Declared on the parallel state: the main region's record, its leaf unchanged.
        ("call", "ping", "ringing", "ringing"),
        ("call", "answer", "ringing", "talking"),
        ("call", "tick", "talking", "talking"),
        ("battery", "plug", "low", "full"),
        ("call", "hang_up", "talking", "idle"),
        ("screen", None, "lit", "dark"),  # the eventless one, guarded by In('idle')
        ("call", "reboot", "idle", "idle"),
        ("call", "close", "idle", "closed"),
    ]
    assert trace.regions == ["battery", "call", "screen"]


def test_each_record_carries_the_configuration_it_left_the_chart_in() -> None:
    trace = run(Phone, *CALL)
    assert trace.configurations == [
        ("idle", "dark", "fine"),
        ("ringing", "lit", "low"),
        ("ringing", "lit", "low"),
        ("ringing", "lit", "low"),
        ("ringing", "lit", "low"),
        ("talking", "lit", "low"),
        ("talking", "lit", "low"),
        ("talking", "lit", "full"),
        ("idle", "lit", "full"),
        ("idle", "dark", "full"),
        ("idle", "dark", "full"),
        ("closed",),
    ]


def test_views_and_assertions_look_at_the_main_region_unless_told() -> None:
    trace = run(Phone, *CALL)
    assert trace.main_region == "call"
    assert trace.path == ["idle", "ringing", "talking", "idle", "closed"]
    assert trace.events == ["dial", "ping", "answer", "tick", "hang_up", "reboot", "close"]
    assert trace.final_state == "closed"
    trace.assert_path("idle", "ringing", "talking", "idle", "closed")
    trace.assert_visits("ringing", "closed")

    trace.assert_path("dark", "lit", "dark", region="screen")
    trace.assert_visits("fine", "low", "full", region="battery")
    trace.assert_transitions([("dial", "dark", "lit"), (None, "lit", "dark")], region="screen")
    screen = trace.region("screen")
    assert screen.path == ["dark", "lit", "dark"]
    assert screen.events == ["dial", None]
    assert screen.final_state == "dark"
    assert screen.transitions == [("dial", "dark", "lit"), (None, "lit", "dark")]
    with pytest.raises(TraceAssertionError):
        trace.assert_path("dark", "lit", region="screen")


def test_a_first_record_from_a_compound_names_the_initial_leaf_it_left() -> None:
    # No record came before to say what the region held: it held its initial leaf.
    assert rows(run(Phone, "ping"))[0] == ("call", "ping", "idle", "idle")
    assert rows(run(Phone, "dial"))[2] == ("battery", "dial", "full", "low")


def test_a_region_leaving_the_parallel_state_names_where_the_chart_went() -> None:
    trace = run(Phone, "dial", "burn_out")
    assert rows(trace)[-1] == ("battery", "burn_out", "low", "broken")
    assert trace.configurations[-1] == ("broken",)


def test_a_state_of_another_region_fails_the_main_region_assertion_and_says_where_it_is() -> None:
    trace = run(Phone, *CALL)
    with pytest.raises(TraceAssertionError, match=r"lit is in region 'screen' \(pass region=") as failed:
        trace.assert_visits("ringing", "lit")
    assert "this is region 'call'" in str(failed.value)


def test_assert_never_looks_in_every_region_unless_one_is_named() -> None:
    trace = run(Phone, *CALL)
    # Not in the main region: a check confined to it would pass for want of looking.
    with pytest.raises(TraceAssertionError, match=r"dark -> lit happened 1 time.*region screen"):
        trace.assert_never("dark", "lit")
    trace.assert_never("dark", "lit", region="call")
    trace.assert_never("lit", "idle")


def test_an_unknown_region_is_an_error_naming_the_known_ones() -> None:
    trace = run(Phone, "dial")
    with pytest.raises(ValueError, match=r"no region 'tools' in this trace; known regions: call, screen, battery"):
        trace.assert_path("idle", region="tools")
    with pytest.raises(ValueError, match="known regions"):
        trace.region("tools")
    # A declared region no record names yet is known (once a record came), and empty.
    assert run(Phone, "use").region("screen").path == []


def test_jsonl_keeps_regions_and_configurations(tmp_path: Path) -> None:
    trace = run(Phone, *CALL)
    trace.write_jsonl(tmp_path / "trace.jsonl")
    loaded = Trace.read_jsonl(tmp_path / "trace.jsonl", main_region="call")
    assert list(loaded.records) == [r for r in trace.records]
    assert loaded.configurations == trace.configurations
    loaded.assert_path("dark", "lit", "dark", region="screen")
    assert loaded.path == trace.path


def test_a_jsonl_line_from_before_regions_loads_as_the_turn_region(tmp_path: Path) -> None:
    old = [
        {"t": 0.0, "event": "session_ready", "source": "initializing", "target": "listening", "data": {}},
        {"t": 0.5, "event": "response_started", "source": "listening", "target": "thinking", "data": {}},
    ]
    path = tmp_path / "old.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in old))
    trace = Trace.read_jsonl(path)
    assert [r.region for r in trace.records] == ["turn", "turn"]
    assert trace.configurations == [(), ()]
    assert trace.main_region == "turn" and trace.regions == ["turn"]
    trace.assert_path("initializing", "listening", "thinking")


def test_a_chart_without_parallel_states_is_one_region_named_turn() -> None:
    trace = run(Lamp, "switch", "flicker", "finish")
    assert rows(trace) == [
        ("turn", "switch", "off", "on"),
        ("turn", "flicker", "on", "on"),  # internal self-transitions are recorded too
        ("turn", "finish", "on", "done"),
    ]
    assert trace.configurations == [("on",), ("on",), ("done",)]
    trace.assert_path("off", "on", "done")
    assert trace.region("turn").path == trace.path


def test_a_loaded_trace_looks_at_turn_first_else_at_the_first_region_it_names() -> None:
    user = TraceRecord(t=0, event="speech", source="silent", target="talking", region="user")
    turn = TraceRecord(t=1, event="reply", source="listening", target="thinking", region="turn")
    assert Trace([user, turn]).main_region == "turn"
    assert Trace([user, turn]).path == ["listening", "thinking"]
    assert Trace([user]).main_region == "user"
    assert Trace([user, turn], main_region="user").path == ["silent", "talking"]


def test_records_made_by_hand_keep_their_old_shape() -> None:
    record = TraceRecord(t=0, event="session_ready", source="initializing", target="listening")
    assert (record.region, record.configuration) == ("turn", ())
    Trace([record]).assert_path("initializing", "listening")


def test_a_chart_class_is_read_once_for_all_its_machines() -> None:
    shape = chart_shape(Phone)
    assert chart_shape(Phone) is shape
    assert shape.regions == ("call", "screen", "battery")
    assert (shape.main, shape.region_of["active"], shape.region_of["closed"]) == ("call", "call", "call")
    assert (shape.region_of["fine"], shape.region_of["ok"]) == ("battery", "battery")
    # Two machines of the class share it: no walk of the chart per record or per machine.
    run(Phone, "dial")
    run(Phone, "dial")
    assert chart_shape(Phone) is shape
