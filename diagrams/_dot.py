"""The chart model as a Graphviz digraph.

Compound states are clusters, so a transition every child shares (``close``) is one edge
from the cluster's border (``compound=true`` and ``ltail``) instead of one per child.
Graphviz cannot clip an edge at a cluster it starts in and ends inside (``session_lost``,
from ``active`` back to its own ``initializing``); such an edge goes out of the cluster
to a small junction point and back in, which reads as "leave active, re-enter it".
Targetless transitions change no state, so, as in UML, they are listed inside the state
that declares them rather than drawn as edges.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Literal

import graphviz

if TYPE_CHECKING:  # the model imports this module to draw with it
    from ._model import ChartEdge, ChartModel, ChartNode

__all__ = ["draw"]

_FONT = "Helvetica"
_VISITED = "#1f5fbf"
_UNVISITED = "grey70"
_UNVISITED_TEXT = "grey55"
_FINAL_FILL = "#ffe08a"
_INITIAL = "_initial"

Attrs = dict[str, str]


def _cluster(state_id: str) -> str:
    # Graphviz draws a subgraph as a box only when its name starts with "cluster".
    return f"cluster_{state_id}"


def _junction(edge: ChartEdge) -> str:
    return f"_via_{edge.key}"


# Labels --------------------------------------------------------------------------------


def _times(count: int | None) -> str:
    return f"×{count}" if count else ""


def _edge_label(model: ChartModel, edge: ChartEdge) -> str:
    # One line per part keeps the labels narrow; \n is DOT's centred line break.
    lines = list(edge.triggers)
    if edge.actions:
        lines.append(f"/ {edge.effect}")
    if times := _times(model.count(edge)):
        lines.append(times)
    return r"\n".join(lines)


def _compartment_line(model: ChartModel, edge: ChartEdge) -> str:
    count = model.count(edge)
    text = html.escape(f"{edge.label} (no target) {_times(count)}".rstrip())
    grey = count == 0  # drawn with a trace that never took it
    colour = f' color="{_UNVISITED_TEXT}"' if grey else ""
    return f'<font point-size="9"{colour}>{text}</font>'


def _state_label(model: ChartModel, node: ChartNode) -> str:
    """The state's name, plus its entry/exit actions and targetless transitions as an
    internal compartment (UML's ``entry / action``)."""
    targetless = [e for e in model.edges if e.source == node.id and e.target is None]
    if not targetless and not node.compound and not node.entry and not node.exit:
        return node.id  # a cluster's name is always bold
    lines = [f"<b>{html.escape(node.id)}</b>"]
    lines += [f'<font point-size="9">{html.escape(line)}</font>' for line in node.action_lines]
    lines += [_compartment_line(model, e) for e in targetless]
    return "<" + "<br/>".join(lines) + ">"


# Styles --------------------------------------------------------------------------------


def _edge_style(model: ChartModel, edge: ChartEdge) -> Attrs:
    count = model.count(edge)
    if count is None:
        return {}
    if count == 0:
        return {"color": _UNVISITED, "fontcolor": _UNVISITED_TEXT, "style": "dashed"}
    busiest = max(model.counts.values()) if model.counts else 1
    share = count / busiest
    return {
        "color": _VISITED,
        "fontcolor": _VISITED,
        "penwidth": f"{1.5 + 3.5 * share:.1f}",
        # Heavier edges are kept shorter and straighter, so the path taken reads first.
        "weight": str(1 + round(4 * share)),
    }


def _node_style(model: ChartModel, node: ChartNode) -> Attrs:
    attrs: Attrs = {"label": _state_label(model, node)}
    if node.final:
        attrs.update(shape="doublecircle", style="", fontsize="10", margin="0.02")
    if node.id == model.final_state:
        base = "filled,bold" if node.final else "rounded,filled,bold"
        attrs.update(style=base, fillcolor=_FINAL_FILL, penwidth="2.5")
    return attrs


# Structure -----------------------------------------------------------------------------


def _add_states(g: graphviz.Digraph, model: ChartModel, parent: str | None) -> None:
    for node in model.children(parent):
        if not node.compound:
            g.node(node.id, **_node_style(model, node))
            continue
        with g.subgraph(name=_cluster(node.id)) as cluster:
            cluster.attr(
                label=_state_label(model, node),
                style="rounded",
                color="grey40",
                fontsize="14",
                labeljust="l",
            )
            _add_states(cluster, model, node.id)


def _tail(model: ChartModel, state_id: str) -> tuple[str, str | None]:
    """The node an edge leaves from, and the cluster it is clipped at (if a compound)."""
    node = model.node(state_id)
    if not node.compound:
        return node.id, None
    # Anchored at the last child in document order (where the flow ends), so an edge
    # leaving the whole compound starts on its far side instead of crossing it.
    last = [n for n in model.nodes if not n.compound and model.contains(node.id, n.id)][-1]
    return last.id, _cluster(node.id)


def _head(model: ChartModel, state_id: str) -> tuple[str, str | None]:
    """The node an edge enters, and the cluster it is clipped at (if a compound)."""
    node = model.node(state_id)
    return node.initial_leaf, (_cluster(node.id) if node.compound else None)


def _loop_ports(model: ChartModel) -> dict[int, str]:
    """Self-loops of one state alternate between its top and bottom, so labels don't pile up."""
    ports: dict[int, str] = {}
    per_state: dict[str, int] = {}
    for edge in model.edges:
        if edge.target == edge.source and not model.node(edge.source).compound:
            seen = per_state[edge.source] = per_state.get(edge.source, 0) + 1
            ports[edge.key] = "n" if seen % 2 else "s"
    return ports


def _clip(attrs: Attrs, side: Literal["ltail", "lhead"], cluster: str | None) -> Attrs:
    return {**attrs, side: cluster} if cluster is not None else attrs


def _add_edge(g: graphviz.Digraph, model: ChartModel, edge: ChartEdge, port: str | None) -> None:
    assert edge.target is not None
    tail, ltail = _tail(model, edge.source)
    head, lhead = _head(model, edge.target)
    attrs = {"label": _edge_label(model, edge), **_edge_style(model, edge)}
    # A cluster clip only works when the other end lies outside that cluster.
    tail_ok = ltail is None or not model.contains(edge.source, head)
    head_ok = lhead is None or not model.contains(edge.target, tail)
    if tail_ok and head_ok:
        if port is not None:  # a self-loop on a leaf: no clusters involved
            tail, head = f"{tail}:{port}", f"{head}:{port}"
        g.edge(tail, head, **_clip(_clip(attrs, "ltail", ltail), "lhead", lhead))
        return
    via = _junction(edge)
    g.node(via, shape="point", width="0.08", color=attrs.get("color", "black"))
    g.edge(tail, via, **_clip({**attrs, "arrowhead": "none"}, "ltail", ltail))
    plain = {k: v for k, v in attrs.items() if k != "label"}
    g.edge(via, head, **_clip(plain, "lhead", lhead))


def draw(model: ChartModel) -> graphviz.Digraph:
    g = graphviz.Digraph(name=model.name)
    g.attr(compound="true", rankdir="LR", nodesep="0.5", ranksep="0.7", fontname=_FONT)
    g.attr("node", shape="box", style="rounded", fontname=_FONT, fontsize="11")
    g.attr("edge", fontname=_FONT, fontsize="9", arrowsize="0.7")
    g.node(_INITIAL, shape="point", width="0.15", label="")
    _add_states(g, model, None)
    g.edge(_INITIAL, model.node(model.initial).initial_leaf)
    ports = _loop_ports(model)
    for edge in model.edges:
        if edge.target is not None:
            _add_edge(g, model, edge, ports.get(edge.key))
    return g
