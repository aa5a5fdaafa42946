"""The chart as a markdown table, for the README: a row per edge of the diagrams.

Rows are the diagrams' edges (transitions sharing source, target and actions are one row
with their events joined), so the table and the drawings list the same transitions.
"""

from __future__ import annotations

from turnstile.machine import AgentChart

from ._model import Chart, ChartEdge, ChartModel, chart_model

__all__ = ["transition_table"]

_COLUMNS = ("region", "source", "event", "guard", "target", "action")
_NONE = "—"


def _code(text: str) -> str:
    # A pipe would end the cell; inside backticks GitHub still needs it escaped.
    return f"`{text}`".replace("|", r"\|")


def _guard(edge: ChartEdge) -> str:
    """One guard for the row, or each trigger's guard named with its event when they differ."""
    declared = (edge, *edge.merged)
    guards = [" and ".join(e.conds) for e in declared]
    if len(set(guards)) == 1:
        return _code(guards[0]) if guards[0] else ""
    return "; ".join(f"{_code(g)} ({e.event or '(auto)'})" for e, g in zip(declared, guards, strict=True) if g)


def _target(edge: ChartEdge) -> str:
    if edge.target is None:
        return "(no target)"
    if edge.internal and edge.target == edge.source:
        return f"{_code(edge.target)} (internal)"
    return _code(edge.target)


def _row(model: ChartModel, edge: ChartEdge) -> list[str]:
    region = model.node(edge.source).region
    events = dict.fromkeys(e.event or "(auto)" for e in (edge, *edge.merged))
    return [
        _code(region) if region else _NONE,
        _code(edge.source),
        ", ".join(_code(e) for e in events),
        _guard(edge),
        _target(edge),
        ", ".join(_code(a) for a in edge.actions),
    ]


def transition_table(chart: Chart = AgentChart) -> str:
    """Every declared transition of ``chart`` as a markdown table, in declaration order:
    region | source | event | guard | target | action (the region is — outside regions)."""
    model = chart_model(chart)
    lines = ["| " + " | ".join(_COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
    lines += ["| " + " | ".join(_row(model, e)).rstrip() + " |" for e in model.edges]
    return "\n".join(lines) + "\n"
