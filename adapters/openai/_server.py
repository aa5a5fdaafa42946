"""A loopback OpenAI Realtime server that plays a scenario, for tests, demos and benchmarks.

    async with OpenAIRealtimeServer(load_scenario()) as srv:
        ws = await session.ws_connect(f"{srv.url}?model=gpt-realtime",
                                      headers={"Authorization": "Bearer sk-anything"})

It speaks the real wire protocol on the real paths, in both dialects:

* GA: ``/v1/realtime?model=...`` with ``Authorization: Bearer <key>``.
* beta: the same path with the header ``OpenAI-Beta: realtime=v1``, or the Azure
  path ``/openai/realtime?api-version=...&deployment=...`` with an ``api-key``
  header (Azure's GA path ``/openai/v1/realtime?model=...`` speaks GA).

Browsers cannot set headers on a websocket; like the real server it also takes
the key as the subprotocol ``openai-insecure-api-key.<key>``. A request without
a key (or with the wrong one, when the server was given one) is refused with
HTTP 401 before the upgrade, as the real endpoint does.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web

from .._loopback import KEEP_CONNECTIONS, BoundedDict, BoundedLog, Handler, LoopbackServer
from ..scenario import Scenario, load_scenario
from ._protocol import Dialect
from ._server_codec import ClientEvent
from ._server_session import RealtimeConnection

__all__ = ["ConnectionRecord", "OpenAIRealtimeServer"]

_KEY_PROTOCOL = "openai-insecure-api-key."


@dataclass
class ConnectionRecord:
    """What one connection asked for and sent (for assertions and benchmarks).

    ``received`` keeps the newest client events (``BoundedLog``), and keeps
    ``input_audio_buffer.append`` events without their audio: a long call must not
    grow the server.
    """

    dialect: Dialect
    model: str
    path: str
    deployment: str | None = None  # Azure: the deployment named in the URL
    received: list[ClientEvent] = field(default_factory=BoundedLog)
    user_audio_ms: dict[str, float] = field(default_factory=BoundedDict)
    """Committed user item id -> ms of input audio in it (what the turn was made of)."""
    closed: asyncio.Event = field(default_factory=asyncio.Event)


class OpenAIRealtimeServer(LoopbackServer):
    """An aiohttp websocket server on ``host:port`` (0: any free port) replaying ``scenario``.

    ``pace`` is how fast replies stream relative to real time: 1.0 plays 1 s of
    audio per second; the default 4.0 streams ahead, as the real API does;
    ``math.inf`` sends as fast as the socket takes it. ``api_key``: the only key
    accepted (default: any non-empty key).
    """

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        pace: float = 4.0,
        default_model: str = "gpt-realtime",
        azure_model: str = "gpt-4o-realtime-preview",
    ) -> None:
        if pace <= 0:
            raise ValueError("pace must be positive")
        self.scenario = scenario if scenario is not None else load_scenario()
        self.host, self.port = host, port
        self.api_key = api_key
        self.pace = pace
        self.default_model = default_model
        self.azure_model = azure_model
        # Both bounded: the newest connections, the newest items.
        self.connections: list[ConnectionRecord] = BoundedLog(KEEP_CONNECTIONS)
        self.audio_sent_ms: dict[str, float] = BoundedDict()  # assistant item id -> ms of its audio sent
        self._runner: web.AppRunner | None = None
        self._sockets: set[web.WebSocketResponse] = set()

    # ------------------------------------------------------------ addresses

    @property
    def received(self) -> list[list[ClientEvent]]:
        """Parsed client events, one list per connection, in connection order."""
        return [c.received for c in self.connections]

    @property
    def url(self) -> str:
        """The GA endpoint; add ``?model=...``."""
        return f"ws://{self._authority}/v1/realtime"

    @property
    def azure_url(self) -> str:
        """The Azure (beta dialect) endpoint; add ``?api-version=...&deployment=...``."""
        return f"ws://{self._authority}/openai/realtime"

    @property
    def base_url(self) -> str:
        """``AsyncOpenAI(base_url=...)``: enough for the SDK's GA ``client.realtime.connect``."""
        return f"http://{self._authority}/v1"

    @property
    def websocket_base_url(self) -> str:
        """``AsyncOpenAI(websocket_base_url=...)``: the SDK's beta client insists on wss:// without it."""
        return f"ws://{self._authority}/v1"

    @property
    def azure_websocket_base_url(self) -> str:
        """``AsyncAzureOpenAI(websocket_base_url=...)``, for the same reason."""
        return f"ws://{self._authority}/openai"

    # ------------------------------------------------------------ lifecycle

    def routes(self) -> dict[str, Handler]:
        return {path: self._handle for path in ("/v1/realtime", "/openai/realtime", "/openai/v1/realtime")}

    async def close_connections(self) -> None:
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"server shutting down")

    # ------------------------------------------------------------ handshake

    def _refuse(self, message: str, *, status: int = 401, code: str | None = "invalid_api_key") -> web.Response:
        error = {"message": message, "type": "invalid_request_error", "param": None, "code": code}
        return web.json_response({"error": error}, status=status)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        azure = request.path.startswith("/openai/")
        key = request.headers.get("api-key") if azure else None
        auth = request.headers.get("Authorization", "")
        if not key and auth.lower().startswith("bearer "):
            key = auth[7:].strip()
        if not key:
            key = next((p[len(_KEY_PROTOCOL) :] for p in offered if p.startswith(_KEY_PROTOCOL)), None)
        if not key:
            return self._refuse(
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                code=None,
            )
        if self.api_key is not None and key != self.api_key:
            return self._refuse("Incorrect API key provided.")
        if request.path == "/openai/realtime":
            dialect: Dialect = "beta"  # Azure's preview path only speaks beta
            deployment = request.query.get("deployment", "")
            # The session reports the model behind the deployment, not the deployment's name.
            model = self.azure_model
            if not deployment or not request.query.get("api-version"):
                return self._refuse(
                    "Azure realtime requests need 'api-version' and 'deployment' query parameters.",
                    status=400, code="invalid_value",
                )  # fmt: skip
        else:
            beta = "realtime=v1" in request.headers.get("OpenAI-Beta", "") or "openai-beta.realtime-v1" in offered
            dialect = "beta" if beta else "ga"
            model = request.query.get("model", self.default_model)
            deployment = None
        ws = web.WebSocketResponse(protocols=("realtime",), max_msg_size=16 * 1024 * 1024, autoping=True)
        transport = request.transport
        await ws.prepare(request)
        record = ConnectionRecord(dialect=dialect, model=model, path=request.path, deployment=deployment)
        self.connections.append(record)
        self._sockets.add(ws)

        def drop() -> None:
            # A dropped socket, not a goodbye: no close frame, the TCP connection just ends.
            if transport is not None:
                transport.abort()

        conn = RealtimeConnection(
            ws, dialect=dialect, model=model, scenario=self.scenario, pace=self.pace, received=record.received,
            audio_sent_ms=self.audio_sent_ms, user_audio_ms=record.user_audio_ms, drop=drop,
        )  # fmt: skip
        try:
            await conn.run()
        finally:
            self._sockets.discard(ws)
            record.closed.set()
        return ws
