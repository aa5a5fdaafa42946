"""Child process: the floor, N sessions with no framework at all, in PacedRooms.

    python -m benchmarks._sessions_floor --url ws://127.0.0.1:PORT/v1/realtime --n 10 \
        --timeline caller.pcm

The least any Python program must do for the same load, and nothing else: it says how
much of a framework's cost is the framework's own. Per session, over one aiohttp
websocket (the client Turnstile uses, so that the socket's cost is the same on both sides):

* configure the session once (server VAD, the same options as every other half);
* send the microphone: each 100 ms frame from the room as one ``input_audio_buffer.append``
  (Turnstile's chunk), built as a string, no model;
* read the socket: ``json.loads`` each frame; ``response.output_audio.delta``: decode the
  base64 and hand the PCM to a writer task, which writes each delta to the room's output in
  one call (the output plays it in 10 ms frames and makes the writer wait while its queue
  is full, as ``AudioSource`` does). The reader never waits on playout: the server streams
  ahead of real time, and a reader held by a full output would read the caller's barge-in
  only after the rest of the reply;
* barge-in, on ``input_audio_buffer.speech_started`` while audio is playing: read the heard
  position (written to the output minus still queued there), drop what the writer holds,
  clear the output, send ``conversation.item.truncate`` at that position. The server
  cancels the response itself (``interrupt_response``), so no ``response.cancel``.

What it leaves out, because a correct program can: reconnecting, transcripts, state,
metrics, any chat history. It is the same room and the same load as the other halves.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections import deque
from typing import Any

import aiohttp

from ._pacedroom import PacedLink, PacedOutput, PacedRoom
from ._sessions_load import main

QUEUE_MS = 200
"""The output queue the other halves give their AudioSource (LiveKit's agents use 200 ms)."""
RATE = 24000
MIC_FRAME_MS = 100  # Turnstile's chunk: one append per 100 ms
SESSION = {
    "type": "realtime",
    "output_modalities": ["audio"],
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": RATE},
            "turn_detection": {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
                               "silence_duration_ms": 500, "create_response": True, "interrupt_response": True},
        },
        "output": {"format": {"type": "audio/pcm", "rate": RATE}},
    },
}  # fmt: skip


class FloorSession:
    def __init__(self, link: PacedLink) -> None:
        self._http = aiohttp.ClientSession()  # one per call, as Turnstile's provider session holds one
        self._link = link
        self._output: PacedOutput = link.output
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._item: str | None = None  # the item whose audio is playing
        self._cut: str | None = None  # the item last cut: a delta of it still in flight is dropped
        self._written = 0  # samples of it handed to the output
        self._pending: deque[bytes] = deque()  # received, not yet handed to the output
        self._more = asyncio.Event()

    async def start(self, url: str) -> None:
        self._ws = ws = await self._http.ws_connect(
            f"{url}?model=gpt-realtime", headers={"Authorization": "Bearer loopback"}, max_msg_size=0
        )
        await ws.send_str(json.dumps({"type": "session.update", "session": SESSION}))
        while (msg := await ws.receive()).type == aiohttp.WSMsgType.TEXT:
            if json.loads(msg.data)["type"] == "session.updated":
                break
        else:
            raise ConnectionError(f"the server closed before session.updated: {msg.type!r}")
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(c) for c in (self._read(ws), self._send_mic(ws), self._play())]

    async def _send_mic(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for frame in self._link.audio_frames(RATE, MIC_FRAME_MS):
            audio = base64.b64encode(frame.data).decode()
            await ws.send_str('{"type":"input_audio_buffer.append","audio":"' + audio + '"}')

    async def _play(self) -> None:
        pending, output = self._pending, self._output
        while True:
            await self._more.wait()
            while pending:
                pcm = pending.popleft()
                self._written += len(pcm) // 2  # counted before the write: a waiting write is queued
                await output.write(pcm)
            self._more.clear()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        output = self._output
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            event: dict[str, Any] = json.loads(msg.data)
            kind = event["type"]
            if kind == "response.output_audio.delta":
                if event["item_id"] != self._item:
                    if event["item_id"] == self._cut:
                        continue
                    self._item, self._written = event["item_id"], 0
                self._pending.append(base64.b64decode(event["delta"]))
                self._more.set()
            elif kind == "input_audio_buffer.speech_started":
                output.mark_speech_started()
                if self._item is not None and (output.queued_samples or self._pending):
                    heard = max(0, self._written - output.queued_samples)
                    self._pending.clear()
                    output.clear()  # a write waiting for room is dropped by the output
                    end_ms = heard * 1000 // RATE
                    await ws.send_str(json.dumps({"type": "conversation.item.truncate", "item_id": self._item,
                                                  "content_index": 0, "audio_end_ms": end_ms}))  # fmt: skip
                    output.mark_truncate_sent(end_ms)
                self._item, self._cut = None, self._item

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._ws is not None:
            await self._ws.close()
        await self._http.close()


async def start(room: PacedRoom, url: str) -> FloorSession:
    session = FloorSession(await room.link(None, output_sample_rate=RATE))
    try:
        await session.start(url)
    except BaseException:
        await session.aclose()
        raise
    return session


if __name__ == "__main__":
    main("floor", start, QUEUE_MS)
