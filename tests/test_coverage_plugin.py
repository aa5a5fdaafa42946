"""``pytest --turnstile-coverage``: the declared transitions a test run never took.

Each run is a pytest subprocess (pytester) in a project of its own, with a small chart of
two regions whose transitions the project's tests take in part.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from statemachine import State, StateChart

from turnstile.machine import Trace
from turnstile.machine._coverage import CoverageCollector

from ._cli_run import shadow_module

pytest_plugins = ["pytester"]

CHART = '''
from statemachine import State, StateChart
from turnstile.machine import Trace


class Door(StateChart):
    class active(State.Parallel):
        class door(State.Compound):
            shut = State(initial=True)
            ajar = State()
            push = shut.to(ajar, cond="unlocked") | shut.to.itself()
            pull = ajar.to(shut)
            kick = shut.to(ajar)

        class light(State.Compound):
            off = State(initial=True)
            on = State()
            push = off.to(on)
            flick = on.to(off)

    gone = State(final=True)
    leave = active.to(gone)

    def __init__(self, unlocked: bool, **kw):
        self.is_unlocked = unlocked
        super().__init__(**kw)

    def unlocked(self):
        return self.is_unlocked


def walk(*events, unlocked=True):
    trace = Trace()
    door = Door(unlocked, listeners=[trace.listener()])
    for event in events:
        door.send(event)
    return trace
'''

TESTS = '''
from chart import walk


def test_push_and_pull():
    walk("push", "pull").assert_path("shut", "ajar", "shut")


def test_locked():
    walk("push", unlocked=False).assert_path("shut")
'''


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(chart=CHART, test_door=TESTS)
    return pytester


def run(project: pytest.Pytester, *args: str) -> tuple[int, str]:
    result = project.runpytest_subprocess(*args, "-p", "no:cacheprovider")
    return result.ret, result.stdout.str() + result.stderr.str()


def test_the_report_names_what_was_never_taken_and_the_diagram_shows_what_was(project: pytest.Pytester) -> None:
    drawn = project.path / "coverage" / "door.mmd"
    code, out = run(project, f"--turnstile-coverage-diagram={drawn}", "--turnstile-coverage-fail-under=57")
    assert code == 0, out
    report = out[out.index("turnstile chart coverage") :]
    # Declared: door 4 (push twice, pull, kick) and the parallel state's leave (the main
    # region's), light 2. Taken: push [unlocked], push when locked (its fallback), pull,
    # and the light's push.
    assert "chart.Door: 4 of 7 declared transitions taken (57.1%)" in report
    assert "region door: 3/5 (60.0%)" in report
    assert "never taken: shut --kick--> ajar" in report
    assert "never taken: active --leave--> gone" in report
    assert "region light: 1/2 (50.0%)" in report
    assert "never taken: on --flick--> off" in report
    assert "never taken: shut --push" not in report
    # The locked push tried the guarded transition first, then took the one after it.
    assert "guards seen false: 1 of 1" in report
    assert "TOTAL: 4 of 7 declared transitions taken (57.1%)" in report
    assert "chart coverage 57.1% reaches the required 57%" in report

    assert f"chart coverage of Door drawn in {drawn}" in report
    mermaid = drawn.read_text()
    # Taken edges carry their count; the untaken flick carries none.
    assert re.search(r"ajar --> shut\s*:\s*pull ×1\n", mermaid), mermaid
    assert re.search(r"off --> on\s*:\s*push ×2\n", mermaid), mermaid
    assert re.search(r"on --> off\s*:\s*flick\n", mermaid), mermaid


def test_fail_under_fails_a_passing_session_and_needs_no_pytest_asyncio(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if pytest-asyncio were not installed (the plugin must load in any project).
    monkeypatch.setenv("PYTHONPATH", str(shadow_module(project.path, "pytest_asyncio")))
    code, out = run(project, "--turnstile-coverage-fail-under=60", "-p", "no:asyncio")
    assert code == pytest.ExitCode.TESTS_FAILED, out
    assert "2 passed" in out  # the tests passed; the coverage did not
    assert "FAIL: chart coverage 57.1% is under --turnstile-coverage-fail-under=60" in out
    assert "Traceback" not in out


def test_without_the_option_nothing_is_collected_or_reported(project: pytest.Pytester) -> None:
    code, out = run(project)
    assert code == 0, out
    assert "turnstile chart coverage" not in out


# The collector on its own ------------------------------------------------------------


class Gate(StateChart):  # type: ignore[type-arg]
    closed = State(initial=True)
    open = State()
    done = State(final=True)
    pass_ = closed.to(open, cond="paid") | closed.to(closed, unless="paid")
    through = open.to(closed)
    finish = closed.to(done)

    def __init__(self, paid: bool, **kw: object) -> None:
        self.is_paid = paid
        super().__init__(**kw)

    def paid(self) -> bool:
        return self.is_paid


def test_the_collector_counts_only_while_started_and_names_each_transition_taken() -> None:
    collector = CoverageCollector()
    trace = Trace()
    Gate(True, listeners=[trace.listener()]).send("pass_")  # before start: not counted
    collector.start()
    try:
        gate = Gate(False, listeners=[Trace().listener()])
        gate.send("pass_")
        gate.send("finish")
    finally:
        collector.stop()
    Gate(True, listeners=[Trace().listener()]).send("pass_")  # after stop: not counted
    [chart] = collector.report().charts
    taken = {t.label: t.taken for t in chart.transitions}
    assert taken == {
        "closed --pass_ [paid]--> open": 0,
        "closed --pass_ [not paid]--> closed": 1,
        "closed --finish--> done": 1,
        "open --through--> closed": 0,
    }
    assert [t.label for t in chart.guard_false_never_seen] == ["closed --pass_ [not paid]--> closed"]
    overlay = collector.trace(Gate)
    assert overlay.transitions == [("pass_", "closed", "closed"), ("finish", "closed", "done")]


def test_a_run_with_no_traced_chart_reports_so(tmp_path: Path) -> None:
    report = CoverageCollector().report()
    assert report.lines() == ["no traced chart ran"]
    assert report.percent == 0.0  # nothing exercised is nothing covered: fail-under fails


def _gate_named_like_the_other() -> type[Gate]:
    class Gate(globals()["Gate"]):  # type: ignore[misc,valid-type]  # same name, another class
        pass

    return Gate


def test_only_the_charts_named_are_counted() -> None:
    other = _gate_named_like_the_other()
    collector = CoverageCollector(only=["Lamp", f"{__name__}.Gate"])
    collector.start()
    try:
        Gate(False, listeners=[Trace().listener()]).send("pass_")
        other(False, listeners=[Trace().listener()]).send("pass_")
    finally:
        collector.stop()
    assert collector.charts == [Gate]  # by its qualified name: the subclass of that name is not
    assert CoverageCollector(only=["Gate"]).charts == []


def test_charts_of_the_same_name_are_drawn_to_files_of_their_own(tmp_path: Path) -> None:
    from turnstile.adapters.pytest_plugin import _draw

    collector = CoverageCollector()
    collector.start()
    try:
        for chart in (Gate, Gate, _gate_named_like_the_other()):  # Gate busiest: drawn first
            chart(True, listeners=[Trace().listener()]).send("pass_")
    finally:
        collector.stop()
    second = tmp_path / "gate.tests.test_coverage_plugin._gate_named_like_the_other.Gate.mmd"
    assert _draw(collector, tmp_path / "gate.mmd") == [
        f"chart coverage of Gate drawn in {tmp_path / 'gate.mmd'}",
        f"chart coverage of Gate drawn in {second}",
    ]
    assert re.search(r"closed --> open\s*:\s*pass_ \[paid\] ×2\n", (tmp_path / "gate.mmd").read_text())
    assert re.search(r"closed --> open\s*:\s*pass_ \[paid\] ×1\n", second.read_text())
