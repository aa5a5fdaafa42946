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
    if node.id in model.final_states:
        base = "filled,bold" if node.final else "rounded,filled,bold"
        attrs.update(style=base, fillcolor=_FINAL_FILL, penwidth="2.5")
    return attrs


# Structure -----------------------------------------------------------------------------


def _region_initial(region: str) -> str:
    return f"_initial_{region}"


def _add_states(g: graphviz.Digraph, model: ChartModel, parent: str | None) -> None:
    for node in model.children(parent):
        if not node.compound:
            g.node(node.id, **_node_style(model, node))
            continue
        region = model.is_region(node.id)
        with g.subgraph(name=_cluster(node.id)) as cluster:
            # UML draws a parallel state's regions as parts of it split by dashed lines:
            # here each region is a dashed box of its own, named in small type.
            style = {"style": "dashed", "color": "grey50", "fontsize": "10"} if region else {
                "style": "rounded", "color": "grey40", "fontsize": "14"}
            cluster.attr(label=_state_label(model, node), labeljust="l", **style)
            _add_states(cluster, model, node.id)
            _add_junctions(cluster, model, node.id)
            if region:  # every region has its own initial pseudostate
                point = _region_initial(node.id)
                cluster.node(point, shape="point", width="0.1", label="")
                first = next(n for n in model.children(node.id) if model.contains(n.id, node.initial_leaf))
                head, lhead = _head(model, first.id)
                cluster.edge(point, head, **_clip({}, "lhead", lhead))


def _tail(model: ChartModel, state_id: str) -> tuple[str, str | None]:
    """The node an edge leaves from, and the cluster it is clipped at (if a compound)."""
    node = model.node(state_id)
    if not node.compound:
        return node.id, None
    # Anchored at the last child in document order (where the flow ends), so an edge
    # leaving the whole compound starts on its far side instead of crossing it. A parallel
    # state's edges leave from its first region, where its edges in (the initial leaf)
    # arrive: anchored elsewhere, a re-entry would pull the last region up beside the
    # first and the regions would no longer stack in the order they are declared.
    inside = node.id
    if node.parallel:
        inside = model.children(node.id)[0].id
    last = [n for n in model.nodes if not n.compound and model.contains(inside, n.id)][-1]
    return last.id, _cluster(node.id)


def _head(model: ChartModel, state_id: str) -> tuple[str, str | None]:
    """The node an edge enters, and the cluster it is clipped at (if a compound)."""
    node = model.node(state_id)
    return node.initial_leaf, (_cluster(node.id) if node.compound else None)


def _clip(attrs: Attrs, side: Literal["ltail", "lhead"], cluster: str | None) -> Attrs:
    return {**attrs, side: cluster} if cluster is not None else attrs


def _detour(model: ChartModel, edge: ChartEdge) -> tuple[bool, str | None]:
    """Whether the edge goes by a junction, and the compound the junction sits in.

    A cluster clip only works when the other end lies outside that cluster; when it does
    not, the edge leaves the clipped compound for a junction just outside it (inside the
    compound's parent, so a region's edge stays within its parallel state) and comes back.
    """
    assert edge.target is not None
    _, ltail = _tail(model, edge.source)
    head, lhead = _head(model, edge.target)
    tail_bad = ltail is not None and model.contains(edge.source, head)
    head_bad = lhead is not None and model.contains(edge.target, _tail(model, edge.source)[0])
    if not (tail_bad or head_bad):
        return False, None
    # Both clipped: the outer one holds the other, and the junction must be outside it.
    clipped = edge.source if tail_bad and (not head_bad or model.contains(edge.source, edge.target)) else edge.target
    return True, model.node(clipped).parent


def _add_junctions(g: graphviz.Digraph, model: ChartModel, compound: str | None) -> None:
    for edge in model.edges:
        if edge.target is not None and _detour(model, edge) == (True, compound):
            colour = _edge_style(model, edge).get("color", "black")
            g.node(_junction(edge), shape="point", width="0.08", color=colour)


def _add_edge(g: graphviz.Digraph, model: ChartModel, edge: ChartEdge) -> None:
    # Self-loops take no ports: dot makes room for the labels of loops on a node's side,
    # stacked, but not for loops pinned to ports, whose labels then cover other edges.
    assert edge.target is not None
    tail, ltail = _tail(model, edge.source)
    head, lhead = _head(model, edge.target)
    attrs = {"label": _edge_label(model, edge), **_edge_style(model, edge)}
    detour, home = _detour(model, edge)
    if not detour:
        if ltail or lhead:
            # A label sits at the middle of the edge before it is clipped at the cluster,
            # often inside the cluster, far from the line; an xlabel is placed after.
            attrs["xlabel"] = attrs.pop("label")
        g.edge(tail, head, **_clip(_clip(attrs, "ltail", ltail), "lhead", lhead))
        return
    via = _junction(edge)
    if home is None:  # nested junctions were declared in their cluster
        g.node(via, shape="point", width="0.08", color=attrs.get("color", "black"))
    g.edge(tail, via, **_clip({**attrs, "arrowhead": "none"}, "ltail", ltail))
    plain = {k: v for k, v in attrs.items() if k != "label"}
    g.edge(via, head, **_clip(plain, "lhead", lhead))


def draw(model: ChartModel) -> graphviz.Digraph:
    g = graphviz.Digraph(name=model.name)
    g.attr(compound="true", rankdir="LR", nodesep="0.5", ranksep="0.7", fontname=_FONT)
    if any(n.parallel for n in model.nodes):
        # No edge joins two regions, so every order of them crosses as few edges and dot
        # is free to shuffle them. Few crossing-minimisation passes keep the order it
        # starts from, the declaration's, so the regions stack top to bottom as declared.
        g.attr(mclimit="0.01")
    g.attr("node", shape="box", style="rounded", fontname=_FONT, fontsize="11")
    g.attr("edge", fontname=_FONT, fontsize="9", arrowsize="0.7")
    g.node(_INITIAL, shape="point", width="0.15", label="")
    _add_states(g, model, None)
    # Into a parallel state: to its border, as each region has its own initial point.
    head, lhead = _head(model, model.initial)
    g.edge(_INITIAL, head, **_clip({}, "lhead", lhead if model.node(model.initial).parallel else None))
    for edge in model.edges:
        if edge.target is not None:
            _add_edge(g, model, edge)
    return g
