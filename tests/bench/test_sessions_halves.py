"""The sessions bench's own parts: its room's truncation accounting, the check that each half
did the work, and the floor half end to end against the loopback server over real sockets.

None of these needs a peer's venv: the peers' halves run only under ``make bench``.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks._pacedroom import PacedClock, PacedOutput, PacedRoom
from benchmarks._sessions import check_work
from benchmarks._sessions_floor import start as start_floor
from benchmarks._sessions_gemini import start as start_gemini
from turnstile.adapters.gemini._loopback import GeminiLiveServer
from turnstile.adapters.openai._server import OpenAIRealtimeServer
from turnstile.adapters.scenario import Scenario
from turnstile.adapters.voice import RATE, voice

from .._util import wait_until

MS = RATE // 1000


class _Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


async def _playing(ms_written: int, ms_played: int, clock: _Clock | None = None) -> PacedOutput:
    output = PacedOutput(RATE, queue_ms=200, clock=clock or _Clock())
    output.recording = True
    await output.write(bytes(ms_written * MS * 2))
    for _ in range(ms_played // 10):
        output.tick(0.0)
    return output


async def test_truncation_error_is_the_truncate_minus_what_played_whichever_comes_first() -> None:
    # The truncate first (Pipecat, the Agents SDK), then the clear: 10 ms more played in between.
    output = await _playing(100, 30)
    output.mark_speech_started()
    output.mark_truncate_sent(30)
    output.tick(0.0)
    output.clear()
    # The clear first (Turnstile, livekit-agents, the floor), then the truncate.
    output2 = await _playing(100, 50)
    output2.mark_speech_started()
    output2.clear()
    output2.mark_truncate_sent(50)
    assert list(output.truncation_error_ms) == [-10.0]
    assert list(output2.truncation_error_ms) == [0.0]
    assert (output.truncations, output2.truncations) == (1, 1)
    assert len(output.barge_in_ms) == len(output2.barge_in_ms) == 1
    # The same span in CPU time, never more than the wall time it took.
    assert len(output.barge_in_cpu_ms) == 1 and 0 <= output.barge_in_cpu_ms[0] <= output.barge_in_ms[0] + 0.05


async def test_a_new_reply_counts_what_is_heard_from_its_own_start() -> None:
    clock = _Clock()
    output = await _playing(30, 30, clock)  # a reply played out whole: the queue ran dry
    clock.t += 2.0  # the caller's turn
    await output.write(bytes(100 * MS * 2))
    output.tick(0.0)
    output.mark_speech_started()
    output.clear()
    output.mark_truncate_sent(10)
    assert list(output.truncation_error_ms) == [0.0]
    assert (output.bursts, output.gaps) == (2, 0)


async def test_a_gap_inside_a_reply_does_not_restart_what_was_heard() -> None:
    clock = _Clock()
    output = await _playing(500, 500, clock)  # the first chunk played out; the next one is late
    clock.t += 0.1
    await output.write(bytes(300 * MS * 2))
    for _ in range(10):
        output.tick(0.0)
    output.mark_speech_started()
    output.clear()
    output.mark_truncate_sent(600)  # all the agent's audio heard so far: 500 + 100 ms
    assert list(output.truncation_error_ms) == [0.0]
    assert (output.bursts, output.gaps) == (2, 1)


def _row(**changes: Any) -> dict[str, Any]:
    row = {"n": 10, "agent_audio_s_per_session_minute": 30.0, "barge_in_ms": {"n": 20}, "truncations_total": 20}
    return {**row, **changes}


def test_a_half_that_did_no_work_is_flagged() -> None:
    r = {"cycles": 2, "reply_s": 2.5, "cycle_s": 13.0}
    good, silent, no_cuts, no_truncs = _row(), _row(agent_audio_s_per_session_minute=0.0), \
        _row(barge_in_ms={"n": 0}), _row(truncations_total=3)  # fmt: skip
    for row in (good, silent, no_cuts, no_truncs):
        check_work(row, r)
    gemini = _row(truncations_total=0)
    check_work(gemini, r, truncates=False)
    assert good["check_failures"] == [] and gemini["check_failures"] == []
    assert "replies played" in " ".join(silent["check_failures"])
    assert "barge-ins silenced" in " ".join(no_cuts["check_failures"])
    assert "3 truncates sent, expected >= 16" in no_truncs["check_failures"]


def _caller() -> bytes:
    # Speak, wait for the reply to start, then speak over it: one barge-in.
    words = voice("Hello, when do you open?", pitch=140)
    return words + bytes(int(1.2 * RATE) * 2) + words + bytes(3 * RATE * 2)


async def _one_call(
    start: Callable[[PacedRoom, str], Awaitable[Any]], url: str, done: Callable[[PacedOutput], bool]
) -> PacedOutput:
    """One caller through a half, over the loopback: until ``done(output)``."""
    clock = PacedClock(RATE)
    clock.start()
    room = PacedRoom(clock, _caller(), offset_samples=0, queue_ms=200)
    session = await start(room, url)
    try:
        assert room.link_ is not None
        output = room.link_.output
        clock.record(True)
        clock.mic_on = True
        await wait_until(lambda: done(output), timeout=15)
    finally:
        await session.aclose()
        await room.aclose()
        await clock.aclose()
    return output


SCENARIO = {"name": "half", "steps": [{"role": "model", "transcript": "Sure, it opens at nine and it closes at six."}]}


async def test_the_floor_plays_the_reply_barges_in_and_truncates_what_was_heard() -> None:
    async with OpenAIRealtimeServer(Scenario.model_validate(SCENARIO), pace=4.0) as server:
        output = await _one_call(start_floor, server.url, lambda out: len(out.truncation_error_ms) > 0)
    sent = [json.loads(e.model_dump_json()) for c in server.connections for e in c.received]
    truncates = [e for e in sent if e["type"] == "conversation.item.truncate"]
    assert output.played_samples > 0 and output.window_clears == 1
    assert len(truncates) == 1 and truncates[0]["audio_end_ms"] > 0
    # The floor reads the heard position from the room: the model is told exactly what played.
    assert output.truncation_error_ms == array("d", [0.0])


async def test_the_gemini_half_times_its_barge_in_from_the_callers_speech() -> None:
    # The loopback reports the caller's speech (voiceActivity), on which the agent clears
    # playout before the server's interrupted arrives: the barge-in is timed from it.
    async with GeminiLiveServer(Scenario.model_validate(SCENARIO)) as server:
        output = await _one_call(start_gemini, server.url, lambda out: len(out.barge_in_ms) > 0)
    assert output.played_samples > 0 and output.window_clears >= 1
    assert len(output.barge_in_ms) == len(output.barge_in_cpu_ms) == 1
    assert output.barge_in_cpu_ms[0] <= output.barge_in_ms[0] + 0.05
