"""Gemini Live API (BidiGenerateContent websocket) adapter."""

__all__: list[str] = []
