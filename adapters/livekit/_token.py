"""LiveKit settings from the environment, and the agent's access token.

Settings problems are reported as one line (a :class:`SettingsError`), never a traceback:
they are the first thing a user gets wrong.
"""

from __future__ import annotations

import datetime
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import SecretStr

__all__ = ["LiveKitSettings", "SettingsError", "agent_token", "default_identity"]

_SCHEMES = {"ws": "ws", "wss": "wss", "http": "ws", "https": "wss"}


class SettingsError(ValueError):
    """A missing or malformed setting; its message is one line meant for the user."""


@dataclass(frozen=True, slots=True, init=False)
class LiveKitSettings:
    """Where the LiveKit server is and the credentials to mint tokens for it.

    ``api_secret`` is held as a SecretStr: it shows as ``**********`` in reprs, logs and
    JSON dumps; ``settings.api_secret.get_secret_value()`` is the one way to read it.
    The API key is an identifier (every token names it as its issuer), not a secret.
    """

    url: str
    api_key: str
    api_secret: SecretStr

    def __init__(self, url: str, api_key: str, api_secret: str | SecretStr) -> None:
        secret = api_secret.get_secret_value() if isinstance(api_secret, SecretStr) else api_secret
        if not isinstance(api_key, str) or not api_key.strip():
            raise SettingsError("the LiveKit API key is empty")
        if not isinstance(secret, str) or not secret.strip():
            raise SettingsError("the LiveKit API secret is empty")  # never echoed, even wrong
        object.__setattr__(self, "url", normalize_url(url))
        object.__setattr__(self, "api_key", api_key.strip())
        object.__setattr__(self, "api_secret", SecretStr(secret.strip()))

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
        return cls(url=env["LIVEKIT_URL"], api_key=env["LIVEKIT_API_KEY"], api_secret=env["LIVEKIT_API_SECRET"])


def normalize_url(url: str) -> str:
    """``wss://host`` as the SDK wants it; ``https://host`` (as dashboards show it) too."""
    if not isinstance(url, str):
        raise SettingsError(f"the LiveKit URL must be a str, not {type(url).__name__}")
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
        api.AccessToken(settings.api_key, settings.api_secret.get_secret_value())
        .with_identity(identity)
        .with_name(name)
        .with_kind("agent")
        .with_grants(grants)
        .with_ttl(ttl)
    )
    return token.to_jwt()
