"""``turnstile inspect``: serve the inspector until Ctrl-C (the CLI's hunk calls this)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from .._cli_errors import CliError, os_reason
from ._server import InspectorServer

__all__ = ["DEFAULT_PORT", "serve_inspector"]

DEFAULT_PORT = 8765
"""A fixed default, so that ``TURNSTILE_INSPECT=ws://127.0.0.1:8765`` can be set once."""


async def serve_inspector(
    host: str, port: int, *, until: Callable[[], Awaitable[None]], chart: type | None = None
) -> None:
    server = InspectorServer(host, port, chart=chart)
    try:
        await server.start()
    except OSError as exc:  # the port is taken, the address is not this machine's
        raise CliError(f"cannot listen on {host}:{port}: {os_reason(exc)}") from None
    try:
        print(f"Turnstile inspector: open {server.url}", flush=True)
        print(f"  agents publish with inspector={server.publish_url!r} or TURNSTILE_INSPECT={server.publish_url}",
              flush=True)  # fmt: skip
        if server.token_required:
            print("  (reachable from other machines: the token in these URLs is required)", flush=True)
        await until()
    finally:
        await server.aclose()
