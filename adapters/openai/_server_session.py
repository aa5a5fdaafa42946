"""One websocket connection to the loopback server: a Realtime session.

Holds what the real server holds per session (the config, the conversation, the
input audio buffer and its VAD, the response in progress) and answers each
client event as the real server does, in the event's dialect. Responses stream
in their own task (``ResponseStream``) so the connection keeps reading: a
``response.cancel`` or the caller's voice must be able to cut a reply short.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web

from ..scenario import Scenario, ScenarioCursor
from . import _protocol as p
from ._protocol import Dialect, ProtocolError, decode_audio
from ._server_codec import (
    ClientEvent,
    ClientEventError,
    Frame,
    audio_formats,
    default_session,
    error_frame,
    merge_session,
    new_id,
    parse_client_event,
    session_setting,
)
from ._server_conversation import Conversation
from ._server_response import ResponseStream
from ._vad import EnergyVad, SpeechStarted, VadSettings

__all__ = ["RealtimeConnection"]

RATE = 24000
_PCM = {"audio/pcm", "pcm16"}
_EAGERNESS_SILENCE_MS = {"low": 1500, "medium": 800, "high": 300, "auto": 800}


class RealtimeConnection:
    def __init__(
        self,
        ws: web.WebSocketResponse,
        *,
        dialect: Dialect,
        model: str,
        scenario: Scenario,
        pace: float,
        received: list[ClientEvent],
        audio_sent_ms: dict[str, float],
        drop: Callable[[], None],
        user_audio_ms: dict[str, float] | None = None,
    ) -> None:
        self.ws = ws
        self.dialect: Dialect = dialect
        self.pace = pace
        self.received = received
        self.audio_sent_ms = audio_sent_ms
        self.drop = drop
        self.session = default_session(
            dialect, session_id=new_id("sess"), model=model, expires_at=int(time.time()) + 1800
        )
        self.conversation = Conversation(dialect)
        self.cursor = ScenarioCursor(scenario)
        self.response: ResponseStream | None = None
        self._auto_response_due = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._send_lock = asyncio.Lock()
        self._user_audio_ms: dict[str, float] = {} if user_audio_ms is None else user_audio_ms
        self._last_input_tokens = 0
        # Input audio: a session-long sample clock (the VAD time base) and the uncommitted buffer.
        self._samples = 0
        self._buffer_from = 0  # sample index where the uncommitted buffer starts
        self._odd_byte = b""
        self._speech_item: str | None = None
        self.vad: EnergyVad | None = None
        self._configure_vad()

    # ------------------------------------------------------------ sending

    async def send(self, frame: Frame) -> None:
        # "type" then "event_id" lead, as in the real server's frames.
        body = {"type": frame["type"], "event_id": new_id("event"), **frame}
        await self.send_raw(json.dumps(body))

    async def send_raw(self, text: str) -> None:
        if self._closed or self.ws.closed:
            return
        async with self._send_lock:  # frames from the response task and the reader never interleave
            try:
                await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                self._closed = True

    async def _error(self, exc: ClientEventError) -> None:
        await self.send(error_frame(exc.message, code=exc.code, param=exc.param, event_id=exc.event_id))

    # ------------------------------------------------------------ conversation

    async def _send_all(self, frames: list[Frame]) -> None:
        for frame in frames:
            await self.send(frame)

    async def add_item(self, item: Frame, *, done: bool) -> None:
        await self._send_all(self.conversation.add(item, done=done))

    async def finish_item(self, item: Frame) -> None:
        await self._send_all(self.conversation.finish(item))

    def note_audio(self, item_id: str, ms: float) -> None:
        self.audio_sent_ms[item_id] = self.audio_sent_ms.get(item_id, 0.0) + ms

    def input_tokens(self) -> tuple[int, int, int]:
        """(text, audio, cached) input tokens for a response over the current conversation."""
        chars = len(str(self.session.get("instructions") or ""))
        audio = 0.0
        for item_id, item in self.conversation.items.items():
            chars += len(json.dumps(item.get("content") or item.get("arguments") or item.get("output") or ""))
            audio += self._user_audio_ms.get(item_id, 0.0) / 100 + self.audio_sent_ms.get(item_id, 0.0) / 50
        text, audio_tokens = math.ceil(chars / 4), math.ceil(audio)
        # Prompt caching covers the prefix the previous response already saw, in
        # 64-token steps, and only once a prompt reaches 1024 tokens.
        prev = self._last_input_tokens
        cached = (min(prev, text + audio_tokens) // 64) * 64 if prev >= 1024 else 0
        self._last_input_tokens = text + audio_tokens
        return text, audio_tokens, cached

    # ------------------------------------------------------------ run

    async def run(self) -> None:
        await self.send({"type": "session.created", "session": self.session})
        try:
            async for msg in self.ws:
                if msg.type == WSMsgType.TEXT:
                    await self._frame(msg.data)
                elif msg.type == WSMsgType.BINARY:
                    await self._error(ClientEventError("Binary frames are not supported.", code="invalid_json"))
                else:
                    break
        finally:
            self._closed = True
            if self.response is not None:
                self.response.abort()
            for task in self._tasks:
                task.cancel()

    async def _frame(self, raw: str) -> None:
        try:
            event = parse_client_event(raw, self.dialect)
        except ClientEventError as exc:
            await self._error(exc)
            return
        # Recorded without its audio: the record is for assertions, and a call's audio would grow it.
        append = event.type == "input_audio_buffer.append"
        self.received.append(event.model_copy(update={"audio": ""}) if append else event)
        try:
            await self._dispatch(event)
        except ClientEventError as exc:
            if exc.event_id is None:
                exc.event_id = event.event_id
            await self._error(exc)

    async def _dispatch(self, event: ClientEvent) -> None:
        match event.type:
            case "session.update":
                await self._session_update(event.model_dump(mode="json")["session"])
            case "transcription_session.update":
                raise ClientEventError(
                    "transcription_session.update is not valid on a realtime session.", code="invalid_value",
                    param="type",
                )  # fmt: skip
            case "input_audio_buffer.append":
                assert isinstance(event, p.InputAudioBufferAppend)
                await self._append(event.audio)
            case "input_audio_buffer.commit":
                await self._commit_manually()
            case "input_audio_buffer.clear":
                self._buffer_from, self._speech_item = self._samples, None
                if self.vad is not None:
                    self.vad.reset(self._ms(self._samples))
                await self.send({"type": "input_audio_buffer.cleared"})
            case "conversation.item.create":
                item = event.model_dump(mode="json")
                if item.get("item", {}).get("type") == "function_call":
                    # A call given as history (a conversation replayed after a reconnect):
                    # the script has been played up to it, and the reply after it is due.
                    self.cursor.skip_past_tool_calls()
                await self._send_all(self.conversation.create(item))
            case "conversation.item.truncate":
                assert isinstance(event, p.ConversationItemTruncate)
                sent = self.audio_sent_ms.get(event.item_id, 0.0)
                await self.send(
                    self.conversation.truncate(event.item_id, event.content_index, event.audio_end_ms, sent_ms=sent)
                )
            case "conversation.item.delete":
                assert isinstance(event, p.ConversationItemDelete)
                await self.send(self.conversation.delete(event.item_id))
            case "conversation.item.retrieve":
                assert isinstance(event, p.ConversationItemRetrieve)
                await self.send({"type": "conversation.item.retrieved", "item": self.conversation.get(event.item_id)})
            case "response.create":
                await self._response_create(event.model_dump(mode="json").get("response") or {})
            case "response.cancel":
                assert isinstance(event, p.ResponseCancel)
                active = self.response
                if active is None or (event.response_id is not None and event.response_id != active.id):
                    raise ClientEventError(
                        "Cancellation failed: no active response found", code="response_cancel_not_active"
                    )
                await active.cancel("client_cancelled")
            case "output_audio_buffer.clear":
                # The server owns playback only over WebRTC/SIP; over a websocket the client does.
                raise ClientEventError(
                    "output_audio_buffer.clear is only supported for WebRTC and SIP connections.",
                    code="invalid_value", param="type",
                )  # fmt: skip

    # ------------------------------------------------------------ session

    async def _session_update(self, update: dict[str, Any]) -> None:
        if self.dialect == "ga" and update.get("type") == "transcription":
            raise ClientEventError(
                "Cannot change a realtime session into a transcription session.", code="invalid_value",
                param="session.type",
            )  # fmt: skip
        merged = merge_session(self.session, update, self.dialect)
        unsupported = [f for f in audio_formats(merged, self.dialect) if f not in _PCM]
        if unsupported:
            # The real server accepts G.711; this loopback only speaks PCM16, and saying so
            # beats streaming audio in a format the client did not ask for.
            raise ClientEventError(
                f"The loopback server supports only 24 kHz PCM16 audio, not {unsupported[0]!r}.",
                code="invalid_value", param="session.audio",
            )  # fmt: skip
        self.session = merged
        self._configure_vad()
        await self.send({"type": "session.updated", "session": self.session})

    def _configure_vad(self) -> None:
        td = session_setting(self.session, self.dialect, "turn_detection")
        if not td:
            self.vad = None
            return
        defaults = VadSettings()

        def setting(name: str, default: float) -> float:
            value = td.get(name)
            return default if value is None else float(value)  # 0 is a setting, not "unset"

        silence = setting("silence_duration_ms", defaults.silence_duration_ms)
        if td.get("type") == "semantic_vad":  # no semantic model here: eagerness sets the silence it waits for
            silence = _EAGERNESS_SILENCE_MS.get(str(td.get("eagerness") or "auto"), 800)
        settings = VadSettings(
            threshold=setting("threshold", defaults.threshold),
            prefix_padding_ms=int(setting("prefix_padding_ms", defaults.prefix_padding_ms)),
            silence_duration_ms=int(silence),
        )
        if self.vad is None or self.vad.settings != settings:
            # A new detector keeps the session clock: VAD times count from the session's first sample.
            self.vad = EnergyVad(settings, now_ms=self._ms(self._samples), floor_ms=self._ms(self._buffer_from))

    def _turn_setting(self, name: str) -> bool:
        td = session_setting(self.session, self.dialect, "turn_detection") or {}
        return bool(td.get(name, True))

    # ------------------------------------------------------------ input audio

    @staticmethod
    def _ms(samples: int) -> int:
        return samples * 1000 // RATE

    async def _append(self, audio: str) -> None:
        try:
            pcm = self._odd_byte + decode_audio(audio)
        except ProtocolError as exc:
            raise ClientEventError(f"Invalid 'audio': {exc}.", code="invalid_value", param="audio") from exc
        whole = len(pcm) // 2 * 2
        self._odd_byte = pcm[whole:]
        samples = np.frombuffer(pcm[:whole], np.int16)
        self._samples += len(samples)
        if self.vad is None:
            return
        for change in self.vad.feed(samples):
            if isinstance(change, SpeechStarted):
                self._speech_item = new_id("item")
                await self.send(
                    {"type": "input_audio_buffer.speech_started", "audio_start_ms": change.audio_start_ms,
                     "item_id": self._speech_item}
                )  # fmt: skip
                # Only a response into the conversation: an out-of-band one ("conversation":
                # "none") is not the model talking to the caller, and is never cut.
                response = self.response
                if response is not None and response.in_conversation and self._turn_setting("interrupt_response"):
                    await response.cancel("turn_detected")
            else:
                item_id = self._speech_item or new_id("item")
                await self.send(
                    {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": change.audio_end_ms,
                     "item_id": item_id}
                )  # fmt: skip
                await self._commit(item_id, end_sample=change.audio_end_ms * RATE // 1000)
                if self._turn_setting("create_response"):
                    if self.response is None:
                        await self._response_create({})
                    else:
                        self._auto_response_due = True  # after the one in progress, as the server queues it

    async def _commit_manually(self) -> None:
        buffered_ms = (self._samples - self._buffer_from) * 1000 / RATE
        if buffered_ms < 100:
            raise ClientEventError(
                "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, "
                f"but buffer only has {buffered_ms:.2f}ms of audio.",
                code="input_audio_buffer_commit_empty",
            )  # fmt: skip
        await self._commit(self._speech_item or new_id("item"), end_sample=self._samples)

    async def _commit(self, item_id: str, *, end_sample: int) -> None:
        await self.send(
            {"type": "input_audio_buffer.committed", "previous_item_id": self.conversation.last_id, "item_id": item_id}
        )
        self._user_audio_ms[item_id] = (end_sample - self._buffer_from) * 1000 / RATE
        self._buffer_from, self._speech_item = end_sample, None
        if self.vad is not None:
            self.vad.reset(self._ms(end_sample))
        caller = self.cursor.next_caller()
        item: Frame = {
            "id": item_id, "object": "realtime.item", "type": "message", "status": "completed", "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }  # fmt: skip
        await self.add_item(item, done=True)
        transcription = session_setting(self.session, self.dialect, "transcription")
        if not transcription:
            return
        transcript = caller.transcript if caller is not None else ""
        where = {"item_id": item_id, "content_index": 0}
        if transcription.get("model") != "whisper-1":  # whisper-1 sends no deltas
            await self.send({"type": "conversation.item.input_audio_transcription.delta", **where, "delta": transcript})
        audio_tokens = math.ceil(self._user_audio_ms[item_id] / 100)
        text_tokens = math.ceil(len(transcript) / 4)
        usage = {
            "type": "tokens", "input_tokens": audio_tokens, "output_tokens": text_tokens,
            "total_tokens": audio_tokens + text_tokens,
            "input_token_details": {"text_tokens": 0, "audio_tokens": audio_tokens},
        }  # fmt: skip
        await self.send(
            {"type": "conversation.item.input_audio_transcription.completed", **where, "transcript": transcript,
             "usage": usage}
        )  # fmt: skip
        item["content"] = [{"type": "input_audio", "transcript": transcript}]

    # ------------------------------------------------------------ responses

    async def _response_create(self, params: dict[str, Any]) -> None:
        if self.response is not None:
            raise ClientEventError(
                f"Conversation already has an active response in progress: {self.response.id}. "
                "Wait until the response is finished before creating a new one.",
                code="conversation_already_has_active_response",
            )  # fmt: skip
        if self.dialect == "ga":
            modalities = params.get("output_modalities") or self.session.get("output_modalities") or ["audio"]
        else:
            modalities = params.get("modalities") or self.session.get("modalities") or ["audio", "text"]
        self.response = ResponseStream(
            self,
            self.cursor.next_reply(),
            text_mode="audio" not in modalities,
            in_conversation=params.get("conversation") != "none",
            metadata=params.get("metadata"),
        )
        self.response.start()

    def response_finished(self, response: ResponseStream) -> None:
        if self.response is response:
            self.response = None
        if self._auto_response_due and not self._closed:
            self._auto_response_due = False
            task = asyncio.get_running_loop().create_task(self._response_create({}))
            self._tasks.add(task)  # held: the loop keeps only weak references to tasks
            task.add_done_callback(self._tasks.discard)
