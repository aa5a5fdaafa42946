"""The sessions bench's inspected half: its sessions publish to a real inspector over real
sockets, and a run whose inspector received nothing is flagged."""

from __future__ import annotations

from typing import Any

from benchmarks._pacedroom import PacedClock, PacedRoom
from benchmarks._sessions import REPLY_LINE
from benchmarks._sessions_inspector import check_inspector
from benchmarks._sessions_turnstile_inspector import start
from turnstile.adapters.inspector import InspectorServer
from turnstile.adapters.openai._server import OpenAIRealtimeServer
from turnstile.adapters.scenario import Scenario
from turnstile.adapters.voice import RATE

from .._util import wait_until
from .test_sessions_halves import _caller  # speaks, then speaks over the reply: one barge-in


async def test_an_inspected_session_publishes_its_barge_in_to_the_inspector() -> None:
    scenario = Scenario.model_validate({"name": "inspected", "steps": [{"role": "model", "transcript": REPLY_LINE}]})
    async with OpenAIRealtimeServer(scenario, pace=4.0) as server, InspectorServer() as inspector:
        clock = PacedClock(RATE)
        clock.start()
        room = PacedRoom(clock, _caller(), offset_samples=0, queue_ms=200)
        session = await start(room, server.url, inspector=inspector.publish_url)
        try:
            assert room.link_ is not None
            output = room.link_.output
            clock.record(True)
            clock.mic_on = True
            await wait_until(lambda: len(output.barge_in_ms) > 0, timeout=15)
        finally:
            await session.aclose()  # the agent's bye, then the publisher's flush
            await room.aclose()
            await clock.aclose()
        [received] = list(inspector.sessions)
    assert not received.live  # it saw the session end
    assert [m["type"] for m in received.messages].count("barge_in") == 1
    assert received.dropped == 0


def _row(**inspector: Any) -> dict[str, Any]:
    got = {"sessions": 10, "live": 0, "messages": 900, "dropped": 0, "by_type": {"barge_in": 20}, **inspector}
    return {"n": 10, "barge_in_ms": {"n": 20}, "check_failures": [], "inspector": got}


def test_a_half_whose_inspector_got_nothing_is_flagged() -> None:
    good, silent, unended = _row(), _row(sessions=0, messages=0, by_type={}), _row(live=3)
    for row in (good, silent, unended):
        check_inspector(row)
    assert good["check_failures"] == []
    assert "the inspector got 0 sessions (0 never ended), expected 10" in silent["check_failures"]
    assert "the inspector got 0 barge-ins, fewer than the 20 silenced" in silent["check_failures"]
    assert "(3 never ended)" in " ".join(unended["check_failures"])
