"""One websocket connection to the Gemini Live loopback: a Live API session.

The first client message must be ``setup`` (answered by ``setupComplete``);
after it come ``realtimeInput``, ``clientContent`` and ``toolResponse``, each
handled as the service handles it. Replies stream in their own task
(``ReplyStream``) so the connection keeps reading: the caller's voice must be
able to cut a reply short. Any error ends the connection with a close code.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from aiohttp import WSMsgType, web

from ..scenario import ModelReply, Scenario, ScenarioCursor, ToolCall
from ._client import ClientContent, RealtimeInput, Setup, ToolResponse
from ._loopback_codec import (
    CLOSE_INTERNAL,
    CLOSE_INVALID,
    CLOSE_POLICY,
    DEADLINE,
    NOT_FOUND,
    CloseError,
    client_without_audio,
    close_reason,
    duration,
    encode,
    parse_client_message,
    usage,
    without_audio,
)
from ._loopback_reply import ReplyRecord, ReplyStream
from ._loopback_vad import ActivityDetector
from ._wire import ProtocolError, decode_base64

if TYPE_CHECKING:
    from ._client import Blob
    from ._loopback import ConnectionRecord, GeminiLiveServer

__all__ = ["LiveConnection", "SessionState"]

FALLBACK_REPLY = ModelReply(transcript="I have nothing more to add.")
_RATE = re.compile(r"rate=(\d+)")


@dataclass(frozen=True)
class SessionState:
    """What a resumption handle restores: the place in the scenario and the context so far."""

    index: int
    context_chars: int
    context_audio_ms: float


class LiveConnection:
    def __init__(
        self,
        server: GeminiLiveServer,
        ws: web.WebSocketResponse,
        record: ConnectionRecord,
        *,
        scenario: Scenario,
        refusal: CloseError | None,
        drop: Callable[[], None],
    ) -> None:
        self.server, self.ws, self.record = server, ws, record
        self.pace = server.pace
        self.playout_speed = server.playout_speed
        self.go_away_time_left = server.go_away_time_left
        self.refusal = refusal
        self._drop = drop
        self.cursor = ScenarioCursor(scenario)
        self.setup: Setup | None = None
        self.audio_out = True
        self.output_transcription = False
        self.input_transcription = False
        self.resumable = False
        self.transparent = False
        self.manual = False
        self.interrupts = True
        self.detector: ActivityDetector | None = None
        self.activity = False  # the caller is speaking (detected, or between activityStart and End)
        self.reply: ReplyStream | None = None
        self.pending_calls: dict[str, str] = {}  # call id -> function name, awaiting toolResponse
        self._due = 0  # replies owed once the current one (or the tool calls) finish
        self.turn_open = False
        self.turn_audio_ms = 0.0  # model output of the open turn, for usageMetadata
        self.turn_text_chars = 0
        self.context_chars = 0  # everything the model has seen, for promptTokenCount
        self.context_audio_ms = 0.0
        self._caller_audio_ms = 0.0
        self._odd = b""
        self._messages = 0  # client messages consumed (lastConsumedClientMessageIndex)
        self._closed = False
        self._send_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------ sending and closing

    async def send(self, message: dict[str, Any]) -> None:
        if await self.send_raw(encode(message)):
            self.record.sent.append(without_audio(message))

    async def send_raw(self, frame: bytes) -> bool:
        if self._closed or self.ws.closed:
            return False
        async with self._send_lock:  # frames from the reply task and the reader never interleave
            try:
                await self.ws.send_bytes(frame)
            except (ConnectionError, RuntimeError):
                self._closed = True
                return False
        return True

    async def close(self, code: int, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        self.record.close_code, self.record.close_reason = code, close_reason(reason)
        async with self._send_lock:
            # Shielded: closing the socket ends the reader, which cancels the reply task that may be the caller.
            await asyncio.shield(self.ws.close(code=code, message=self.record.close_reason.encode()))

    def drop(self) -> None:
        """A dropped connection, not a goodbye: no close frame, the TCP connection just ends."""
        self._closed = True
        self._drop()

    def go_away(self, time_left: float) -> None:
        """Send ``goAway``, then close the connection when ``time_left`` seconds have passed."""

        async def run() -> None:
            await self.send({"goAway": {"timeLeft": duration(time_left)}})
            await asyncio.sleep(time_left)
            await self.close(CLOSE_INTERNAL, DEADLINE)  # what the service closes with when the time is up

        self._spawn(run())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)  # held: the loop keeps only weak references to tasks
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------ run

    async def run(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    break
                if self.refusal is not None:  # credentials are checked when the first message arrives
                    raise self.refusal
                parsed = parse_client_message(msg.data)
                self.record.received.append(client_without_audio(parsed.message))
                self.record.unmodelled.extend(parsed.unmodelled)
                self._messages += 1
                if self.setup is None:
                    if not isinstance(parsed.message, Setup):
                        raise CloseError(CLOSE_INVALID, "The first message must be setup.")
                    await self._setup(parsed.message, parsed.raw)
                else:
                    await self._dispatch(parsed.message)
        except CloseError as exc:
            await self.close(exc.code, exc.reason)
        finally:
            self._closed = True
            if self.reply is not None:
                self.reply.abort()
            for task in list(self._tasks):
                task.cancel()

    async def _dispatch(self, message: object) -> None:
        if isinstance(message, RealtimeInput):
            await self._realtime(message)
        elif isinstance(message, ClientContent):
            # Client content always interrupts generation; a complete turn then gets an answer.
            await self._interrupt()
            for turn in message.turns or []:
                self.context_chars += sum(len(p.text or "") for p in turn.parts)
            if message.turn_complete:
                if _carries_function_responses(message):
                    # A tool's result given as history (its call was lost with a session
                    # that could not be resumed mid-call): the reply after that call is due.
                    self.cursor.skip_past_tool_calls()
                else:
                    self.cursor.next_caller()  # typed instead of spoken: still the script's caller turn
                self.respond()
        elif isinstance(message, ToolResponse):
            self._tool_response(message)
        else:
            raise CloseError(CLOSE_INVALID, "setup may only be sent once, as the first message.")

    async def _setup(self, setup: Setup, raw: dict[str, Any]) -> None:
        self.setup = self.record.setup = setup
        self.record.model = setup.model
        config = setup.generation_config
        modalities = (config.response_modalities if config else None) or ["AUDIO"]
        if len(set(modalities)) > 1:
            raise CloseError(CLOSE_INVALID, "Only one response modality is supported per session.")
        self.audio_out = modalities[0] == "AUDIO"
        self.output_transcription = setup.output_audio_transcription is not None
        self.input_transcription = setup.input_audio_transcription is not None
        rtc = setup.realtime_input_config
        aad = rtc.automatic_activity_detection if rtc else None
        self.manual = bool(aad and aad.disabled)
        self.interrupts = (rtc.activity_handling if rtc else None) != "NO_INTERRUPTION"
        self.detector = None if self.manual else ActivityDetector(aad)
        if setup.system_instruction is not None:
            self.context_chars += sum(len(p.text or "") for p in setup.system_instruction.parts)
        resumption = setup.session_resumption
        if resumption is not None:
            self.resumable = True
            self.transparent = bool((raw.get("sessionResumption") or {}).get("transparent"))
            if resumption.handle:
                state = self.server.handles.get(resumption.handle)
                if state is None:
                    raise CloseError(CLOSE_POLICY, NOT_FOUND)
                self.record.resumed_from = resumption.handle
                self.cursor.index = state.index
                self.context_chars, self.context_audio_ms = state.context_chars, state.context_audio_ms
        await self.send({"setupComplete": {}})

    # ------------------------------------------------------------ realtime input

    async def _realtime(self, message: RealtimeInput) -> None:
        if message.audio is not None:
            await self._audio(message.audio, "realtimeInput.audio")
        for i, blob in enumerate(message.media_chunks or []):
            if blob.mime_type.startswith("audio/"):
                await self._audio(blob, f"realtimeInput.mediaChunks[{i}]")
        if message.text is not None:
            if self.interrupts:
                await self._interrupt()
            self.context_chars += len(message.text)
            self.cursor.next_caller()
            self.respond()
        if message.activity_start is not None or message.activity_end is not None:
            if not self.manual:
                raise CloseError(
                    CLOSE_INVALID, "activityStart and activityEnd need automaticActivityDetection.disabled."
                )
            if message.activity_start is not None and not self.activity:
                await self._caller_started(None)
            elif message.activity_end is not None and self.activity:
                await self._caller_stopped(None)
        if message.audio_stream_end and self.detector is not None:
            for change in self.detector.flush():
                await self._caller_stopped(change.at_ms)

    async def _audio(self, blob: Blob, where: str) -> None:
        if not blob.mime_type.startswith("audio/pcm"):
            raise CloseError(CLOSE_INVALID, f"Unsupported MIME type at '{where}.mime_type': {blob.mime_type}.")
        found = _RATE.search(blob.mime_type)
        rate = int(found.group(1)) if found else 16000
        try:
            pcm = self._odd + decode_base64(blob.data)
        except ProtocolError as exc:
            raise CloseError(CLOSE_INVALID, f"Invalid value at '{where}.data' (TYPE_BYTES), {exc}.") from exc
        whole = len(pcm) // 2 * 2
        self._odd = pcm[whole:]
        samples = np.frombuffer(pcm[:whole], np.int16)
        if self.activity:
            self._caller_audio_ms += len(samples) * 1000 / rate
        if self.detector is None:
            return
        for change in self.detector.feed(samples, rate):
            if change.started:
                await self._caller_started(change.at_ms)
            else:
                await self._caller_stopped(change.at_ms)

    # ``detected_ms``: when the service's own detection heard it (None: the client's activityStart / End).
    async def _caller_started(self, detected_ms: int | None) -> None:
        self.activity = True
        self._caller_audio_ms = 0.0
        await self._voice_activity("ACTIVITY_START", detected_ms)
        if self.interrupts:
            await self._interrupt()

    async def _caller_stopped(self, detected_ms: int | None) -> None:
        self.activity = False
        await self._voice_activity("ACTIVITY_END", detected_ms)
        caller = self.cursor.next_caller()
        transcript = caller.transcript if caller is not None else ""
        self.context_chars += len(transcript)
        self.context_audio_ms += self._caller_audio_ms
        self.record.caller_turns.append(transcript)
        self.record.caller_audio_ms.append(self._caller_audio_ms)
        if self.input_transcription and transcript:  # a cough: no words, no transcription
            await self.send({"serverContent": {"inputTranscription": {"text": transcript}}})
        # The script's model does not answer a cough or an mm-hmm (it heard nothing to answer);
        # with NO_INTERRUPTION the reply under way simply carries on.
        if caller is None or caller.answered:
            self.respond()

    async def _voice_activity(self, kind: str, detected_ms: int | None) -> None:
        # What the service's own detection heard, never an echo of the client's activityStart /
        # End; the wire names as the SDKs read them (``type``, not their voice_activity_type).
        if detected_ms is not None and self.server.voice_activity:
            offset = duration(detected_ms / 1000)
            await self.send({"voiceActivity": {"type": kind, "audioOffset": offset}})

    # ------------------------------------------------------------ turns

    async def _interrupt(self) -> None:
        """The caller took the floor: stop the reply in progress, cancel tool calls awaiting answers."""
        self._due = 0  # whatever was owed, the caller has the floor now
        if self.reply is not None:
            await self.reply.interrupt()
        if self.pending_calls:
            ids = list(self.pending_calls)
            self.pending_calls.clear()
            await self.send({"toolCallCancellation": {"ids": ids}})
            await self.send({"serverContent": {"interrupted": True}})
            await self.finish_turn()

    def respond(self) -> None:
        """Answer with the script's next reply: now, or once the reply in progress has finished."""
        self._due += 1
        self._kick()

    def _kick(self) -> None:
        if self._closed or self.reply is not None or self.pending_calls or not self._due:
            return
        self._due -= 1
        reply = self.cursor.next_reply() or FALLBACK_REPLY
        record = ReplyRecord(transcript=reply.transcript)
        self.record.replies.append(record)
        self.server.keep_reply(record)
        self.turn_open = True
        self.reply = ReplyStream(self, reply, record, audio=self.audio_out)
        self.reply.start()

    def reply_finished(self, reply: ReplyStream) -> None:
        if self.reply is reply:
            self.reply = None
        self._kick()

    async def call_tools(self, calls: list[ToolCall]) -> None:
        wire = []
        for call in calls:
            call_id = f"function-call-{secrets.randbits(63)}"
            self.pending_calls[call_id] = call.name
            wire.append({"id": call_id, "name": call.name, "args": call.arguments})
            self.turn_text_chars += len(call.name) + len(str(call.arguments))
        if self.record.replies:
            self.record.replies[-1].call_ids = list(self.pending_calls)
        await self.send({"toolCall": {"functionCalls": wire}})
        if self.resumable:
            await self.send({"sessionResumptionUpdate": {}})  # mid tool call: not resumable (resumable: false)

    def _tool_response(self, message: ToolResponse) -> None:
        answered = False
        for response in message.function_responses:
            call_id = response.id
            if call_id is None:  # the Gemini API pairs by id; without one, the first call of that name
                call_id = next((i for i, name in self.pending_calls.items() if name == response.name), None)
            if call_id is not None and self.pending_calls.pop(call_id, None) is not None:
                answered = True
                self.context_chars += len(str(response.response))
            else:
                self.record.unmatched_responses.append(response.id or response.name)
        if answered and not self.pending_calls:
            self.respond()  # the rest of the same turn

    async def finish_turn(self) -> None:
        """``turnComplete`` with the turn's usage; then a resumption handle, if the setup asked."""
        body = usage(
            prompt_chars=self.context_chars, prompt_audio_ms=self.context_audio_ms,
            response_chars=self.turn_text_chars, response_audio_ms=self.turn_audio_ms,
            vertex=self.record.api == "vertex",
        )  # fmt: skip
        self.context_chars += self.turn_text_chars
        self.context_audio_ms += self.turn_audio_ms
        self.turn_text_chars, self.turn_audio_ms, self.turn_open = 0, 0.0, False
        await self.send({"serverContent": {"turnComplete": True}, "usageMetadata": body})
        if self.resumable:
            handle = secrets.token_urlsafe(32)
            self.server.handles[handle] = SessionState(self.cursor.index, self.context_chars, self.context_audio_ms)
            update: dict[str, Any] = {"newHandle": handle, "resumable": True}
            if self.transparent:
                update["lastConsumedClientMessageIndex"] = str(self._messages - 1)  # int64: a string in JSON
            await self.send({"sessionResumptionUpdate": update})


def _carries_function_responses(message: ClientContent) -> bool:
    return any(p.function_response is not None for t in message.turns or [] for p in t.parts)
