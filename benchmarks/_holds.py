"""Hold, then decide (issue 11), measured: a real RealtimeAgent on the scripted provider
(``holds_playout``: the server keeps generating through the caller's speech) and a LocalRoom
whose speaker is real ``livekit.rtc`` audio, recording what the listener heard.

Every reply is a ramp of distinct non-zero samples, so the recording (the native source's
silence stripped) says exactly which samples the listener heard, how often, in what order.

- hold latency: from ``InputSpeechStarted`` delivered to the agent to the room's queue
  cleared (playout paused), and the audio the listener still heard after that clear (frames
  already inside the native pipeline);
- resume gap, across a false interruption (a cough: speech, no words): the reply's samples
  the listener missed plus those it heard twice, in ms; the goal is 0;
- truncation error, after a hold that turned into a barge-in (the speech lasted
  ``min_interruption_s``): the truncate's ``audio_end_ms`` minus the ms of the reply the
  listener heard. The truncate goes out ``min_interruption_s`` after the pause, so counting
  the paused time as heard would show as that much error; the goal is under 10 ms.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import numpy as np

RATE = 24000
REPLY_MS = 800
COUGH_S = 0.08
MIN_INTERRUPTION_S = 0.15
FALSE_TIMEOUT_S = 0.15


class BenchError(RuntimeError):
    """A case that did not do what it measures: a bug in the bench, never a figure."""


def ramp(samples: int) -> bytes:
    """PCM16 whose every sample is distinct and non-zero (up to 65535 samples, 2.7 s)."""
    if samples > 65535:
        raise ValueError("a ramp has at most 65535 distinct non-zero samples")
    return (np.arange(samples, dtype=np.uint32) + 1).astype("<u2").tobytes()


def heard_indices(recorded: bytes) -> np.ndarray[Any, np.dtype[np.int64]]:
    """The ramp positions the listener heard, in the order heard; silence left out."""
    values = np.frombuffer(recorded, dtype="<u2")
    heard: np.ndarray[Any, np.dtype[np.int64]] = values[values != 0].astype(np.int64) - 1
    return heard


def gap_samples(recorded: bytes, samples: int) -> tuple[int, int, bool]:
    """Of a ``samples``-long ramp: the samples never heard, those heard more than once, and
    whether the first hearings came in order."""
    heard = heard_indices(recorded)
    if heard.size and heard.max() >= samples:
        raise BenchError("the recording holds samples that are not from this reply")
    unique, first = np.unique(heard, return_index=True)
    in_order = bool(np.all(np.diff(heard[np.sort(first)]) > 0))
    return samples - int(unique.size), int(heard.size - unique.size), in_order


class _World:
    """One agent, one room, and the moments the measurements need."""

    def __init__(self) -> None:
        self.marks: dict[str, float] = {}

    async def start(self) -> None:
        from turnstile.adapters.local import LocalRoom
        from turnstile.adapters.scripted import ScriptedRealtime
        from turnstile.machine import AgentOptions, Capabilities, RealtimeAgent

        self.provider = ScriptedRealtime(Capabilities(holds_playout=True, replies_to_turns=False))
        self.room = LocalRoom(record=True)
        options = AgentOptions(min_interruption_s=MIN_INTERRUPTION_S, false_interruption_timeout_s=FALSE_TIMEOUT_S)
        self.agent = RealtimeAgent(self.provider, options=options)
        await self.agent.start(self.room)
        await self.agent.wait_for_state("listening", timeout=10)
        self.session = self.provider.last_session
        self.speaker = speaker = self.room.speaker
        if speaker.sample_rate != RATE or speaker.recording is None:
            raise BenchError(f"the room plays at {speaker.sample_rate} Hz, recording={speaker.recording is not None}")
        clear = speaker.clear

        def timed_clear() -> None:
            self.marks.setdefault("paused", time.perf_counter())
            self.marks.setdefault("rec_at_pause", self._recorded())
            clear()

        speaker.clear = timed_clear  # type: ignore[method-assign]
        self.resumed = asyncio.Event()
        self.agent.on("false_interruption", self._on_resume)

    def _on_resume(self) -> None:
        self.marks["rec_at_resume"] = self._recorded()
        self.resumed.set()

    def _recorded(self) -> int:
        assert self.speaker.recording is not None
        return len(self.speaker.recording)

    def _heard_ms(self, start: int, end: int | float | None = None) -> float:
        """Ramp audio in the recording between two positions (the speaker's own count
        misses a frame that was already in the native pipeline at a clear)."""
        assert self.speaker.recording is not None
        recorded = bytes(self.speaker.recording[start : None if end is None else int(end)])
        return int(np.unique(heard_indices(recorded)).size) * 1000 / RATE

    async def hold(self, talk_s: float) -> tuple[str, str, int]:
        """A reply, heard for ``talk_s``, then the caller's speech: returns its ids and
        where its audio starts in the recording, once the agent holds."""
        from turnstile.machine import InputSpeechStarted

        start = self._recorded()
        self.agent.generate_reply()
        rid, iid = self.session.start_audio_response(ramp(RATE * REPLY_MS // 1000), done=False)
        await asyncio.sleep(talk_s)  # the scenario: the caller lets the agent talk this long
        self.marks.clear()  # from here, the first clear of the room's queue is the pause
        began = time.perf_counter()
        self.session.emit(InputSpeechStarted())
        if self.agent.state != "holding" or "paused" not in self.marks:
            raise BenchError(f"speech over the agent did not hold it (state {self.agent.state})")
        self.marks["latency_ms"] = (self.marks["paused"] - began) * 1000
        if self._heard_ms(start, self.marks["rec_at_pause"]) == 0:
            raise BenchError("the hold came before the listener heard anything")
        return rid, iid, start

    async def cough(self, talk_s: float) -> dict[str, float]:
        from turnstile.machine import InputSpeechStopped

        rid, iid, start = await self.hold(talk_s)
        self.resumed.clear()
        await asyncio.sleep(COUGH_S)  # the scenario: a short noise
        self.session.emit(InputSpeechStopped())
        await asyncio.wait_for(self.resumed.wait(), FALSE_TIMEOUT_S + 5)
        self.session.finish_response(rid, iid)
        await self.agent.wait_for_state("listening", timeout=10)  # played out whole
        assert self.speaker.recording is not None
        missed, repeated, in_order = gap_samples(bytes(self.speaker.recording[start:]), RATE * REPLY_MS // 1000)
        return {
            "latency_ms": self.marks["latency_ms"],
            "after_pause_ms": self._heard_ms(int(self.marks["rec_at_pause"]), self.marks["rec_at_resume"]),
            "out_of_order": float(not in_order),
            "missed_ms": missed * 1000 / RATE,
            "repeated_ms": repeated * 1000 / RATE,
            "gap_ms": (missed + repeated) * 1000 / RATE,
        }

    async def barge_in(self, talk_s: float) -> dict[str, float]:
        from turnstile.machine import InputSpeechStopped

        truncates = self.session.names().count("truncate")
        rid, iid, start = await self.hold(talk_s)
        sent = await self.session.wait_sent("truncate", count=truncates + 1, timeout=MIN_INTERRUPTION_S + 5)
        after_pause_ms = self._heard_ms(int(self.marks["rec_at_pause"]))
        if sent.args["item_id"] != iid:
            raise BenchError(f"the truncate named {sent.args['item_id']}, not the held item {iid}")
        self.session.finish_response(rid, iid, status="cancelled")  # the server's answer to the cancel
        self.session.emit(InputSpeechStopped())
        await self.agent.wait_for_state("listening", timeout=10)
        return {
            "latency_ms": self.marks["latency_ms"],
            "after_pause_ms": after_pause_ms,
            "error_ms": sent.args["audio_end_ms"] - self._heard_ms(start),
        }

    def check(self, coughs: int, barge_ins: int) -> dict[str, int]:
        """What the chart and the session say happened, against what was asked for."""
        moves = self.agent.trace.transitions
        done = {
            "holds": moves.count(("user_speech_started", "speaking", "holding")),
            "resumes": moves.count(("false_interruption", "holding", "speaking")),
            "confirmed": moves.count(("interruption_confirmed", "holding", "interrupted")),
            "truncates": self.session.names().count("truncate"),
        }
        wanted = {"holds": coughs + barge_ins, "resumes": coughs, "confirmed": barge_ins, "truncates": barge_ins}
        if done != wanted:
            raise BenchError(f"asked for {wanted}, the agent did {done}")
        return done

    async def aclose(self) -> None:
        await self.agent.aclose()
        await self.room.aclose()


async def _run(n: int) -> dict[str, Any]:
    world = _World()
    await world.start()
    try:
        coughs, barge_ins = [], []
        for i in range(n):
            # Holds at varied points of the reply, so the pause falls at every phase of a write.
            talk_s = 0.2 + (i % 7) * 0.031
            coughs.append(await world.cough(talk_s))
            barge_ins.append(await world.barge_in(talk_s))
        counts = world.check(n, n)
    finally:
        await world.aclose()
    return {"n": n, "counts": counts, "coughs": coughs, "barge_ins": barge_ins}


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": statistics.median(values),
        "p99": float(np.percentile(values, 99)),
        "min": min(values),
        "max": max(values),  # the truncation error's sign matters: both ends, not |x|
    }


def run_holds(n: int = 10) -> dict[str, Any]:
    """``n`` false interruptions and ``n`` held barge-ins; the figures and the counts."""
    if n < 1:
        raise ValueError("n must be >= 1")
    raw = asyncio.run(_run(n))
    rows = raw["coughs"] + raw["barge_ins"]
    return {
        "n": n,
        "counts": raw["counts"],
        "out_of_order": int(sum(r["out_of_order"] for r in raw["coughs"])),
        "latency_ms": _summary([r["latency_ms"] for r in rows]),
        "after_pause_ms": _summary([r["after_pause_ms"] for r in rows]),
        "gap_ms": _summary([r["gap_ms"] for r in raw["coughs"]]),
        "missed_ms": _summary([r["missed_ms"] for r in raw["coughs"]]),
        "repeated_ms": _summary([r["repeated_ms"] for r in raw["coughs"]]),
        "error_ms": _summary([r["error_ms"] for r in raw["barge_ins"]]),
    }


def format_holds(r: dict[str, Any]) -> str:
    c = r["counts"]
    lines = [
        "",
        f"Holds, 1 session, scripted provider (holds_playout) + LocalRoom, {r['n']} false interruptions"
        f" + {r['n']} held barge-ins ({c['holds']} holds, {c['resumes']} resumes, {c['truncates']} truncates;"
        f" {r['out_of_order']} resumes out of order)",
        f"{'measure':<52}{'p50':>9}{'p99':>9}{'min':>9}{'max':>9}",
    ]
    names = {
        "latency_ms": "speech started -> playout paused (ms)",
        "after_pause_ms": "heard after the pause, native pipeline (ms)",
        "gap_ms": "resume gap: missed + heard twice (ms, goal 0)",
        "missed_ms": "  of which missed (ms)",
        "repeated_ms": "  of which heard twice (ms)",
        "error_ms": "audio_end_ms - audio heard, held barge-in (ms, <10)",
    }
    for key, label in names.items():
        v = r[key]
        lines.append(f"{label:<52}" + "".join(f"{v[k]:>9.2f}" for k in ("p50", "p99", "min", "max")))
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    print(format_holds(run_holds(int(sys.argv[1]) if len(sys.argv) > 1 else 10)))
