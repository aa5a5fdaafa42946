"""Property-test your own chart: generated provider-event sequences, and the runtime's
invariants as a check.

    from hypothesis import given, settings
    from turnstile.adapters.testing import provider_events, run_scripted

    @settings(max_examples=30, deadline=None)
    @given(events=provider_events(MyChart))
    def test_my_chart_keeps_the_invariants(events):
        run_scripted(events, chart=MyChart)   # check_invariants after every step

:func:`provider_events` needs hypothesis (``pip install 'turnstile-agents[pytest]'``); it is
imported on first use, so the rest of this module (and ``turnstile.adapters``) does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._driver import run_events, run_scripted
from ._invariants import InvariantWatch, check_invariants
from ._steps import OPERATIONS, Advance, AgentCall, ChartEvent, Step, build_steps, chart_operations, chart_phrases

if TYPE_CHECKING:
    from ._strategy import provider_events

__all__ = [
    "OPERATIONS",
    "Advance",
    "AgentCall",
    "ChartEvent",
    "InvariantWatch",
    "Step",
    "build_steps",
    "chart_operations",
    "chart_phrases",
    "check_invariants",
    "provider_events",
    "run_events",
    "run_scripted",
]

_NEEDS_HYPOTHESIS = frozenset({"provider_events"})


def __getattr__(name: str) -> Any:
    if name in _NEEDS_HYPOTHESIS:
        try:
            from . import _strategy
        except ModuleNotFoundError as exc:
            if exc.name != "hypothesis":
                raise
            raise ModuleNotFoundError(
                f"turnstile.adapters.testing.{name} needs hypothesis: pip install 'turnstile-agents[pytest]'",
                name="hypothesis",
            ) from exc
        return getattr(_strategy, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
