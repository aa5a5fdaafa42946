"""Barge-in latency and truncation error, end to end, with the loopback server in its own
process: the real OpenAI adapter, the real runtime, LocalRoom's real audio.

Per barge-in:
- silence latency: from the ``input_audio_buffer.speech_started`` frame reaching the adapter
  to the speaker's queue being cleared (playout stops within the frame then playing);
- wire latency: from the same frame to ``conversation.item.truncate`` written to the socket;
- truncation error: ``audio_end_ms`` minus the agent audio the listener actually received
  of that item, once everything in flight has arrived.
"""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

RATE = 24000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _one_session(provider_name: str, url: str, barge_ins: int) -> list[dict[str, float]]:
    from turnstile.adapters.gemini import GeminiLive
    from turnstile.adapters.local import LocalRoom
    from turnstile.adapters.openai import OpenAIRealtime, ServerVad
    from turnstile.adapters.voice import voice
    from turnstile.machine import RealtimeAgent

    from ._sessions_turnstile import on_the_wire

    provider: Any
    openai = provider_name == "openai"
    if openai:
        # The caller's barge-ins must not be answered: only generate_reply starts a reply,
        # so every iteration measures one clean barge-in.
        provider = OpenAIRealtime(api_key="loopback", url=url, turn_detection=ServerVad(create_response=False))
        trigger = b"input_audio_buffer.speech_started"
    else:
        # Gemini decides barge-ins itself and answers every turn: the caller's barge-in
        # is followed by the next reply, which the next iteration interrupts.
        provider = GeminiLive(api_key="loopback", url=url)
        trigger = b'"interrupted"'
    room = LocalRoom(caller_sample_rate=RATE)
    agent = RealtimeAgent(provider)
    await agent.start(room)
    await agent.wait_for_state("listening", timeout=15)
    session = provider.sessions[-1]
    speaker = room.speaker
    marks: dict[str, float] = {}

    on_frame = session.on_frame

    def timed_frame(raw: Any) -> None:
        data = raw if isinstance(raw, bytes) else raw.encode()
        if trigger in data:
            marks.setdefault("speech_started", time.perf_counter())
        on_frame(raw)

    session.on_frame = timed_frame  # type: ignore[method-assign]
    clear = speaker.clear

    def timed_clear() -> None:
        marks.setdefault("silenced", time.perf_counter())
        marks["heard_at_clear"] = speaker.heard_samples
        clear()

    speaker.clear = timed_clear  # type: ignore[method-assign]
    send = session._send

    def timed_send(event: Any) -> None:
        send(event)
        if getattr(event, "type", None) == "conversation.item.truncate":
            marks["audio_end_ms"] = event.audio_end_ms

    session._send = timed_send  # type: ignore[method-assign]
    if openai:
        prefix = b'{"type":"conversation.item.truncate"'
        on_the_wire(session, prefix, lambda: marks.__setitem__("truncate", time.perf_counter()))

    results = []
    words = voice("Wait, stop there please.", pitch=140)
    stopped = asyncio.Event()
    agent.on("user_stopped_speaking", stopped.set)
    for i in range(barge_ins):
        marks.clear()
        stopped.clear()
        if openai or i == 0:
            agent.generate_reply()
        await agent.wait_for_state("speaking", timeout=15)
        start_heard = speaker.heard_samples
        await asyncio.sleep(0.8)  # the caller lets the agent talk for a while
        await room.caller.say(words + bytes(RATE))
        await agent.wait_for_state("listening", timeout=15)
        if openai:
            await asyncio.wait_for(stopped.wait(), 15)  # the server heard the caller finish
        await asyncio.sleep(0.1)  # frames already in the native pipeline arrive
        if "silenced" not in marks or "speech_started" not in marks:
            continue
        heard_ms = (speaker.heard_samples - start_heard) / RATE * 1000
        row = {"silence_ms": (marks["silenced"] - marks["speech_started"]) * 1000, "heard_ms": heard_ms}
        if "truncate" in marks:
            row["wire_ms"] = (marks["truncate"] - marks["speech_started"]) * 1000
            row["error_ms"] = marks["audio_end_ms"] - heard_ms
        results.append(row)
    await agent.aclose()
    await room.aclose()
    return results


def _scenario_file(replies: int) -> str:
    long_reply = "This is a long answer that the caller will not let me finish, " * 3
    steps = [{"role": "model", "transcript": long_reply} for _ in range(replies)]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"name": "barge-ins", "steps": steps}, f)
    return f.name


def run_bargein(barge_ins: int = 10, provider: str = "openai") -> dict[str, Any]:
    from turnstile.adapters.gemini._config import GEMINI_PATH

    port = _free_port()
    path = "/v1/realtime" if provider == "openai" else GEMINI_PATH
    server = subprocess.Popen(
        [sys.executable, "-m", "turnstile.adapters.cli", "serve", "--provider", provider, "--port", str(port),
         "--pace", "1.5", "--scenario", _scenario_file(barge_ins + 2)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        server.stdout.readline()  # the URL line: the server is up
        rows = asyncio.run(_one_session(provider, f"ws://127.0.0.1:{port}{path}", barge_ins))
        if __name__ == "__main__":
            for row in rows:
                print({k: round(v, 1) for k, v in row.items()})
    finally:
        server.terminate()
        server.wait(10)
    out: dict[str, Any] = {"n": len(rows), "provider": provider}
    for key in ("silence_ms", "wire_ms", "error_ms"):
        values = sorted(r[key] for r in rows if key in r)
        if values:
            out[key] = {
                "p50": statistics.median(values),
                "p99": float(np.percentile(values, 99)),
                "max_abs": max(abs(v) for v in values),
            }
    return out


def format_bargein(r: dict[str, Any]) -> str:
    lines = [
        "",
        f"Barge-in, 1 session, {r['provider']} adapter + LocalRoom, loopback server in its own process (n={r['n']})",
        f"{'measure':<44}{'p50':>10}{'p99':>10}{'max |x|':>10}",
    ]
    names = {
        "silence_ms": "barge-in frame -> playout cleared (ms)",
        "wire_ms": "barge-in frame -> truncate on the wire (ms)",
        "error_ms": "audio_end_ms - audio heard of the item (ms)",
    }
    for key, label in names.items():
        if key in r:
            v = r[key]
            lines.append(f"{label:<44}{v['p50']:>10.2f}{v['p99']:>10.2f}{v['max_abs']:>10.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    for name in ("openai", "gemini"):
        print(format_bargein(run_bargein(provider=name)))
