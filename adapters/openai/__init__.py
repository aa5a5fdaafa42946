"""OpenAI Realtime API adapter (GA and beta/Azure wire dialects)."""

__all__: list[str] = []
