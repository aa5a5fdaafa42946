"""The publisher and the server without a browser: the agent never waits, drops are
counted, the connection comes back, a token guards a server reachable from elsewhere, and
nothing secret is published."""

from __future__ import annotations

import json
import logging
import socket
import time

import numpy as np
import pytest
from aiohttp import ClientSession, CookieJar, WSServerHandshakeError

from turnstile.adapters.inspector import InspectorPublisher, InspectorServer, attach_inspector
from turnstile.adapters.local import LocalRoom
from turnstile.adapters.openai import OpenAIRealtime
from turnstile.adapters.openai._server import OpenAIRealtimeServer
from turnstile.adapters.scenario import CallerTurn, Scenario
from turnstile.machine import RealtimeAgent

from .._util import wait_until

RATE = 24000
KEY = "sk-inspector-test-secret-6f1c2b"


def get_weather(city: str) -> str:
    return f"sunny in {city}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def idle_agent() -> RealtimeAgent:
    """A real agent, not started: its events are emitted by hand (as its runtime would)."""
    return RealtimeAgent(OpenAIRealtime(api_key=KEY, url="ws://127.0.0.1:9/never"))


def published(server: InspectorServer) -> str:
    """Everything the server was sent, as text."""
    return "\n".join(
        json.dumps(s.hello) + "\n" + "\n".join(json.dumps(m) for m in s.messages) for s in server.sessions
    )


async def test_a_gone_inspector_costs_the_agent_nothing_and_drops_are_counted(caplog: pytest.LogCaptureFixture) -> None:
    agent = idle_agent()
    url = f"ws://127.0.0.1:{free_port()}?token=publisher-token-7d2e"
    publisher = InspectorPublisher(agent, url, max_queue=10, backoff_s=(0.05, 0.1))
    caplog.set_level(logging.DEBUG, logger="turnstile.inspector")
    started = time.perf_counter()
    for _ in range(200):
        agent.events.emit("user_started_speaking")
        agent.events.emit("user_stopped_speaking")
    spent = time.perf_counter() - started
    assert spent < 0.5, spent  # 400 events: queued or dropped, never waited on
    assert publisher.dropped >= 390 and publisher.sent == 0
    await wait_until(lambda: "unreachable" in caplog.text, timeout=5)
    await publisher.aclose()
    assert caplog.text.count("unreachable") == 1  # said once, then retried quietly
    assert "publisher-token-7d2e" not in caplog.text


async def test_the_publisher_reconnects_and_the_session_goes_on() -> None:
    port = free_port()
    agent, other = idle_agent(), idle_agent()
    first = InspectorServer(port=port)
    await first.start()
    # Two sessions on the process's one connection: each comes back with its own hello.
    publisher = InspectorPublisher(agent, f"ws://127.0.0.1:{port}", backoff_s=(0.05, 0.2))
    beside = InspectorPublisher(other, f"ws://127.0.0.1:{port}")
    try:
        await wait_until(lambda: publisher.connected and beside.connected, timeout=5)
        agent.events.emit("user_started_speaking")
        await wait_until(lambda: any(m["type"] == "speech" for s in first.sessions for m in s.messages))
        await first.aclose()
        await wait_until(lambda: not publisher.connected, timeout=5)
        async with InspectorServer(port=port) as second:
            await wait_until(lambda: publisher.connections == 2 and beside.connections == 2, timeout=10)
            agent.events.emit("user_stopped_speaking")
            await wait_until(lambda: any(m.get("phase") == "stop" for s in second.sessions for m in s.messages))
            assert {s.id for s in second.sessions} == {publisher.session_id, beside.session_id}
            assert all(s.live for s in second.sessions)
            assert all(s.hello["state"] == agent.state for s in second.sessions)  # where it is now
            assert second.hub.publishers == 1
    finally:
        await publisher.aclose()
        await beside.aclose()


async def test_a_server_reachable_from_elsewhere_asks_for_its_token() -> None:
    # unsafe=True: keep cookies from an IP address, as a browser does.
    async with InspectorServer(host="0.0.0.0") as server, ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
        assert server.token_required and "token=" in server.url
        token = server.url.split("token=", 1)[1]
        assert token not in repr(server)
        base = f"http://127.0.0.1:{server.port}"
        async with http.get(f"{base}/") as response:
            assert response.status == 401
        async with http.get(f"{base}/api/sessions") as response:
            assert response.status == 401
        with pytest.raises(WSServerHandshakeError):
            await http.ws_connect(f"ws://127.0.0.1:{server.port}/publish")
        async with http.get(f"{base}/?token={token}") as response:
            assert response.status == 200  # and the page's later requests carry the cookie
        async with http.get(f"{base}/api/sessions") as response:
            assert response.status == 200
        agent = idle_agent()
        publisher = attach_inspector(agent, server.publish_url.replace("0.0.0.0", "127.0.0.1"))
        await wait_until(lambda: publisher.connections == 1, timeout=5)
        await publisher.aclose()


async def test_loopback_needs_no_token() -> None:
    async with InspectorServer() as server, ClientSession() as http:
        assert not server.token_required and "token" not in server.url
        async with http.get(server.url) as response:
            assert response.status == 200


async def test_nothing_secret_is_published_and_transcripts_can_be_left_out() -> None:
    scenario = Scenario.model_validate({"steps": [
        {"role": "model", "transcript": "Hello there, friend."},
        {"role": "caller", "transcript": "Weather in Paris?"},
        {"role": "model", "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
        {"role": "model", "transcript": "Sunny, all day."},
    ]})  # fmt: skip
    question = scenario.steps[1]
    assert isinstance(question, CallerTurn)
    spoken: list[str] = []
    async with InspectorServer() as server, OpenAIRealtimeServer(scenario) as model:
        room = LocalRoom(caller_sample_rate=RATE)
        agent = RealtimeAgent(OpenAIRealtime(api_key=KEY, url=model.url), tools=[get_weather])
        agent.on("agent_speech_committed", spoken.append)
        publisher = attach_inspector(agent, server.publish_url, transcripts=False)
        try:
            await agent.start(room)
            await agent.wait_for_state("listening", timeout=10)
            agent.generate_reply()
            await wait_until(lambda: len(spoken) == 1, timeout=10)
            pcm = np.frombuffer(question.audio(), np.int16)
            await room.caller.say(np.concatenate([pcm, np.zeros(RATE, np.int16)]).tobytes())
            await wait_until(lambda: len(spoken) == 2, timeout=15)
        finally:
            await agent.aclose()
            await publisher.aclose()
            await room.aclose()
        [session] = server.sessions
        assert not session.live  # the agent closed: it said goodbye
        stream = published(server)
        kinds = {m["type"] for m in session.messages}
        assert {"transition", "state", "speech", "tools", "metrics"} <= kinds, kinds
        assert KEY not in stream and "authorization" not in stream.lower() and "api_key" not in stream
        assert model.url not in stream  # not even where the model is
        for said in (*spoken, "Paris"):  # what the model said, the tool's arguments
            assert said not in stream, said
        # Events are queued as they come, the trace read when sending: merged in time order
        # (a hello says where the session is when it is sent; a barge-in is dated when the reply stopped).
        times = [m["t"] for m in session.messages if m["type"] not in ("hello", "barge_in")]
        assert times == sorted(times)
        tools = [m for m in session.messages if m["type"] == "tools"]
        assert tools[0]["calls"][0]["name"] == "get_weather" and "arguments" not in tools[0]["calls"][0]
