"""Pytest fixtures for testing agents offline: ``pytest`` finds them through an entry point.

    async def test_greets(turnstile_harness):
        h = turnstile_harness
        h.session.start_audio_response(pcm_tone(300), transcript="Hi!")
        await h.agent.wait_for_state("speaking")
        h.agent.trace.assert_visits("listening", "thinking", "speaking")

The async fixtures (``local_room``, ``turnstile_harness``) run on pytest-asyncio, which
comes with ``pip install 'turnstile-agents[pytest]'``. An ``async def`` test that takes one
of them directly is run as an asyncio test in any project, whatever its ``asyncio_mode``;
other async tests need ``@pytest.mark.asyncio`` (or ``asyncio_mode = auto``) as usual.

Installing the package registers this plugin in every pytest run of the environment, so
it must never break an unrelated project: it imports nothing heavy at load, and without
pytest-asyncio it still loads, ``scripted_provider`` still works, and the async fixtures
fail their test with one line that says what to install.

``pytest --turnstile-coverage`` reports the chart's declared transitions (every region's)
that no traced chart took during the run; ``--turnstile-coverage-fail-under=PERCENT`` fails
the session below that share, and ``--turnstile-coverage-diagram FILE`` draws the chart with
what was taken laid over it. See ``docs/guides/coverage.md``.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # imported by the fixtures: pytest start-up must not load LiveKit
    from turnstile.machine import RealtimeAgent
    from turnstile.machine._coverage import CoverageCollector, CoverageReport

    from .local import LocalRoom
    from .scripted import ScriptedRealtime, ScriptedSession

__all__ = ["Harness", "local_room", "scripted_provider", "turnstile_harness"]

_ASYNC_FIXTURES = frozenset({"local_room", "turnstile_harness"})
MISSING_PYTEST_ASYNCIO = (
    "the turnstile fixtures local_room and turnstile_harness need pytest-asyncio: "
    "pip install 'turnstile-agents[pytest]'"
)


@dataclass
class Harness:
    agent: RealtimeAgent
    provider: ScriptedRealtime
    room: LocalRoom

    @property
    def session(self) -> ScriptedSession:
        return self.provider.last_session


@pytest.fixture
def scripted_provider() -> ScriptedRealtime:
    """A scripted provider with OpenAI-like capabilities (truncation, 24 kHz both ways)."""
    from turnstile.machine import Capabilities

    from .scripted import ScriptedRealtime

    return ScriptedRealtime(Capabilities())


async def _local_room() -> AsyncIterator[LocalRoom]:
    """A LocalRoom (real ``livekit.rtc`` audio objects, no server), closed after the test."""
    from .local import LocalRoom

    room = LocalRoom()
    yield room
    await room.aclose()


async def _turnstile_harness(
    scripted_provider: ScriptedRealtime, local_room: LocalRoom
) -> AsyncIterator[Harness]:
    """An agent started on the scripted provider and a local room, already listening."""
    from turnstile.machine import RealtimeAgent

    agent = RealtimeAgent(scripted_provider)
    await agent.start(local_room)
    await agent.wait_for_state("listening")
    yield Harness(agent, scripted_provider, local_room)
    await agent.aclose()


def _missing(name: str) -> Any:
    def fixture() -> None:
        pytest.fail(MISSING_PYTEST_ASYNCIO, pytrace=False)

    fixture.__doc__ = f"{name}: {MISSING_PYTEST_ASYNCIO}."
    return pytest.fixture(fixture, name=name)


def _import_pytest_asyncio() -> ModuleType | None:
    try:
        import pytest_asyncio
    except ImportError:
        return None
    return pytest_asyncio


_pytest_asyncio = _import_pytest_asyncio()

if _pytest_asyncio is not None:
    # Marked as pytest-asyncio fixtures, so they run in strict mode (a project with no
    # configuration) as well as in auto mode; the loop is the test's own.
    local_room = _pytest_asyncio.fixture(_local_room, name="local_room", loop_scope="function")
    turnstile_harness = _pytest_asyncio.fixture(
        _turnstile_harness, name="turnstile_harness", loop_scope="function"
    )
else:
    local_room = _missing("local_room")
    turnstile_harness = _missing("turnstile_harness")


def _takes_our_async_fixture(obj: object) -> bool:
    if not inspect.iscoroutinefunction(obj):
        return False
    try:
        parameters = inspect.signature(obj).parameters
    except (TypeError, ValueError):  # a callable pytest collects but inspect cannot read
        return False
    return not _ASYNC_FIXTURES.isdisjoint(parameters)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> None:
    """Mark ``async def`` tests taking our fixtures as asyncio tests, before the item is made.

    pytest-asyncio decides when the item is created whether it is an asyncio test (by its
    marker, or its ``asyncio_mode``), so the marker goes on the function first: this runs
    before the collector that makes the item, and returns None to let it.
    """
    if (
        _pytest_asyncio is not None
        and collector.config.pluginmanager.has_plugin("asyncio")
        and _takes_our_async_fixture(obj)
        # A mark the user wrote (on the test, its class or module) says more, a loop
        # scope perhaps: a mark added on the function would override it.
        and collector.get_closest_marker("asyncio") is None
        and not any(m.name == "asyncio" for m in getattr(obj, "pytestmark", ()))
    ):
        pytest.mark.asyncio(obj)


# Chart coverage ------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("turnstile", "Turnstile chart coverage")
    group.addoption(
        "--turnstile-coverage", action="store_true", default=False,
        help="report the declared chart transitions (every region's) no traced chart took during the run",
    )  # fmt: skip
    group.addoption(
        "--turnstile-coverage-fail-under", type=float, default=None, metavar="PERCENT",
        help="fail the session when fewer than PERCENT of the declared transitions were taken "
        "(implies --turnstile-coverage)",
    )  # fmt: skip
    group.addoption(
        "--turnstile-coverage-chart", action="append", default=[], metavar="NAME",
        help="count only this chart class (AgentChart, or module.ClassName); repeatable; every chart by default",
    )  # fmt: skip
    group.addoption(
        "--turnstile-coverage-diagram", default=None, metavar="FILE",
        help="draw the chart with the transitions taken laid over it (.svg, .png, .dot or .mmd; "
        "implies --turnstile-coverage)",
    )  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    under = config.getoption("turnstile_coverage_fail_under", None)
    diagram = config.getoption("turnstile_coverage_diagram", None)
    only: list[str] = config.getoption("turnstile_coverage_chart", None) or []
    if config.getoption("turnstile_coverage", False) or under is not None or diagram is not None or only:
        # Imported only when asked: Turnstile's machine is not light, and most runs never ask.
        config.pluginmanager.register(_ChartCoverage(under, diagram, only), "turnstile-chart-coverage")


class _ChartCoverage:
    """The collector for one session: started before any test, reported at the end."""

    def __init__(self, fail_under: float | None, diagram: str | None, only: list[str]) -> None:
        from turnstile.machine._coverage import CoverageCollector

        self.fail_under = fail_under
        self.diagram = Path(diagram) if diagram else None
        self.collector: CoverageCollector = CoverageCollector(only)
        self.collector.start()
        self.report: CoverageReport | None = None
        self.notes: list[str] = []

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.collector.stop()
        self.report = report = self.collector.report()
        if self.diagram is not None:
            self.notes += _draw(self.collector, self.diagram)
        if self.fail_under is not None and report.percent < self.fail_under and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.report is None:
            return
        terminalreporter.section("turnstile chart coverage")
        for line in self.report.lines():
            terminalreporter.write_line(line)
        for note in self.notes:
            terminalreporter.write_line(note)
        if self.fail_under is not None:
            percent = self.report.percent
            if percent < self.fail_under:
                terminalreporter.write_line(
                    f"FAIL: chart coverage {percent:.1f}% is under --turnstile-coverage-fail-under={self.fail_under:g}",
                    red=True,
                )
            else:
                terminalreporter.write_line(f"chart coverage {percent:.1f}% reaches the required {self.fail_under:g}%")


def _draw(collector: CoverageCollector, path: Path) -> list[str]:
    """The busiest chart to ``path``, any other to ``path`` with its class name added."""
    charts = collector.charts
    if not charts:
        return [f"no traced chart ran: {path} not written"]
    try:
        from turnstile.diagrams import RenderError, render
    except ImportError as exc:  # graphviz's Python package is an optional extra
        return [f"cannot draw {path}: {exc}"]
    notes = []
    used: set[str] = set()
    for i, chart in enumerate(charts):
        # Test modules may each declare a chart of the same name: the later ones are qualified.
        name = chart.__name__
        if name in used:
            name = f"{chart.__module__}.{chart.__qualname__}".replace("<locals>.", "")
        if name in used:
            name = f"{name}.{i}"
        used.add(name)
        out = path if i == 0 else path.with_name(f"{path.stem}.{name}{path.suffix}")
        try:
            render(out, chart=chart, trace=collector.trace(chart))
        except (RenderError, OSError, ValueError) as exc:  # no Graphviz, a bad suffix, a path not writable
            notes.append(f"cannot draw {out}: {exc}")
        else:
            notes.append(f"chart coverage of {chart.__name__} drawn in {out}")
    return notes
