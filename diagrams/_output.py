"""The public entry points that draw the chart: as text, as files, and the committed renders."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Literal

import graphviz

from turnstile.machine import AgentChart, Trace

from . import _dot, _engine, _mermaid
from ._model import Chart, chart_model

__all__ = [
    "Format",
    "chart_dot",
    "chart_mermaid",
    "check_committed",
    "render",
    "write_committed",
]

Format = Literal["svg", "png", "dot", "mermaid"]

_PACKAGE_DIR = Path(__file__).resolve().parent
_COMMITTED_STEM = "agent_chart"
_FORMAT_BY_SUFFIX: dict[str, Format] = {
    ".svg": "svg",
    ".png": "png",
    ".dot": "dot",
    ".gv": "dot",
    ".mmd": "mermaid",
}
_HASH_COMMENT = "<!-- turnstile-chart-sha256: {} -->"
_HASH_RE = re.compile(r"<!-- turnstile-chart-sha256: ([0-9a-f]{64}) -->")


def chart_dot(chart: Chart = AgentChart, trace: Trace | None = None) -> graphviz.Digraph:
    """The chart (and a trace over it) as a Graphviz digraph; ``.source`` is the DOT text."""
    return _dot.draw(chart_model(chart, trace))


def chart_mermaid(chart: Chart = AgentChart, trace: Trace | None = None) -> str:
    """The chart (and a trace over it) as a Mermaid ``stateDiagram-v2``."""
    return _mermaid.draw(chart_model(chart, trace))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _stamped_svg(digraph: graphviz.Digraph) -> str:
    # The layout differs between Graphviz versions, so the SVG itself cannot be compared
    # for drift; the hash of the DOT it was drawn from can.
    svg = _engine.pipe(digraph, "svg").decode("utf-8")
    comment = _HASH_COMMENT.format(_sha256(digraph.source))
    head, _, rest = svg.partition("\n")
    if head.startswith("<?xml"):
        return f"{head}\n{comment}\n{rest}"
    return f"{comment}\n{svg}"


def _format_of(path: Path, format: Format | None) -> Format:
    by_suffix = _FORMAT_BY_SUFFIX.get(path.suffix.lower())
    if format is None:
        if by_suffix is None:
            known = " ".join(sorted(_FORMAT_BY_SUFFIX))
            raise ValueError(f"cannot tell the format of {path}: name it {known}, or give a format")
        return by_suffix
    if by_suffix is not None and by_suffix != format:
        # Writing PNG bytes into x.svg gives a file nothing opens correctly.
        raise ValueError(f"{path} is named as {by_suffix} but the format asked for is {format}")
    return format


def render(
    path: str | Path,
    *,
    chart: Chart = AgentChart,
    trace: Trace | None = None,
    format: Format | None = None,
) -> Path:
    """Write the chart to ``path`` as svg, png, dot or mermaid (from its suffix by default).

    dot and mermaid are plain text; svg and png need Graphviz (its ``dot`` program, or
    pygraphviz: ``pip install 'turnstile-agents[render]'``), else a
    :class:`GraphvizNotFound` says how to get it and nothing is written.
    """
    out = Path(path)
    fmt = _format_of(out, format)
    content: str | bytes
    try:
        if fmt == "mermaid":
            content = chart_mermaid(chart, trace)
        elif fmt == "dot":
            content = chart_dot(chart, trace).source
        elif fmt == "svg":
            content = _stamped_svg(chart_dot(chart, trace))
        else:
            content = _engine.pipe(chart_dot(chart, trace), "png")
    except _engine.RenderError as exc:
        raise type(exc)(f"cannot draw {out}: {exc}") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        out.write_bytes(content)
    else:
        out.write_text(content, encoding="utf-8")
    return out


def _committed(directory: Path) -> dict[str, Path]:
    return {
        suffix: directory / f"{_COMMITTED_STEM}.{suffix}" for suffix in ("dot", "svg", "mmd")
    }


def _source_checkout() -> Path:
    """diagrams/ of the source tree this module runs from; refuses an installed copy."""
    pyproject = _PACKAGE_DIR.parent / "pyproject.toml"
    if not (pyproject.is_file() and 'name = "turnstile-agents"' in pyproject.read_text("utf-8")):
        raise RuntimeError(
            f"the committed diagrams live in a source checkout of turnstile, and this one is "
            f"installed ({_PACKAGE_DIR}); run it in a clone, or pass a directory"
        )
    return _PACKAGE_DIR


def write_committed(directory: Path | None = None) -> list[Path]:
    """(Re)write the renders of :class:`AgentChart` kept in the repository (or ``directory``).

    Without ``directory`` it refuses to run from an installed package: that would write
    into site-packages, not into anything under version control.
    """
    target = Path(directory) if directory is not None else _source_checkout()
    return [render(path) for path in _committed(target).values()]


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


def check_committed(directory: Path = _PACKAGE_DIR) -> list[str]:
    """File names of the committed renders that no longer match the chart ([] = all match)."""
    paths = _committed(Path(directory))
    dot = chart_dot().source
    svg = _read(paths["svg"])
    svg_hash = _HASH_RE.search(svg) if svg is not None else None
    fresh = {
        "dot": _read(paths["dot"]) == dot,
        "svg": svg_hash is not None and svg_hash.group(1) == _sha256(dot),
        "mmd": _read(paths["mmd"]) == chart_mermaid(),
    }
    return [paths[suffix].name for suffix, ok in fresh.items() if not ok]
