"""The inspector server: the page, its files, the sessions' data, and the two websockets.

It binds 127.0.0.1 unless told otherwise. Any other address asks for a token (one is made
up when none is given): the page's URL carries it once, a cookie after that, and agents
put it in the URL they publish to. Access logs are off, so no token is ever logged.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path

from aiohttp import web

from ._hub import Hub
from ._protocol import PUBLISH_PATH, TOKEN_PARAM, WATCH_PATH, is_loopback_host
from ._render import ChartRenderer, RenderFailed
from ._sessions import Sessions

__all__ = ["InspectorServer"]

_COOKIE = "turnstile_inspector"
_MAX_DOT = 1024 * 1024
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _static_dir() -> Path:
    return Path(str(resources.files(__package__ or "turnstile.adapters.inspector") / "static"))


class InspectorServer:
    """``async with InspectorServer() as server: print(server.url)``.

    ``url`` is the page (with the token when there is one); ``publish_url`` is what
    agents are given (``RealtimeAgent(..., inspector=server.publish_url)``).
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, token: str | None = None, chart: type | None = None
    ) -> None:
        self.host = host
        self.port = port
        if token is None and not is_loopback_host(host):
            token = secrets.token_urlsafe(18)  # reachable from elsewhere: never open to all
        self._token = token
        self._chart = chart
        self.sessions = Sessions()
        self.hub = Hub(self.sessions)
        self._renderer = ChartRenderer()
        self._runner: web.AppRunner | None = None

    def __repr__(self) -> str:  # never the token
        return f"InspectorServer(host={self.host!r}, port={self.port}, token={'set' if self._token else 'none'})"

    @property
    def token_required(self) -> bool:
        return self._token is not None

    def _base(self, scheme: str) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    def _query(self) -> str:
        return f"?{TOKEN_PARAM}={self._token}" if self._token else ""

    @property
    def url(self) -> str:
        return f"{self._base('http')}/{self._query()}"

    @property
    def publish_url(self) -> str:
        return f"{self._base('ws')}{PUBLISH_PATH}{self._query()}"

    async def __aenter__(self) -> InspectorServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        app = web.Application(middlewares=[self._guard], client_max_size=_MAX_DOT)
        app.router.add_get("/", self._index)
        app.router.add_static("/static/", _static_dir(), follow_symlinks=False)
        app.router.add_get(PUBLISH_PATH, self.hub.publish)
        app.router.add_get(WATCH_PATH, self.hub.watch)
        app.router.add_get("/api/sessions", self._list)
        app.router.add_get("/api/sessions/{id}/chart.svg", self._session_chart)
        app.router.add_get("/api/sessions/{id}/recording.jsonl", self._recording)
        app.router.add_get("/api/chart.svg", self._default_chart)
        app.router.add_post("/api/render", self._render_posted)
        # access_log=None: a request line carries the token in its query.
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await self._runner.cleanup()
            self._runner = None
            raise
        server = site._server  # aiohttp exposes the bound port only here
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])

    async def aclose(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await self.hub.close()
            await runner.cleanup()

    # Access -------------------------------------------------------------------------------
    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self._token is None:
            return await handler(request)
        given = request.query.get(TOKEN_PARAM) or request.cookies.get(_COOKIE) or ""
        if not secrets.compare_digest(given.encode(), self._token.encode()):
            raise web.HTTPUnauthorized(text="this inspector asks for its token: open the URL it printed\n")
        response = await handler(request)
        if request.query.get(TOKEN_PARAM) and not response.prepared:
            response.set_cookie(_COOKIE, self._token, httponly=True, samesite="Strict")
        return response

    # Pages and data -----------------------------------------------------------------------
    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(_static_dir() / "index.html", headers={"Cache-Control": "no-store"})

    async def _list(self, request: web.Request) -> web.Response:
        return web.json_response([s.summary() for s in self.sessions])

    async def _svg(self, dot: str) -> web.Response:
        try:
            svg = await self._renderer.svg(dot)
        except RenderFailed as exc:
            return web.Response(status=503, text=str(exc))
        return web.Response(text=svg, content_type="image/svg+xml")

    async def _session_chart(self, request: web.Request) -> web.Response:
        session = self.sessions.get(request.match_info["id"])
        if session is None:
            raise web.HTTPNotFound(text="no such session")
        return await self._svg(str(session.hello.get("dot") or ""))

    async def _default_chart(self, request: web.Request) -> web.Response:
        """The chart offline traces are drawn over: ``--chart``'s, else AgentChart."""
        from turnstile.diagrams import chart_dot
        from turnstile.machine import AgentChart

        return await self._svg(chart_dot(self._chart or AgentChart).source)

    async def _render_posted(self, request: web.Request) -> web.Response:
        """A recording opened from disk carries its chart's DOT: lay it out."""
        return await self._svg(await request.text())

    async def _recording(self, request: web.Request) -> web.Response:
        session = self.sessions.get(request.match_info["id"])
        if session is None:
            raise web.HTTPNotFound(text="no such session")
        lines = [json.dumps(session.hello, separators=(",", ":"))]
        lines += [json.dumps(m, separators=(",", ":")) for m in session.messages]
        name = f"turnstile-{session.id}.jsonl"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        return web.Response(text="\n".join(lines) + "\n", content_type="application/x-ndjson", headers=headers)


