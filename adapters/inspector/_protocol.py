"""What crosses the wire between an agent's publisher, the inspector server and the page.

A process's publishers share one connection to ``/publish`` per inspector URL, and send
JSON text frames ``{"frames": [{"session": id, "dropped": n, "messages": [...]}, ...]}``:
one batch per session that had something new (a frame that is one such batch alone, as
publishers before the shared connection sent, is read too). Within a batch the messages
are in time order. Each message is a dict with a ``type`` and ``t``, the seconds since the
session's trace started (one clock for every fact of a session, the trace's own):

- ``hello``: who the session is (room, participant, provider, chart and its DOT), its
  state and configuration now; sent first on every (re)connection.
- ``transition``: a trace record (event, source, target, region when the chart has one).
- ``state`` (the main region's leaf changed), ``config`` (any region's leaf changed).
- ``speech`` (who: user/agent, phase: start/stop), ``transcript`` (role, text, interrupted),
  ``barge_in`` (heard_ms: how much of the cut reply was played, text: what was heard),
  ``tools`` (phase: start/end, calls), ``error``, ``metrics``, ``bye``.

Nothing secret is in any of them: no headers, keys or tokens; transcripts only when asked.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "PUBLISH_PATH",
    "TOKEN_PARAM",
    "WATCH_PATH",
    "is_loopback_host",
    "publish_url",
    "redact",
]

PUBLISH_PATH = "/publish"
WATCH_PATH = "/watch"
TOKEN_PARAM = "token"


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def publish_url(url: str) -> str:
    """``ws://host:port`` (as users write it, or http://) -> the publish endpoint, token kept."""
    parts = urlsplit(url.strip())
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"an inspector URL looks like ws://127.0.0.1:8765, not {redact(url)!r}")
    path = parts.path if parts.path not in ("", "/") else PUBLISH_PATH
    return urlunsplit((scheme, parts.netloc, path, parts.query, ""))


def redact(url: str) -> str:
    """The URL without its token (for logs and errors)."""
    parts = urlsplit(url)
    query = [(k, "***" if k == TOKEN_PARAM else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query, safe="*"), ""))
