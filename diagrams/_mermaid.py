"""The chart model as a Mermaid ``stateDiagram-v2``.

Mermaid puts a state inside the *last* nested block that mentions it (a mention at the top
level moves nothing), so every state is declared inside its own block first, and an edge
is written in the innermost block that holds both of its ends: ``active --> closed`` and
``active --> initializing`` at the top level, ``listening --> thinking`` inside
``state active { ... }``. A parallel state's
regions are Mermaid's concurrent regions: each a named block of its own, with its own
``[*]``, separated by ``--``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the model imports this module to draw with it
    from ._model import ChartEdge, ChartModel

__all__ = ["draw"]

_INDENT = "    "
_TRACE_END = "traceEnd"


def _scope(model: ChartModel, edge: ChartEdge) -> str | None:
    """The innermost compound holding both ends without being one of them (None = top).

    Only the top level leaves a state where it was declared: an edge between a compound
    and a state inside it (``turn --> initializing``), or between two regions, written in
    a nested block would pull the state it names into that block.
    """
    assert edge.target is not None
    source, target = edge.source, edge.target
    if source != target and (model.contains(source, target) or model.contains(target, source)):
        return None
    scope = model.node(source).parent
    while scope is not None and not (model.contains(scope, target) and scope not in (source, target)):
        scope = model.node(scope).parent
    return None if scope is not None and model.node(scope).parallel else scope


def _label(model: ChartModel, edge: ChartEdge, note: str = "") -> str:
    count = model.count(edge)
    times = f" ×{count}" if count else ""
    # A newline would end the statement; the label is one line.
    return f"{edge.label}{note}{times}".replace("\n", " ")


def _notes(model: ChartModel, scope: str | None, depth: int) -> list[str]:
    pad = _INDENT * depth
    out: list[str] = []
    for node in model.children(scope):
        targetless = [e for e in model.edges if e.source == node.id and e.target is None]
        if targetless or node.entry or node.exit:
            out.append(f"{pad}note right of {node.id}")
            out += [f"{pad}{_INDENT}{line}" for line in node.action_lines]
            out += [f"{pad}{_INDENT}{_label(model, e, ' (no target)')}" for e in targetless]
            out.append(f"{pad}end note")
    return out


def _block(model: ChartModel, scope: str | None, depth: int) -> list[str]:
    """The states, initial arrow, edges and notes of one scope (the top or a compound)."""
    pad = _INDENT * depth
    out: list[str] = []
    parallel = scope is not None and model.node(scope).parallel
    for i, node in enumerate(model.children(scope)):
        if parallel and i:
            out.append(f"{pad}--")  # Mermaid's separator between concurrent regions
        if node.compound:
            out.append(f"{pad}state {node.id} {{")
            out += _block(model, node.id, depth + 1)
            out.append(f"{pad}}}")
        else:
            out.append(f"{pad}{node.id}")
    initial = model.initial if scope is None else model.node(scope).initial_leaf
    if scope is not None:  # a compound enters its initial child, not its initial leaf
        initial = next(n.id for n in model.children(scope) if model.contains(n.id, initial))
    if not parallel:  # a parallel state enters every region, each from its own [*]
        out.append(f"{pad}[*] --> {initial}")
    for edge in model.edges:
        if edge.target is not None and _scope(model, edge) == scope:
            out.append(f"{pad}{edge.source} --> {edge.target} : {_label(model, edge)}")
    out += [f"{pad}{n.id} --> [*]" for n in model.children(scope) if n.final]
    out += _notes(model, scope, depth)
    return out


def _trace_end(model: ChartModel) -> list[str]:
    if not model.final_states:
        return []
    return [
        f"{_INDENT}classDef {_TRACE_END} fill:#ffe08a,stroke:#333,stroke-width:3px",
        f"{_INDENT}class {','.join(model.final_states)} {_TRACE_END}",
    ]


def draw(model: ChartModel) -> str:
    lines = ["stateDiagram-v2", f"{_INDENT}direction LR"]
    lines += _block(model, None, 1)
    lines += _trace_end(model)
    return "\n".join(lines) + "\n"
