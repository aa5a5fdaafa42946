"""One OpenAI Realtime conversation over an aiohttp websocket, reconnecting on a drop.

The port's methods are synchronous: they queue a frame for the writer task and return, so
the chart's actions never wait on the network. While the socket is down, control frames
are dropped (the conversation is replayed from the agent's chat context on reconnect) and
the agent holds the user's audio in its own bounded buffer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from turnstile.machine import (
    Capabilities,
    ChatContext,
    ProviderEvent,
    SessionReady,
    ToolOutput,
    ToolSchema,
)

from .._socket import ReconnectingSocket, socket_settings
from . import _beta as beta
from . import _ga as ga
from ._mapping import DeltaFrames, EventMapper, history_items
from ._protocol import (
    ClientEventModel,
    ConversationItemDelete,
    ConversationItemTruncate,
    InputAudioBufferClear,
    InputAudioBufferCommit,
    ProtocolError,
    ResponseCancel,
    UnknownServerEvent,
    dump_client_event,
    encode_audio,
    parse_server_event,
)

if TYPE_CHECKING:
    from ._config import OpenAIRealtime

__all__ = ["OpenAIRealtimeSession"]

logger = logging.getLogger("turnstile.openai")

_APPEND_HEAD = '{"type":"input_audio_buffer.append","audio":"'


class OpenAIRealtimeSession(ReconnectingSocket):
    def __init__(
        self,
        provider: OpenAIRealtime,
        chat_ctx: ChatContext,
        tools: Sequence[ToolSchema],
        on_event: Callable[[ProviderEvent], None],
    ) -> None:
        super().__init__(on_event, **socket_settings(provider))
        self._p = provider
        self.chat_ctx = chat_ctx  # the agent's own, live: replayed as it is at reconnect
        self.tools = list(tools)
        self._mapper = EventMapper()
        self._deltas = DeltaFrames(provider.dialect)

    @property
    def capabilities(self) -> Capabilities:
        return self._p.capabilities

    # The socket -----------------------------------------------------------------------
    def headers(self) -> dict[str, str]:
        return self._p.headers()

    def opening_frames(self) -> list[str]:
        self._mapper = EventMapper()
        events: list[ClientEventModel] = [self._p.session_update(self.tools)]
        if self.connects > 1:
            events += history_items(self.chat_ctx, self._p.dialect)
        return [dump_client_event(e) for e in events]

    def on_frame(self, raw: str | bytes) -> None:
        try:
            # Most frames are deltas: one event each, no mapper state, taken the short way.
            delta = self._deltas.map(raw)
        except ProtocolError as exc:
            self._malformed(exc)
            return
        if delta is not None:
            self._emit(delta)
            return
        try:
            ev = parse_server_event(raw, self._p.dialect)
            if isinstance(ev, UnknownServerEvent):
                self.unknown_events += 1
                logger.info("unknown server event type %r ignored", ev.type)
                return
            was_ready = self._mapper.session_updated
            # Mapped in full before anything is emitted: the audio is decoded here, and an
            # invalid payload drops the whole frame rather than half of what it meant.
            mapped = self._mapper.map(ev)
        except ProtocolError as exc:
            self._malformed(exc)
            return
        for out in mapped:
            self._emit(out)
        if not was_ready and self._mapper.session_updated:
            self.mark_ready()
            self._emit(SessionReady())

    def _malformed(self, exc: ProtocolError) -> None:
        self.malformed_events += 1
        logger.warning("malformed server event (%s): %s", exc.event_type or "?", exc)

    def _send(self, event: ClientEventModel) -> None:
        self.send_text(dump_client_event(event))

    # The port -------------------------------------------------------------------------
    def push_audio(self, pcm: bytes) -> None:
        # Ten a second per call: the frame ``InputAudioBufferAppend.from_pcm(pcm)`` dumps
        # to, written out directly (base64 needs no JSON escaping); a test holds them equal.
        self.send_text(_APPEND_HEAD + encode_audio(pcm) + '"}')

    def commit_audio(self) -> None:
        self._send(InputAudioBufferCommit())

    def clear_audio(self) -> None:
        self._send(InputAudioBufferClear())

    # Manual turns (push-to-talk): the input buffer is the turn. Allowed with server VAD on
    # too (it may commit a turn of its own on a pause); turn_detection=None leaves the
    # turn's edges to the agent alone.
    def start_user_turn(self) -> None:
        self._send(InputAudioBufferClear())  # what came before the press is not the turn

    def commit_user_turn(self) -> None:
        # A commit never gets an answer by itself, even where server VAD's create_response
        # is on: the agent's create_response that follows asks for it.
        self._send(InputAudioBufferCommit())

    def clear_user_turn(self) -> None:
        self._send(InputAudioBufferClear())

    def create_response(self, instructions: str | None = None) -> None:
        if self._p.dialect == "beta":
            params = None if instructions is None else beta.BetaResponseParams(instructions=instructions)
            self._send(beta.BetaResponseCreate(response=params))
        else:
            params_ga = None if instructions is None else ga.ResponseCreateParams(instructions=instructions)
            self._send(ga.ResponseCreate(response=params_ga))

    def cancel_response(self) -> None:
        self._send(ResponseCancel())

    def truncate(self, item_id: str, content_index: int, audio_end_ms: int) -> None:
        self._send(
            ConversationItemTruncate(item_id=item_id, content_index=content_index, audio_end_ms=audio_end_ms)
        )

    def delete_item(self, item_id: str) -> None:
        self._send(ConversationItemDelete(item_id=item_id))

    def recover_from_text_response(self, item_id: str) -> None:
        # Forget the text answer and ask again, saying explicitly that audio is wanted.
        self._send(ConversationItemDelete(item_id=item_id))
        if self._p.dialect == "beta":
            self._send(beta.BetaResponseCreate(response=beta.BetaResponseParams(modalities=["audio", "text"])))
        else:
            self._send(ga.ResponseCreate(response=ga.ResponseCreateParams(output_modalities=["audio"])))

    def send_tool_outputs(self, outputs: Sequence[ToolOutput]) -> None:
        create = beta.BetaConversationItemCreate if self._p.dialect == "beta" else ga.ConversationItemCreate
        for out in outputs:
            self._send(create(item=ga.FunctionCallOutputItem(call_id=out.call_id, output=out.output)))

    def update_chat_ctx(self, ctx: ChatContext) -> None:
        # The server's copy is rebuilt on the next connection; items already on the server
        # stay as they are (they were created from what was heard).
        self.chat_ctx = ctx

