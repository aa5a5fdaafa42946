"""``turnstile demo --inspect``: the demo call, watched in the inspector.

Without a URL the demo serves its own inspector, waits for the page to be opened (so the
call is watched from its first state), and keeps serving after the call until Ctrl-C.
With a URL (a ``turnstile inspect`` running elsewhere) it only publishes there.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from ._publisher import InspectorPublisher, attach_inspector
from ._server import InspectorServer

__all__ = ["DemoInspector"]


class DemoInspector:
    def __init__(self, url: str) -> None:
        self._server = InspectorServer() if not url else None
        self._url = url
        self._publisher: InspectorPublisher | None = None

    @property
    def serving(self) -> bool:
        return self._server is not None

    @property
    def page_url(self) -> str | None:
        return self._server.url if self._server is not None else None

    async def __aenter__(self) -> DemoInspector:
        if self._server is not None:
            await self._server.start()
            self._url = self._server.publish_url
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._publisher is not None:
            await self._publisher.aclose()
        if self._server is not None:
            await self._server.aclose()

    async def wait_for_page(self, stop: asyncio.Event) -> bool:
        """Own inspector: print its URL and wait for a page to open it (False: stopped first)."""
        if self._server is None:
            print(f"inspector: publishing to {self._url.split('?', 1)[0]}", flush=True)
            return True
        print(f"inspector: open {self._server.url} to watch; the call starts when the page is open", flush=True)
        opened = asyncio.ensure_future(self._server.hub.watcher_joined.wait())
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({opened, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (opened, stopped):
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter
        return not stop.is_set()

    def attach(self, agent: Any) -> None:
        self._publisher = attach_inspector(agent, self._url, room="turnstile demo")

    async def linger(self, stop: asyncio.Event) -> None:
        """Own inspector: keep the page up after the call, until ``stop``."""
        if self._server is not None:
            print(f"inspector: still serving {self._server.url} (Ctrl-C to stop)", flush=True)
            await stop.wait()
