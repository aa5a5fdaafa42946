"""turnstile.diagrams: the chart (and traces over it) as DOT, SVG, PNG and Mermaid."""

from ._render import (
    ChartEdge,
    ChartModel,
    ChartNode,
    Chart,
    Format,
    chart_dot,
    chart_mermaid,
    chart_model,
    check_committed,
    render,
    write_committed,
)

__all__ = [
    "ChartEdge",
    "ChartModel",
    "ChartNode",
    "Chart",
    "Format",
    "chart_dot",
    "chart_mermaid",
    "chart_model",
    "check_committed",
    "render",
    "write_committed",
]
