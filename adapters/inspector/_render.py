"""The session's chart as SVG, drawn by Graphviz from the DOT its publisher sent.

The publisher draws the DOT with :func:`turnstile.diagrams.chart_dot` in the agent's own
process, where the chart class lives (a user's subclass defined in a script cannot be
imported here); this process only lays it out. Layouts are cached by their DOT.
"""

from __future__ import annotations

import asyncio
import hashlib

import graphviz

__all__ = ["ChartRenderer", "RenderFailed"]


class RenderFailed(RuntimeError):
    """The chart could not be drawn; the message says why, in one line."""


def _layout(dot: str) -> str:
    try:
        svg: bytes = graphviz.Source(dot).pipe(format="svg")
    except graphviz.ExecutableNotFound:
        raise RenderFailed("Graphviz's dot is not installed (apt install graphviz): no chart, the rest works") from None
    except graphviz.CalledProcessError as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else str(exc.stderr or "")
        raise RenderFailed(f"Graphviz's dot failed: {(stderr.strip().splitlines() or ['?'])[0]}") from None
    return svg.decode("utf-8")


class ChartRenderer:
    def __init__(self, max_cached: int = 32) -> None:
        self._cache: dict[str, str] = {}
        self._max = max_cached

    async def svg(self, dot: str) -> str:
        if not dot.strip():
            raise RenderFailed("the agent sent no chart (its chart could not be drawn)")
        key = hashlib.sha256(dot.encode()).hexdigest()
        if key not in self._cache:
            svg = await asyncio.to_thread(_layout, dot)  # dot takes ~100 ms: not on the loop
            if len(self._cache) >= self._max:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = svg
        return self._cache[key]
