"""One Gemini Live conversation over an aiohttp websocket.

Gemini reports errors by closing the socket with a code and a reason, so those become the
agent's error events. A dropped socket resumes the server-side session with the last
resumption handle; ``goAway`` (the server is about to close) is answered the same way, as a
planned hand-off that neither stops playout nor loses queued audio.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from turnstile.machine import (
    Capabilities,
    ChatContext,
    FunctionCall,
    ProviderError,
    ProviderEvent,
    ToolCallsRequested,
    ToolOutput,
    ToolSchema,
)

from .._socket import FatalClose, ReconnectingSocket, socket_settings
from ._client import FunctionCallPart, FunctionResponsePart, Part
from ._mapping import TurnMapper
from ._protocol import (
    ActivityEnd,
    ActivityStart,
    Blob,
    ClientContent,
    Content,
    FunctionResponse,
    ProtocolError,
    RealtimeInput,
    ServerContentMessage,
    ToolResponse,
    UnknownServerMessage,
    dump_client_message,
    parse_server_message,
)

if TYPE_CHECKING:
    from ._config import GeminiLive

__all__ = ["GeminiLiveSession"]

logger = logging.getLogger("turnstile.gemini")

# Close codes a retry cannot fix: the request itself was refused.
_FATAL_CLOSES = {1007: "invalid argument", 1008: "policy violation (key or permissions)"}
NUDGE_TO_AUDIO = "Please say that again out loud."
HOLD_LIMIT_S = 120  # the longest manual turn kept whole (16 kHz PCM16: 3.84 MB)
HOLD_LIMIT_BYTES = HOLD_LIMIT_S * 16000 * 2


class GeminiLiveSession(ReconnectingSocket):
    def __init__(
        self,
        provider: GeminiLive,
        chat_ctx: ChatContext,
        tools: Sequence[ToolSchema],
        on_event: Callable[[ProviderEvent], None],
    ) -> None:
        super().__init__(on_event, **socket_settings(provider))
        self._p = provider
        self.chat_ctx = chat_ctx
        self.tools = list(tools)
        self._mapper = TurnMapper()
        self._handle: str | None = None
        self._in_activity = False
        """An activityStart went on this connection and its activityEnd has not."""
        self._held = _HeldAudio()
        """With automatic activity detection off: the user's audio, kept until a turn ends."""
        self._turn_open = False  # between start_user_turn and its commit or clear
        self._push_to_talk = False  # start_user_turn was used: audio outside a turn is dropped
        self._answer_coming = False
        """An activityEnd asked for the answer, and it has not begun: requests meanwhile are it."""
        self._after_tool_response = False
        self._calls: dict[str, tuple[FunctionCall | None, int]] = {}
        """Calls asked for and not answered yet, with the connection that asked."""
        self._undelivered: list[ToolOutput] = []
        """Outputs that came while the socket was down: delivered once it is ready again."""
        self._unanswered: list[tuple[ToolOutput, FunctionCall | None, int]] = []
        """Outputs sent, with their call and connection, that no model content followed yet:
        if that connection is lost, they go again (as history) on the next one."""
        self._handoff = False
        self._handoff_timer: asyncio.TimerHandle | None = None

    @property
    def capabilities(self) -> Capabilities:
        return self._p.capabilities

    @property
    def resumption_handle(self) -> str | None:
        return self._handle

    # The socket -----------------------------------------------------------------------
    def headers(self) -> dict[str, str]:
        return self._p.headers()

    def opening_frames(self) -> list[str]:
        self._handle = self._mapper.resumption_handle or self._handle
        self._in_activity = False  # a new server session has no activity open
        self._answer_coming = False
        self._mapper = TurnMapper()
        self._mapper.resumption_handle = self._handle
        frames = [dump_client_message(self._p.setup(self.tools, self._handle))]
        if self.connects > 1 and self._handle is None:
            # Nothing to resume: give the new session the conversation as it was heard.
            turns = [
                Content.from_text(m.text, role="user" if m.role == "user" else "model")
                for m in self.chat_ctx.messages
                if m.role in ("user", "assistant") and m.text and not m.tool_call_id
            ]
            if turns:
                frames.append(dump_client_message(ClientContent(turns=turns, turn_complete=False)))
        return frames

    def on_frame(self, raw: str | bytes) -> None:
        try:
            msg = parse_server_message(raw)
            if isinstance(msg, UnknownServerMessage):
                self.unknown_events += 1
                logger.info("unknown server message %s ignored", sorted(msg.raw))
                return
            if isinstance(msg, ServerContentMessage) and self._unanswered:
                # The model is answering on this connection: what it was sent here arrived.
                self._unanswered = [u for u in self._unanswered if u[2] != self.connects]
            if isinstance(msg, ServerContentMessage):
                # Checked before the mapper sees the message: it opens a turn before it
                # decodes the audio, and a bad payload must not leave a turn half-opened.
                for _ in msg.server_content.iter_audio():
                    pass
                if msg.server_content.turn_complete and not self._mapper.turn_open:
                    self._answer_coming = False  # answered with nothing: a turn that stays empty
            mapped = self._mapper.map(msg)
        except ProtocolError as exc:
            self.malformed_events += 1
            logger.warning("malformed server message: %s", exc)
            return
        for ev in mapped:
            if ev.kind == "response_created":
                self._answer_coming = False  # the answer began: a request from now is a new one
            if isinstance(ev, ToolCallsRequested):
                for call in ev.calls:
                    self._calls[call.call_id] = (call, self.connects)
            if ev.kind == "session_ready":
                self.mark_ready()
                self._deliver_again()
                if self._handoff:
                    self._handoff = False
                    continue  # a hand-off: the agent never knew the socket changed
            self._emit(ev)
        if self._mapper.go_away is not None:
            time_left, self._mapper.go_away = self._mapper.go_away, None
            # Let the turn in progress finish on this connection if there is time; a turn
            # still open at the deadline is closed with what arrived, so playout goes on.
            loop = asyncio.get_running_loop()
            self._handoff_timer = loop.call_later(max(0.0, time_left * 0.8), self._hand_off)
        if self._handoff_timer is not None and not self._mapper.turn_open:
            self._hand_off()

    def _hand_off(self) -> None:
        if self._handoff_timer is not None:
            self._handoff_timer.cancel()
            self._handoff_timer = None
        if self._handoff:
            return  # already under way
        logger.info("goAway: resuming on a new connection")
        for ev in self._mapper.close_turn():
            self._emit(ev)
        self._handoff = True
        asyncio.get_running_loop().create_task(self.reconnect_now())

    def close_reason(self, code: int | None, reason: str) -> str:
        if self._planned:
            return "hand-off"  # we closed it ourselves, after goAway
        code = code or 1006  # no close frame: abnormal closure
        if code in _FATAL_CLOSES:
            # No error event here: the socket's SessionLost (for good) carries the code and
            # the reason, and becomes the agent's one fatal error.
            said = f": {reason}" if reason else ""
            raise FatalClose(f"closed by server ({code} {_FATAL_CLOSES[code]}){said}", str(code))
        if code not in (1000, 1001):
            self._emit(ProviderError(code=str(code), message=reason or "the server closed the session"))
        return f"closed by server (code {code}) {reason}".strip()

    # The port -------------------------------------------------------------------------
    def _send(self, msg: object) -> None:
        self.send_text(dump_client_message(msg))  # type: ignore[arg-type]

    # Manual turns. The Live API has no message that takes back realtime input: audio sent
    # inside an activity is the turn, and an activityEnd always closes a turn the model
    # answers. So with automatic activity detection off the audio is held here and sent
    # when the turn ends: a turn cleared (or audio from before it began) is never sent.
    def push_audio(self, pcm: bytes) -> None:
        if self._p.options.automatic_activity_detection:
            self._send(RealtimeInput(audio=Blob.pcm16(pcm, 16000)))
        elif self._turn_open or not self._push_to_talk:
            self._held.append(pcm)
        # else: push-to-talk with the button up: not the user's turn, nothing to keep

    def commit_audio(self) -> None:
        if self._p.options.automatic_activity_detection:
            return
        if self._in_activity or self._held:
            self._end_activity()

    def clear_audio(self) -> None:
        self._held.clear()  # only what is still here: audio sent cannot be taken back

    def start_user_turn(self) -> None:
        if self._p.options.automatic_activity_detection:
            # The service closes the session (1007) on activityStart while it detects activity.
            raise RuntimeError(
                "GeminiLive: manual turns (start_user_turn) need automatic_activity_detection=False"
            )
        self._push_to_talk = self._turn_open = True
        self._held.clear()  # what came before the press is not the turn
        self._answer_coming = False
        if not self._in_activity:
            # Now, not at the commit: under START_OF_ACTIVITY_INTERRUPTS the model stops at once.
            self._in_activity = True
            self._send(RealtimeInput(activity_start=ActivityStart()))

    def commit_user_turn(self) -> None:
        if not self._turn_open:
            logger.warning("commit_user_turn without start_user_turn: nothing to commit")
            return
        self._turn_open = False
        self._end_activity()

    def clear_user_turn(self) -> None:
        # The held audio is dropped, never sent. The activity stays open with nothing in
        # it: an activityEnd would close a turn the model answers, even an empty one. The
        # next start_user_turn goes on in it; its commit closes it.
        self._turn_open = False
        self._held.clear()

    def _end_activity(self) -> None:
        if not self._in_activity:
            self._send(RealtimeInput(activity_start=ActivityStart()))
        for pcm in self._held.take():
            self._send(RealtimeInput(audio=Blob.pcm16(pcm, 16000)))
        self._in_activity = False
        self._send(RealtimeInput(activity_end=ActivityEnd()))
        self._answer_coming = True  # an activityEnd always closes a turn the model answers

    def create_response(self, instructions: str | None = None) -> None:
        # The model goes on by itself once it has the tool responses; and an ended activity
        # is answered by itself: asking again (commit_user_turn's own request, then
        # generate_reply's) would send clientContent, which cuts that answer and asks for
        # another. Every request until it begins is that one answer.
        if self._after_tool_response or self._answer_coming:
            self._after_tool_response = False
            if instructions is not None:
                logger.info("Gemini Live: an answer is already coming; the reply's instructions were not sent")
            return
        # The Live API has no per-response instructions: they go as a user-role text turn.
        turns = None if instructions is None else [Content.from_text(instructions, role="user")]
        self._send(ClientContent(turns=turns, turn_complete=True))

    def cancel_response(self) -> None:
        logger.debug("Gemini Live interrupts by itself; no cancel to send")

    def truncate(self, item_id: str, content_index: int, audio_end_ms: int) -> None:
        logger.debug("Gemini Live has no truncation")

    def delete_item(self, item_id: str) -> None:
        logger.debug("Gemini Live has no item deletion")

    def recover_from_text_response(self, item_id: str) -> None:
        self._send(ClientContent(turns=[Content.from_text(NUDGE_TO_AUDIO, role="user")], turn_complete=True))

    def send_tool_outputs(self, outputs: Sequence[ToolOutput]) -> None:
        self._after_tool_response = True
        if not self.ready:
            self._undelivered.extend(outputs)  # the socket is down: they wait for the next one
            return
        self._deliver(list(outputs))

    def _deliver_again(self) -> None:
        """On a new connection: outputs that never got through, or got no answer on a
        connection now lost, go (as history: this session does not know their calls)."""
        outputs, self._undelivered = self._undelivered, []
        for out, call, on in self._unanswered:
            self._calls[out.call_id] = (call, on)
            outputs.append(out)
        self._unanswered = []
        if outputs:
            self._deliver(outputs)

    def _deliver(self, outputs: list[ToolOutput]) -> None:
        # A call asked on an earlier connection is unknown to this one: Gemini cannot resume
        # a session mid tool call (its handles stop being resumable), so the new session has
        # neither the call nor the question. It gets both as history, and answers them.
        asked = {o.call_id: self._calls.pop(o.call_id, (None, self.connects)) for o in outputs}
        self._unanswered += [(o, asked[o.call_id][0], self.connects) for o in outputs]
        live = [o for o in outputs if asked[o.call_id][1] == self.connects]
        stale = [(o, asked[o.call_id][0]) for o in outputs if asked[o.call_id][1] != self.connects]
        if live:
            self._send(ToolResponse(function_responses=[
                FunctionResponse(id=o.call_id, name=o.name, response=_response(o)) for o in live
            ]))  # fmt: skip
        if stale:
            logger.info("tool calls %s were asked on a lost connection; giving them as history",
                        [o.call_id for o, _ in stale])
            calls = [
                Part(function_call=FunctionCallPart(id=o.call_id, name=o.name, args=_args(c)))
                for o, c in stale
            ]
            answers = [
                Part(function_response=FunctionResponsePart(id=o.call_id, name=o.name, response=_response(o)))
                for o, _ in stale
            ]
            self._send(ClientContent(
                turns=[Content(role="model", parts=calls), Content(role="user", parts=answers)],
                turn_complete=True,
            ))  # fmt: skip

    def update_chat_ctx(self, ctx: ChatContext) -> None:
        self.chat_ctx = ctx


class _HeldAudio:
    """PCM kept for a manual turn, bounded: past ``HOLD_LIMIT_S`` the oldest goes (logged)."""

    def __init__(self) -> None:
        self._chunks: deque[bytes] = deque()
        self._bytes = 0
        self._warned = False

    def __bool__(self) -> bool:
        return bool(self._chunks)

    def append(self, pcm: bytes) -> None:
        self._chunks.append(pcm)
        self._bytes += len(pcm)
        while self._bytes > HOLD_LIMIT_BYTES and len(self._chunks) > 1:
            self._bytes -= len(self._chunks.popleft())
            if not self._warned:
                self._warned = True
                logger.warning("a manual turn passed %d s: its oldest audio is dropped", HOLD_LIMIT_S)

    def take(self) -> list[bytes]:
        chunks = list(self._chunks)
        self.clear()
        return chunks

    def clear(self) -> None:
        self._chunks.clear()
        self._bytes = 0
        self._warned = False


def _response(out: ToolOutput) -> dict[str, object]:
    # FunctionResponse.response is a JSON object: "output" holds the function's output (any
    # JSON value), "error" its error. Structured output goes as an object, not as its text.
    if out.is_error:
        return {"error": out.output}
    return {"output": out.data if out.data is not None else out.output}


def _args(call: FunctionCall | None) -> dict[str, object]:
    if call is None:
        return {}
    try:
        args = json.loads(call.arguments or "{}")
    except ValueError:
        return {"arguments": call.arguments}
    return args if isinstance(args, dict) else {"arguments": args}
