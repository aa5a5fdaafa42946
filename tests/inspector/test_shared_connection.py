"""The sessions of a process share one connection to an inspector: one socket, a few
frames a second however many sessions, each session still begun, ended and caught up on
its own; the server reads the batched frames and the single-session ones before them."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from aiohttp import ClientSession

from turnstile.adapters.inspector import InspectorPublisher, InspectorServer

from .._util import wait_until
from .test_publisher import idle_agent

INTERVAL_S = 0.2


def speech(server: InspectorServer, publisher: InspectorPublisher) -> list[str]:
    session = server.sessions.get(publisher.session_id)
    return [m["phase"] for m in session.messages if m["type"] == "speech"] if session else []


async def test_sessions_share_one_connection_and_a_few_frames_a_second() -> None:
    async with InspectorServer() as server:
        agents = [idle_agent() for _ in range(10)]
        publishers = [InspectorPublisher(a, server.publish_url, interval_s=INTERVAL_S) for a in agents]
        try:
            await wait_until(lambda: all(p.connected for p in publishers), timeout=10)
            assert server.hub.publishers == 1
            frames, started = server.hub.frames, asyncio.get_running_loop().time()
            for _ in range(50):  # 1000 events over many turns of the loop
                for agent in agents:
                    agent.events.emit("user_started_speaking")
                    agent.events.emit("user_stopped_speaking")
                await asyncio.sleep(0)
            await wait_until(lambda: all(len(speech(server, p)) == 100 for p in publishers), timeout=10)
            elapsed = asyncio.get_running_loop().time() - started
            # One frame for all ten sessions at most every interval (the first goes at once).
            assert server.hub.frames - frames <= elapsed / INTERVAL_S + 2, (server.hub.frames - frames, elapsed)
            for publisher in publishers:
                assert speech(server, publisher) == ["start", "stop"] * 50  # all of it, in order
                assert publisher.dropped == 0 and publisher.sent >= 100
        finally:
            for publisher in publishers:
                await publisher.aclose()
        assert not any(s.live for s in server.sessions)
        await wait_until(lambda: server.hub.publishers == 0)  # the last session gone: so is the socket


async def test_a_session_that_closes_ends_alone_and_the_others_go_on() -> None:
    async with InspectorServer() as server:
        first, second = idle_agent(), idle_agent()
        leaving = InspectorPublisher(first, server.publish_url, interval_s=0.05)
        staying = InspectorPublisher(second, server.publish_url, interval_s=0.05)
        try:
            await wait_until(lambda: leaving.connected and staying.connected, timeout=10)
            await leaving.aclose()  # sent when it returns; read by the server soon after
            gone = server.sessions.get(leaving.session_id)
            assert gone is not None
            await wait_until(lambda: not gone.live, timeout=5)
            assert gone.messages[-1]["type"] == "bye" and leaving.dropped == 0
            second.events.emit("user_started_speaking")
            await wait_until(lambda: speech(server, staying) == ["start"], timeout=5)
            still = server.sessions.get(staying.session_id)
            assert still is not None and still.live and server.hub.publishers == 1
        finally:
            await staying.aclose()
        assert not any(s.live for s in server.sessions)


HELLO = {"type": "hello", "t": 0.0, "wall": 1.0, "state": "listening", "configuration": ["listening"], "dot": ""}


async def test_the_server_reads_batched_and_single_session_frames(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="turnstile.inspector")
    async with InspectorServer() as server, ClientSession() as http, http.ws_connect(server.publish_url) as ws:
        await ws.send_str(json.dumps({"session": "single", "dropped": 0, "messages": [HELLO]}))
        batch = [{"messages": "no session"}, {"session": "batched", "dropped": 3, "messages": [HELLO]}]
        await ws.send_str(json.dumps({"frames": batch}))
        await ws.send_str('{"frames": 7}')
        await ws.send_str(json.dumps({"frames": [{"session": "last", "messages": [HELLO, {"type": "bye", "t": 1}]}]}))
        await wait_until(lambda: server.sessions.get("last") is not None, timeout=5)
        single, batched, last = (server.sessions.get(i) for i in ("single", "batched", "last"))
        assert single is not None and single.live
        assert batched is not None and batched.live and batched.dropped == 3
        assert last is not None and not last.live
        assert "a batch it cannot read" in caplog.text and "a frame it cannot read" in caplog.text
    await wait_until(lambda: not any(s.live for s in server.sessions))  # the publisher went: so did they


async def test_a_transition_no_agent_event_announces_is_sent_in_the_next_frame() -> None:
    # The user region's silent -> talking emits user_state_changed, which the page does not
    # take: only the trace's follower wakes the writer for it.
    async with InspectorServer() as server:
        agent = idle_agent()
        publisher = InspectorPublisher(agent, server.publish_url, interval_s=INTERVAL_S)
        try:
            await wait_until(lambda: publisher.connected, timeout=10)
            agent._send("user_speech_started", speech_ms=0)

            def user_region() -> list[str]:
                session = server.sessions.get(publisher.session_id)
                messages = session.messages if session else []
                return [m["target"] for m in messages if m["type"] == "transition" and m.get("region") == "user"]

            await wait_until(lambda: user_region() == ["talking"], timeout=5)
        finally:
            await publisher.aclose()
