"""One response of the loopback server: a scripted reply streamed as the real server streams it.

Event order for an audio reply (GA names; beta in brackets), as the API reference
documents and live sessions show:

    response.created
    response.output_item.added            item: message, status in_progress, no content
    conversation.item.added               [conversation.item.created]; not for out-of-band replies
    response.content_part.added           part: {"type": "audio", "transcript": ""}
    response.output_audio_transcript.delta ...  [response.audio_transcript.delta]
    response.output_audio.delta ...             [response.audio.delta], ~100 ms of PCM16 each
    response.output_audio.done                  [response.audio.done]
    response.output_audio_transcript.done       [response.audio_transcript.done]
    response.content_part.done
    response.output_item.done             status completed (incomplete when cancelled)
    conversation.item.done                GA only
    response.done                         status completed | cancelled | failed, with usage
    rate_limits.updated

Text replies use response.output_text.* [response.text.*] in the same frame;
tool calls are function_call items with response.function_call_arguments.delta/done.
A cancelled reply still closes what it opened, then ends with status "cancelled".
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import TYPE_CHECKING, Any, Final

from .._loopback import PacedReply, ReplyDropped, ReplyStopped
from ..scenario import ModelReply, ToolCall
from ._protocol import encode_audio
from ._server_codec import Frame, names, new_id

if TYPE_CHECKING:
    from ._server_session import RealtimeConnection

__all__ = ["ResponseStream"]

CHUNK_SAMPLES: Final = 2400  # 100 ms at 24 kHz, the size the real server's deltas come in
TEXT_MS_PER_WORD: Final = 40  # model-time per text token; only paces text/transcript-only output
FALLBACK_REPLY: Final = ModelReply(transcript="I have nothing more to add.")


class ResponseStream(PacedReply):
    conn: RealtimeConnection

    def __init__(
        self,
        conn: RealtimeConnection,
        reply: ModelReply | None,
        *,
        text_mode: bool,
        in_conversation: bool,
        metadata: dict[str, str] | None,
    ) -> None:
        super().__init__(conn, reply or FALLBACK_REPLY)
        self.id = new_id("resp")
        self.text_mode = text_mode or self.reply.text_only
        self.in_conversation = in_conversation
        self.metadata = metadata
        self.output: list[Frame] = []
        self.text_chars = 0
        self._reason: str | None = None
        self._usage_frame: Frame | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"loopback {self.id}")

    async def cancel(self, reason: str) -> None:
        """Stop streaming; returns once ``response.done`` (status cancelled) is sent."""
        if self._reason is None:
            self._reason = reason
        self._stop.set()
        if self._task is not None:
            await asyncio.shield(self._task)

    # ------------------------------------------------------------ stream

    async def _run(self) -> None:
        conn, faults = self.conn, self.reply.faults
        self._t0 = asyncio.get_running_loop().time()
        try:
            if faults.malformed_message:
                await conn.send_raw("{this is not json")
                await conn.send({"type": "x_turnstile.unknown_event", "detail": "an event type no client knows"})
            await conn.send({"type": "response.created", "response": self._response("in_progress")})
            error = faults.error_event
            if error is not None:
                detail = {"type": error.type, "code": error.code, "message": error.message}
                await conn.send({"type": "error", "error": {**detail, "param": None, "event_id": None}})
                if error.fail_response:
                    await conn.send({"type": "response.done", "response": self._response("failed", detail)})
                    return
            status = "completed"
            try:
                if self.reply.transcript:
                    await self._message()
                for call in self.reply.tool_calls:
                    await self._function_call(call)
                self._check_drop(ending=True)  # a reply with less audio than that drops before it completes
            except ReplyStopped:
                status = "cancelled"
            await conn.send({"type": "response.done", "response": self._response(status)})
            await conn.send({"type": "rate_limits.updated", "rate_limits": self._rate_limits()})
        except ReplyDropped:
            return
        finally:
            conn.response_finished(self)

    async def _open_item(self, item: Frame) -> int:
        index = len(self.output)
        self.output.append(item)
        await self.conn.send(
            {"type": "response.output_item.added", "response_id": self.id, "output_index": index, "item": dict(item)}
        )
        if self.in_conversation:
            await self.conn.add_item(dict(item), done=False)
        return index

    async def _close_item(self, index: int, item: Frame) -> None:
        self.output[index] = item
        await self.conn.send(
            {"type": "response.output_item.done", "response_id": self.id, "output_index": index, "item": item}
        )
        if self.in_conversation:
            await self.conn.finish_item(item)

    async def _message(self) -> None:
        n = names(self.conn.dialect)
        audio = b"" if self.text_mode else self.reply.audio()
        item_id = new_id("item")
        item: Frame = {
            "id": item_id, "object": "realtime.item", "type": "message", "status": "in_progress",
            "role": "assistant", "content": [],
        }  # fmt: skip
        index = await self._open_item(item)
        where = {"response_id": self.id, "item_id": item_id, "output_index": index, "content_index": 0}
        part: Frame = {"type": "text", "text": ""} if self.text_mode else {"type": "audio", "transcript": ""}
        await self.conn.send({"type": "response.content_part.added", **where, "part": part})
        words = [w + " " for w in self.reply.transcript.split(" ")]
        words[-1] = words[-1].rstrip(" ")
        said: list[str] = []
        cancelled = False
        try:
            if self.text_mode:
                await self._stream_text(words, said, where, n.text_delta)
            else:
                await self._stream_audio(audio, words, said, where, item_id)
        except ReplyStopped:
            cancelled = True
        text = "".join(said)
        self.text_chars += len(text)
        if self.text_mode:
            await self.conn.send({"type": n.text_done, **where, "text": text})
            part, content = {"type": "text", "text": text}, {"type": n.text_content, "text": text}
        else:
            await self.conn.send({"type": n.audio_done, **where})
            await self.conn.send({"type": n.transcript_done, **where, "transcript": text})
            part, content = {"type": "audio", "transcript": text}, {"type": n.audio_content, "transcript": text}
        await self.conn.send({"type": "response.content_part.done", **where, "part": part})
        status = "incomplete" if cancelled else "completed"
        await self._close_item(index, {**item, "status": status, "content": [content]})
        if cancelled:
            raise ReplyStopped

    async def _stream_text(self, words: list[str], said: list[str], where: Frame, event: str) -> None:
        for i, word in enumerate(words):
            if self.reply.faults.stall and i == len(words) // 2:
                await self._stall()
            await self._advance(TEXT_MS_PER_WORD)
            await self.conn.send({"type": event, **where, "delta": word})
            said.append(word)

    async def _stream_audio(self, audio: bytes, words: list[str], said: list[str], where: Frame, item_id: str) -> None:
        n = names(self.conn.dialect)
        chunks = [audio[i : i + 2 * CHUNK_SAMPLES] for i in range(0, len(audio), 2 * CHUNK_SAMPLES)]
        self.conn.note_audio(item_id, 0.0)
        for k, chunk in enumerate(chunks):
            if self.reply.faults.stall and k == len(chunks) // 2:
                await self._stall()
            self._check_drop()
            # The transcript runs a little ahead of the audio it describes, as on the real server.
            due = math.ceil((k + 1) / len(chunks) * len(words))
            while len(said) < due:
                word = words[len(said)]
                await self.conn.send({"type": n.transcript_delta, **where, "delta": word})
                said.append(word)
            ms = len(chunk) / 2 / 24
            await self.conn.send({"type": n.audio_delta, **where, "delta": encode_audio(chunk)})
            self.audio_ms += ms
            self.conn.note_audio(item_id, ms)
            await self._advance(ms)

    async def _function_call(self, call: ToolCall) -> None:
        item_id, call_id = new_id("item"), new_id("call")
        arguments = json.dumps(call.arguments)
        item: Frame = {
            "id": item_id, "object": "realtime.item", "type": "function_call", "status": "in_progress",
            "name": call.name, "call_id": call_id, "arguments": "",
        }  # fmt: skip
        index = await self._open_item(item)
        where = {"response_id": self.id, "item_id": item_id, "output_index": index, "call_id": call_id}
        sent = ""
        try:
            if self.reply.faults.stall:
                await self._stall()
            for i in range(0, len(arguments), 12):
                await self._advance(TEXT_MS_PER_WORD)
                delta = arguments[i : i + 12]
                await self.conn.send({"type": "response.function_call_arguments.delta", **where, "delta": delta})
                sent += delta
        except ReplyStopped:
            await self._close_item(index, {**item, "status": "incomplete", "arguments": sent})
            raise
        done: Frame = {"type": "response.function_call_arguments.done", **where, "arguments": arguments}
        if self.conn.dialect == "ga":
            done["name"] = call.name  # GA names the function here too; beta does not
        await self.conn.send(done)
        self.text_chars += len(arguments)
        await self._close_item(index, {**item, "status": "completed", "arguments": arguments})

    # ------------------------------------------------------------ response object

    def _response(self, status: str, error: dict[str, Any] | None = None) -> Frame:
        conn = self.conn
        details: Frame | None = None
        if status == "cancelled":
            details = {"type": "cancelled", "reason": self._reason}
        elif status == "failed":
            details = {"type": "failed", "error": error}
        body: Frame = {
            "object": "realtime.response", "id": self.id, "status": status, "status_details": details,
            "output": list(self.output) if status != "in_progress" else [],
            "conversation_id": conn.conversation.id if self.in_conversation else None,
        }  # fmt: skip
        if conn.dialect == "ga":
            out = (conn.session.get("audio") or {}).get("output") or {}
            body["output_modalities"] = ["text"] if self.text_mode else ["audio"]
            body["max_output_tokens"] = conn.session.get("max_output_tokens", "inf")
            body["audio"] = {"output": {"format": out.get("format"), "voice": out.get("voice")}}
        else:
            body["modalities"] = ["text"] if self.text_mode else ["audio", "text"]
            body["voice"] = conn.session.get("voice")
            body["output_audio_format"] = conn.session.get("output_audio_format")
            body["temperature"] = conn.session.get("temperature")
            body["max_output_tokens"] = conn.session.get("max_response_output_tokens", "inf")
        body["usage"] = None if status == "in_progress" else self._usage()
        body["metadata"] = self.metadata
        return body

    def _rate_limits(self) -> list[Frame]:
        # The real server follows each response.done with its limits; generous, fixed values here.
        used = self._usage()["total_tokens"]
        return [
            {"name": "requests", "limit": 5000, "remaining": 4999, "reset_seconds": 0.012},
            {"name": "tokens", "limit": 800000, "remaining": 800000 - used, "reset_seconds": 0.6},
        ]

    def _usage(self) -> Frame:
        # Estimates in the API's units: ~4 characters a text token; assistant audio
        # 1 token per 50 ms, user audio 1 per 100 ms. Only plausibility matters here.
        # Computed once: input_tokens() advances the connection's prompt-cache state.
        if self._usage_frame is None:
            self._usage_frame = self._count_usage()
        return self._usage_frame

    def _count_usage(self) -> Frame:
        text_in, audio_in, cached = self.conn.input_tokens()
        text_out, audio_out = math.ceil(self.text_chars / 4), math.ceil(self.audio_ms / 50)
        cached_text = min(cached, text_in)
        inp, out = text_in + audio_in, text_out + audio_out
        return {
            "total_tokens": inp + out, "input_tokens": inp, "output_tokens": out,
            "input_token_details": {
                "text_tokens": text_in, "audio_tokens": audio_in, "image_tokens": 0, "cached_tokens": cached,
                "cached_tokens_details": {
                    "text_tokens": cached_text, "audio_tokens": cached - cached_text, "image_tokens": 0,
                },
            },
            "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
        }  # fmt: skip
