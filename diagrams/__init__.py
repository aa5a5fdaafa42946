"""turnstile.diagrams: the chart (and traces over it) as DOT, SVG, PNG and Mermaid."""

__all__: list[str] = []
