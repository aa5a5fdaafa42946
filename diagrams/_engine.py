"""Turning DOT text into SVG or PNG: Graphviz's ``dot`` program, else pygraphviz.

``make`` installs Graphviz; a pip user may have neither it nor a way to get it (no root,
a slim container). pygraphviz (the NetworkX team's) publishes wheels that bundle
Graphviz's libraries, so ``pip install 'turnstile-agents[render]'`` draws the same layout
with no program on PATH. It is an extra, not a dependency: a native wheel of several
megabytes that most users, who have ``dot`` or only want the text formats, do not need.
No pure-Python renderer lays out compound clusters the way ``dot`` does, and a layout
that differs from the committed SVG's would make the drawings disagree.
"""

from __future__ import annotations

import importlib
from typing import Literal

import graphviz

__all__ = ["GraphvizNotFound", "RenderError", "pipe"]

ImageFormat = Literal["svg", "png"]

HOW_TO_GET_GRAPHVIZ = (
    "apt install graphviz / brew install graphviz, or pip install 'turnstile-agents[render]'"
)


class RenderError(RuntimeError):
    """The chart could not be drawn as an image."""


class GraphvizNotFound(RenderError):
    """Neither Graphviz's ``dot`` program nor pygraphviz is installed."""


def _with_pygraphviz(source: str, format: ImageFormat) -> bytes:
    try:
        # Imported by name: pygraphviz ships no type information, and is optional.
        pygraphviz = importlib.import_module("pygraphviz")
    except ImportError:
        raise GraphvizNotFound(
            f"Graphviz is not installed ({HOW_TO_GET_GRAPHVIZ}); .dot and .mmd need nothing"
        ) from None
    try:
        image: bytes = pygraphviz.AGraph(string=source).draw(format=format, prog="dot")
    except Exception as exc:  # noqa: BLE001 - pygraphviz raises its own errors, OSError for plugins
        raise RenderError(f"pygraphviz failed: {exc}") from None
    return image


def pipe(digraph: graphviz.Digraph, format: ImageFormat) -> bytes:
    """The digraph drawn as ``format``; a :class:`RenderError` says why not, in one line."""
    try:
        image: bytes = digraph.pipe(format=format)
    except graphviz.ExecutableNotFound:
        return _with_pygraphviz(digraph.source, format)
    except graphviz.CalledProcessError as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else str(exc.stderr or "")
        reason = stderr.strip().splitlines()[0] if stderr.strip() else f"exit status {exc.returncode}"
        raise RenderError(f"Graphviz's dot failed: {reason}") from None
    return image
