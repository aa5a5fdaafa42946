"""turnstile.diagrams: the chart (and traces over it) as DOT, SVG, PNG and Mermaid."""

from ._engine import GraphvizNotFound, RenderError
from ._model import (
    Chart,
    ChartEdge,
    ChartModel,
    ChartNode,
    chart_model,
    states_not_in_chart,
)
from ._output import (
    Format,
    chart_dot,
    chart_mermaid,
    check_committed,
    render,
    write_committed,
)
from ._table import transition_table

__all__ = [
    "Chart",
    "ChartEdge",
    "ChartModel",
    "ChartNode",
    "Format",
    "GraphvizNotFound",
    "RenderError",
    "chart_dot",
    "chart_mermaid",
    "chart_model",
    "check_committed",
    "render",
    "states_not_in_chart",
    "transition_table",
    "write_committed",
]
