"""Gemini Live API adapter (BidiGenerateContent), for the Gemini API or Vertex AI.

    from turnstile.adapters.gemini import GeminiLive
    provider = GeminiLive(voice="Puck", instructions="Be brief.")
"""

from ._config import GeminiLive, LiveOptions
from ._session import GeminiLiveSession

__all__ = ["GeminiLive", "GeminiLiveSession", "LiveOptions"]
