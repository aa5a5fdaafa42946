"""One model reply of the Gemini Live loopback, streamed as the service streams it.

Message order for a spoken reply (each line one server message):

    serverContent.modelTurn.parts[].inlineData   ~100 ms of 24 kHz PCM16 each, paced by ``pace``
    serverContent.outputTranscription            a few words, just ahead of the audio they describe
    ...
    serverContent.generationComplete             the model has nothing more to generate
    serverContent.turnComplete + usageMetadata   once the audio would have played out (see below)
    sessionResumptionUpdate                      if the setup asked for resumption

The service "assumes realtime playback": ``turnComplete`` waits until the audio
it sent would have finished playing, and the caller can still interrupt until
then. An interrupted reply has no ``generationComplete``; it goes
``interrupted`` -> ``turnComplete``. A text reply streams ``modelTurn.parts[].text``.
A reply with tool calls ends in ``toolCall`` and leaves the turn open: the
client's ``toolResponse`` brings the rest of the turn.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from .._loopback import PacedReply, ReplyDropped, ReplyStopped
from ..scenario import ModelReply
from ._loopback_codec import CLOSE_INTERNAL
from ._wire import encode_base64

if TYPE_CHECKING:
    from ._loopback_session import LiveConnection

__all__ = ["ReplyRecord", "ReplyStream"]

RATE: Final = 24000
CHUNK_BYTES: Final = RATE // 10 * 2  # 100 ms of PCM16
AUDIO_MIME: Final = f"audio/pcm;rate={RATE}"
TEXT_MS_PER_WORD: Final = 40  # model time per streamed word of a text reply
UNKNOWN_MESSAGE: Final = "turnstileUnknownMessage"  # the malformed_message fault's message of no known type
GO_AWAY: Final = "go_away"  # ErrorFault.type that sends goAway instead of closing


@dataclass
class ReplyRecord:
    """One scripted model reply as a connection streamed it."""

    transcript: str
    audio: bytearray = field(default_factory=bytearray)  # the 24 kHz PCM16 sent (all of it, or up to the cut)
    text: str = ""  # text parts, or output transcription pieces, as sent
    interrupted: bool = False
    call_ids: list[str] = field(default_factory=list)
    audio_released: bool = False  # the server let ``audio`` go (only the newest replies keep it)


class ReplyStream(PacedReply):
    conn: LiveConnection

    def __init__(self, conn: LiveConnection, reply: ModelReply, record: ReplyRecord, *, audio: bool) -> None:
        super().__init__(conn, reply)
        self.record = record
        self.audio_mode = audio and not reply.text_only
        self._played_from: float | None = None  # when the first audio chunk went out

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gemini loopback reply")

    async def interrupt(self) -> None:
        """Stop generating; returns once ``interrupted`` and ``turnComplete`` are sent."""
        self._stop.set()
        if self._task is not None:
            await asyncio.shield(self._task)

    # ------------------------------------------------------------ stream

    async def _run(self) -> None:
        conn, faults = self.conn, self.reply.faults
        self._t0 = asyncio.get_running_loop().time()
        try:
            try:
                if faults.malformed_message:
                    await conn.send_raw(b"{this is not json")
                    await conn.send({UNKNOWN_MESSAGE: {"detail": "a message type no client knows"}})
                error = faults.error_event
                if error is not None and error.type == GO_AWAY:
                    conn.go_away(conn.go_away_time_left)
                elif error is not None:
                    code = int(error.code) if error.code and error.code.isdigit() else CLOSE_INTERNAL
                    await conn.close(code, error.message)
                    raise ReplyDropped
                if self.reply.transcript:
                    await (self._audio() if self.audio_mode else self._text())
                if faults.stall and not self.reply.transcript:
                    await self._stall()
                self._check_drop(ending=True)  # a reply with less audio than that drops before it completes
                if self.reply.tool_calls:
                    await conn.call_tools(self.reply.tool_calls)
                    return  # the turn stays open until the tool responses
                await conn.send({"serverContent": {"generationComplete": True}})
                if self._played_from is not None and not math.isinf(conn.playout_speed):
                    await self._until(self._played_from + self.audio_ms / 1000 / conn.playout_speed)
            except ReplyStopped:
                self.record.interrupted = True
                await conn.send({"serverContent": {"interrupted": True}})
            await conn.finish_turn()
        except ReplyDropped:
            return
        finally:
            conn.reply_finished(self)

    def _words(self) -> list[str]:
        words = [w + " " for w in self.reply.transcript.split(" ")]
        words[-1] = words[-1].rstrip(" ")
        return words

    async def _text(self) -> None:
        words = self._words()
        for i, word in enumerate(words):
            if self.reply.faults.stall and i == len(words) // 2:
                await self._stall()
            await self._advance(TEXT_MS_PER_WORD)
            await self.conn.send({"serverContent": {"modelTurn": {"parts": [{"text": word}]}}})
            self.record.text += word
            self.conn.turn_text_chars += len(word)

    async def _audio(self) -> None:
        audio = self.reply.audio()
        chunks = [audio[i : i + CHUNK_BYTES] for i in range(0, len(audio), CHUNK_BYTES)]
        words, said = self._words(), 0
        transcribe = self.conn.output_transcription
        loop = asyncio.get_running_loop()
        for k, chunk in enumerate(chunks):
            if self.reply.faults.stall and k == len(chunks) // 2:
                await self._stall()
            self._check_drop()
            due = math.ceil((k + 1) / len(chunks) * len(words))
            if transcribe and said < due:
                piece = "".join(words[said:due])
                await self.conn.send({"serverContent": {"outputTranscription": {"text": piece}}})
                self.record.text += piece
            said = max(said, due)
            if self._played_from is None:
                self._played_from = loop.time()
            part = {"inlineData": {"mimeType": AUDIO_MIME, "data": encode_base64(chunk)}}
            await self.conn.send({"serverContent": {"modelTurn": {"parts": [part]}}})
            ms = len(chunk) / 2 / RATE * 1000
            self.audio_ms += ms
            self.conn.turn_audio_ms += ms
            self.record.audio += chunk
            await self._advance(ms)
