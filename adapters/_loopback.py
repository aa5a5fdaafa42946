"""What the loopback servers share: an aiohttp app on a port of their own choosing.

A provider's server says which paths it serves and how to close its open connections;
this class binds the socket (port 0 resolves to a free port that can be read back), runs
the app, and is an async context manager.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self

from aiohttp import web

__all__ = ["LoopbackServer"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class LoopbackServer:
    host: str
    port: int
    ssl_context: ssl.SSLContext | None = None
    _runner: web.AppRunner | None = None

    def routes(self) -> dict[str, Handler]:
        """Path -> websocket handler."""
        raise NotImplementedError

    async def close_connections(self) -> None:
        """Close every open connection the way the provider's server does on shutdown."""
        raise NotImplementedError

    @property
    def _authority(self) -> str:
        if self._runner is None:
            raise RuntimeError("the server is not started")
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        for path, handler in self.routes().items():
            app.router.add_get(path, handler)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        # Bound here, not by TCPSite, so port 0 resolves to a port we can read back.
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock, ssl_context=self.ssl_context).start()

    async def close(self) -> None:
        await self.close_connections()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
