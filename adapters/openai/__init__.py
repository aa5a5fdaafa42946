"""OpenAI Realtime API adapter (the GA dialect by default; beta for Azure OpenAI).

    from turnstile.adapters.openai import OpenAIRealtime, ServerVad
    provider = OpenAIRealtime(voice="marin", turn_detection=ServerVad(silence_duration_ms=400))
"""

from ._config import InputTranscription, OpenAIRealtime, RealtimeOptions, SemanticVad, ServerVad
from ._session import OpenAIRealtimeSession

__all__ = [
    "InputTranscription",
    "OpenAIRealtime",
    "OpenAIRealtimeSession",
    "RealtimeOptions",
    "SemanticVad",
    "ServerVad",
]
