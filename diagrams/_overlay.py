"""A trace laid over the chart model: per edge, how many records took it.

A record names leaves: the one a transition left and the one the chart settled in. With
parallel regions a record belongs to one region (``record.region``; records made before
regions existed have none), and its leaves lie in that region, so ``(event, source leaf,
target leaf)`` already tells the regions apart. A transition declared on the parallel
state itself (``close``) leaves every region at once; a trace may record it once or once
per region, so only the record of the first region counts, and it is drawn once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the model imports this module to lay traces over it
    from turnstile.machine import Trace

    from ._model import ChartEdge, ChartModel

__all__ = ["with_trace"]

Key = tuple[str | None, str, str]


def _landings(model: ChartModel, edge: ChartEdge, leaf: str) -> tuple[str, ...]:
    """The leaves a record may name after ``edge`` fired in ``leaf``."""
    if edge.target is None or (edge.internal and edge.target == edge.source):
        return (leaf,)  # targetless or internal self-transition: the configuration stays
    # Entering a parallel state enters a leaf per region; a record names one of them.
    return model.node(edge.target).entry_leaves


def _record_index(model: ChartModel) -> dict[Key, ChartEdge]:
    """(event, leaf source, leaf target) -> the declared edge, as the engine selects it."""
    index: dict[Key, ChartEdge] = {}
    for leaf in (n for n in model.nodes if not n.compound):
        owner: str | None = leaf.id
        # The leaf's own transitions win over its ancestors', so a record from a leaf
        # counts towards the compound's edge only when the leaf declares none of its own.
        while owner is not None:
            declared = (d for e in model.edges if e.source == owner for d in (e, *e.merged))
            for edge in sorted(declared, key=lambda d: d.key):
                for landing in _landings(model, edge, leaf.id):
                    for alias in edge.aliases or (None,):
                        # First declared wins: guards are not in the record, and the
                        # engine also tries transitions in declaration order.
                        index.setdefault((alias, leaf.id, landing), edge)
            owner = model.node(owner).parent
    return index


def _seen_once(model: ChartModel, record: Any, edge: ChartEdge) -> bool:
    """False for the copy of a firing that another region's record already counts."""
    region = getattr(record, "region", None)  # older records (and charts) have none
    if not isinstance(region, str) or not model.has(region) or not model.is_region(region):
        return True
    if model.contains(region, edge.source):
        return True  # declared inside the record's own region
    parent = model.node(region).parent
    return model.children(parent)[0].id == region


def _final_states(model: ChartModel, trace: Trace) -> tuple[str, ...]:
    """The configuration the trace ended in: the last leaf of each region still active."""
    if not trace.records:
        return ()
    last = trace.records[-1]
    configuration = getattr(last, "configuration", None)  # recorded by newer traces
    if isinstance(configuration, (list, tuple)) and configuration:
        return tuple(str(s) for s in configuration)
    found: dict[str | None, str] = {}
    for record in reversed(trace.records):
        leaf = record.target
        if not model.has(leaf):
            continue
        region = model.node(leaf).region
        if region is None:  # outside every region: what came before it was left
            if not found:
                return (leaf,)
            break
        found.setdefault(region, leaf)
    order = {n.id: i for i, n in enumerate(model.nodes)}
    return tuple(sorted(found.values(), key=order.__getitem__)) or (last.target,)


def with_trace(model: ChartModel, trace: Trace) -> ChartModel:
    index = _record_index(model)
    counts: Counter[int] = Counter()
    for record in trace.records:
        edge = index.get((record.event, record.source, record.target))
        # Records that match no declared transition (a trace of another chart) are not drawn.
        if edge is not None and _seen_once(model, record, edge):
            counts[edge.key] += 1
    return replace(
        model,
        counts=dict(sorted(counts.items())),
        final_state=trace.final_state,
        final_states=_final_states(model, trace),
    )
