"""A loopback Gemini Live API server that plays a scenario, for tests, demos and benchmarks.

    async with GeminiLiveServer(load_scenario()) as srv:
        ws = await session.ws_connect(srv.url, headers={"x-goog-api-key": "anything"})
        await ws.send_str('{"setup": {"model": "models/gemini-live-2.5-flash-preview"}}')

It speaks the BidiGenerateContent websocket protocol on the service's paths:

* Gemini API: ``/ws/google.ai.generativelanguage.{v1beta,v1,v1alpha}.GenerativeService.BidiGenerateContent``,
  the key as the ``key`` query parameter or an ``x-goog-api-key`` header (an
  ``Authorization: Bearer`` token works too); ephemeral tokens on
  ``...v1alpha.GenerativeService.BidiGenerateContentConstrained`` as
  ``access_token`` or ``Authorization: Token <token>``.
* Vertex AI: ``/ws/google.cloud.aiplatform.{v1beta1,v1}.LlmBidiService/BidiGenerateContent``
  with ``Authorization: Bearer <token>`` (or an express-mode ``x-goog-api-key``).

Credentials are not refused before the upgrade: like the service, the server
accepts the websocket and closes it when the first message arrives, with 1008
and "Method doesn't allow unregistered callers ..." when none were sent, or
1007 "API key not valid. Please pass a valid API key." when the server was
given a key and another one came.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .._loopback import KEEP_CONNECTIONS, BoundedDict, BoundedLog, Handler, LoopbackServer
from ..scenario import Scenario, load_scenario
from ._client import ClientMessage, Setup
from ._loopback_codec import BAD_KEY, CLOSE_INVALID, CLOSE_POLICY, NO_KEY, CloseError
from ._loopback_reply import ReplyRecord
from ._loopback_session import LiveConnection, SessionState

__all__ = ["ConnectionRecord", "GeminiLiveServer", "ReplyRecord"]

KEEP_REPLY_AUDIO = 32

_GEMINI = "/ws/google.ai.generativelanguage.{}.GenerativeService.BidiGenerateContent"
_VERTEX = "/ws/google.cloud.aiplatform.{}.LlmBidiService/BidiGenerateContent"
PATHS = {  # path -> the API it serves (google-genai 3.x connects to the Gemini API's v1 by default)
    _GEMINI.format("v1beta"): "v1beta",
    _GEMINI.format("v1"): "v1",
    _GEMINI.format("v1alpha"): "v1alpha",
    _GEMINI.format("v1alpha") + "Constrained": "v1alpha",
    _VERTEX.format("v1beta1"): "vertex",
    _VERTEX.format("v1"): "vertex",
}


@dataclass
class ConnectionRecord:
    """What one connection asked for, sent and was sent (for assertions and benchmarks).

    Every list keeps its newest entries (``BoundedLog``); audio is kept only as the
    newest replies' PCM (``ReplyRecord.audio``): ``received`` and ``sent`` hold the
    messages with their base64 audio blanked, so a long call does not grow the server.
    """

    path: str
    api: str  # "v1beta", "v1", "v1alpha" or "vertex"
    key: str | None
    setup: Setup | None = None
    model: str | None = None
    received: list[ClientMessage] = field(default_factory=BoundedLog)
    unmodelled: list[str] = field(default_factory=BoundedLog)  # accepted fields our client models lack
    sent: list[dict[str, Any]] = field(default_factory=BoundedLog)  # server messages, as JSON objects
    replies: list[ReplyRecord] = field(default_factory=BoundedLog)
    caller_turns: list[str] = field(default_factory=BoundedLog)  # transcripts of the caller turns heard
    caller_audio_ms: list[float] = field(default_factory=BoundedLog)  # audio inside each of those turns
    unmatched_responses: list[str] = field(default_factory=BoundedLog)  # toolResponse ids no pending call had
    resumed_from: str | None = None
    close_code: int | None = None  # set when the server closed the connection
    close_reason: str | None = None
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def audio_sent(self) -> list[bytes]:
        """The audio of each reply, in order."""
        return [bytes(r.audio) for r in self.replies]


class GeminiLiveServer(LoopbackServer):
    """An aiohttp websocket server on ``host:port`` (0: any free port) replaying ``scenario``.

    ``pace``: how fast replies are generated relative to real time (1.0 real
    time; 4.0, the default, streams ahead as the service does; ``math.inf`` as
    fast as the socket takes it). ``playout_speed``: the playback rate the
    server assumes when holding ``turnComplete`` until a reply's audio has
    played (1.0, as the service; ``math.inf`` does not wait). ``api_key``: the
    only key accepted (default: any). ``go_away_time_left``: seconds between a
    scenario's goAway fault and the close. ``ssl_context``: serve ``wss://``
    (clients such as google-genai only connect over TLS). ``voice_activity``: report
    what automatic activity detection hears as ``voiceActivity`` messages (``type``
    ``ACTIVITY_START`` / ``ACTIVITY_END``, with the ``audioOffset`` it was heard at), as
    gemini-3.1-flash-live-preview does unasked; False plays a model that sends none
    (the gemini-3.8-live models, for now). Never for the client's own activityStart / End.
    """

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        pace: float = 4.0,
        playout_speed: float = 1.0,
        go_away_time_left: float = 1.0,
        ssl_context: ssl.SSLContext | None = None,
        voice_activity: bool = True,
    ) -> None:
        if pace <= 0 or playout_speed <= 0:
            raise ValueError("pace and playout_speed must be positive")
        self.scenario = scenario if scenario is not None else load_scenario()
        self.host, self.port = host, port
        self.api_key = api_key
        self.pace = pace
        self.playout_speed = playout_speed
        self.go_away_time_left = go_away_time_left
        self.ssl_context = ssl_context
        self.voice_activity = voice_activity
        self.connections: list[ConnectionRecord] = BoundedLog(KEEP_CONNECTIONS)  # the newest
        # Session resumption handles issued, across connections: the newest stay valid.
        self.handles: dict[str, SessionState] = BoundedDict()
        self.reply_audio_kept = KEEP_REPLY_AUDIO  # replies, server-wide, whose audio the records keep
        self._with_audio: deque[ReplyRecord] = deque()
        self._live: list[LiveConnection] = []
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------ addresses

    @property
    def received(self) -> list[list[ClientMessage]]:
        """Parsed client messages, one list per connection, in connection order."""
        return [c.received for c in self.connections]

    @property
    def url(self) -> str:
        """The Gemini API (v1beta) endpoint."""
        return f"{self._ws}://{self._authority}{_GEMINI.format('v1beta')}"

    @property
    def v1alpha_url(self) -> str:
        return f"{self._ws}://{self._authority}{_GEMINI.format('v1alpha')}"

    @property
    def vertex_url(self) -> str:
        """The Vertex AI (v1beta1) endpoint."""
        return f"{self._ws}://{self._authority}{_VERTEX.format('v1beta1')}"

    @property
    def base_url(self) -> str:
        """``HttpOptions(base_url=...)`` for google-genai (which needs ``ssl_context``: it only speaks wss)."""
        return f"{'https' if self.ssl_context else 'http'}://{self._authority}"

    @property
    def _ws(self) -> str:
        return "wss" if self.ssl_context else "ws"

    # ------------------------------------------------------------ lifecycle

    def routes(self) -> dict[str, Handler]:
        return {path: self._handle for path in PATHS}

    async def close_connections(self) -> None:
        for conn in list(self._live):
            await conn.close(1001, "server shutting down")

    def keep_reply(self, record: ReplyRecord) -> None:
        """Record a reply; the audio of replies older than the newest ``reply_audio_kept`` is let go."""
        self._with_audio.append(record)
        while len(self._with_audio) > self.reply_audio_kept:
            old = self._with_audio.popleft()
            old.audio = bytearray()
            old.audio_released = True

    def go_away(self, time_left: float = 1.0) -> None:
        """Tell every open connection it will close in ``time_left`` seconds (``goAway``), then close them."""
        for conn in self._live:
            conn.go_away(time_left)

    # ------------------------------------------------------------ handshake

    def _credentials(self, request: web.Request) -> str | None:
        auth = request.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        candidates = (
            request.query.get("key"), request.headers.get("x-goog-api-key"), request.query.get("access_token"),
            token.strip() if scheme.lower() in ("bearer", "token") else None,
        )  # fmt: skip
        return next((c for c in candidates if c), None)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        key = self._credentials(request)
        refusal = None
        if key is None:
            refusal = CloseError(CLOSE_POLICY, NO_KEY)
        elif self.api_key is not None and key != self.api_key:
            refusal = CloseError(CLOSE_INVALID, BAD_KEY)
        ws = web.WebSocketResponse(max_msg_size=16 * 1024 * 1024, autoping=True)
        transport = request.transport
        await ws.prepare(request)
        record = ConnectionRecord(path=request.path, api=PATHS[request.path], key=key)
        self.connections.append(record)

        def drop() -> None:
            if transport is not None:
                transport.abort()

        conn = LiveConnection(self, ws, record, scenario=self.scenario, refusal=refusal, drop=drop)
        self._live.append(conn)
        try:
            await conn.run()
        finally:
            self._live.remove(conn)
            record.closed.set()
        return ws
