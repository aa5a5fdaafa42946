"""LiveKit settings from the environment, and the agent's access token.

Settings problems are reported as one line (a :class:`SettingsError`), never a traceback:
they are the first thing a user gets wrong.
"""

from __future__ import annotations

import datetime
import os
import secrets
from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import urlsplit

__all__ = ["LiveKitSettings", "SettingsError", "agent_token", "default_identity"]

_SCHEMES = {"ws": "ws", "wss": "wss", "http": "ws", "https": "wss"}


class SettingsError(ValueError):
    """A missing or malformed setting; its message is one line meant for the user."""


class LiveKitSettings(NamedTuple):
    url: str
    api_key: str
    api_secret: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LiveKitSettings:
        env = os.environ if environ is None else environ
        names = ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")
        missing = [n for n in names if not env.get(n, "").strip()]
        if missing:
            raise SettingsError(
                f"{', '.join(missing)} not set: export the URL and API key/secret of your "
                "LiveKit server or Cloud project"
            )
        return cls(
            url=normalize_url(env["LIVEKIT_URL"]),
            api_key=env["LIVEKIT_API_KEY"].strip(),
            api_secret=env["LIVEKIT_API_SECRET"].strip(),
        )


def normalize_url(url: str) -> str:
    """``wss://host`` as the SDK wants it; ``https://host`` (as dashboards show it) too."""
    url = url.strip()
    parts = urlsplit(url)
    scheme = _SCHEMES.get(parts.scheme.lower())
    if scheme is None or not parts.netloc:
        raise SettingsError(
            f"LIVEKIT_URL={url!r} is not a LiveKit URL: expected wss://your-project.livekit.cloud "
            "or ws://host:7880"
        )
    return parts._replace(scheme=scheme).geturl()


def default_identity() -> str:
    # Random: two agents with one identity would keep disconnecting each other.
    return f"turnstile-agent-{secrets.token_hex(3)}"


def agent_token(
    settings: LiveKitSettings,
    *,
    room: str,
    identity: str,
    name: str = "turnstile agent",
    ttl: datetime.timedelta = datetime.timedelta(hours=6),
) -> str:
    """A JWT that lets the agent join ``room`` and do what it does there, and no more:
    subscribe (to hear), publish a microphone (its voice), publish data (transcription
    text streams), update its own attributes (``lk.agent.state``). Kind ``agent``, so
    clients recognise it as the agent.
    """
    if not room.strip():
        raise SettingsError("the room name is empty")
    try:
        from livekit import api
    except ImportError as exc:  # pragma: no cover - a broken install
        raise SettingsError("livekit-api is not installed: pip install livekit-api") from exc
    grants = api.VideoGrants(
        room_join=True,
        room=room,
        can_subscribe=True,
        can_publish=True,
        can_publish_sources=["microphone"],
        can_publish_data=True,
        can_update_own_metadata=True,
    )
    token = (
        api.AccessToken(settings.api_key, settings.api_secret)
        .with_identity(identity)
        .with_name(name)
        .with_kind("agent")
        .with_grants(grants)
        .with_ttl(ttl)
    )
    return token.to_jwt()
