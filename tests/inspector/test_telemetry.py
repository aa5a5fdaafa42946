"""The same facts as OpenTelemetry spans and metrics, read back from the SDK's in-memory
exporter and reader, while the real agent takes the scripted call."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from turnstile.adapters.inspector import attach_telemetry
from turnstile.adapters.local import LocalRoom
from turnstile.adapters.openai import OpenAIRealtime
from turnstile.adapters.openai._server import OpenAIRealtimeServer
from turnstile.adapters.scripted import ScriptedRealtime, pcm_tone
from turnstile.machine import AgentOptions, Capabilities, InputSpeechStarted, InputSpeechStopped, RealtimeAgent

from .._util import wait_until
from ._call import RATE, SCENARIO, barge_in_call, get_weather


def metric_points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    out: dict[str, list[Any]] = {}
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                out.setdefault(metric.name, []).extend(metric.data.data_points)
    return out


async def test_spans_and_metrics_of_a_call_with_a_tool_and_a_barge_in() -> None:
    global_provider = trace.get_tracer_provider()
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    spoken: list[str] = []
    async with OpenAIRealtimeServer(SCENARIO) as model:
        room = LocalRoom(caller_sample_rate=RATE)
        agent = RealtimeAgent(OpenAIRealtime(api_key="sk-loopback", url=model.url), tools=[get_weather])
        telemetry = attach_telemetry(agent, tracer_provider=tracer_provider,
                                     meter_provider=MeterProvider(metric_readers=[reader]))  # fmt: skip
        assert telemetry is not None
        try:
            await barge_in_call(agent, room, spoken)
        finally:
            await agent.aclose()
            await room.aclose()
    assert trace.get_tracer_provider() is global_provider  # the application's stays in place

    spans = exporter.get_finished_spans()
    by_name: dict[str, list[Any]] = {}
    for span in spans:
        by_name.setdefault(span.name, []).append(span)
    [session] = by_name["turnstile.session"]
    assert session.attributes["gen_ai.provider.name"] == "openai"
    assert session.attributes["turnstile.participant"] == "caller"
    assert len(by_name["turnstile.user_turn"]) >= 2  # the question, the barge-in
    [tool] = by_name["execute_tool get_weather"]
    assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
    assert tool.attributes["gen_ai.tool.call.id"]
    chats = by_name["chat gpt-realtime"]
    assert len(chats) >= 3 and all(c.attributes["gen_ai.response.id"] for c in chats)
    assert all(c.attributes["gen_ai.usage.output_tokens"] > 0 for c in chats)
    for child in (*by_name["turnstile.user_turn"], tool, *chats):
        assert child.parent is not None and child.parent.span_id == session.context.span_id
    [barge] = [e for e in session.events if e.name == "barge_in"]
    assert barge.attributes["turnstile.heard_ms"] >= 1000  # cut one second into the answer
    assert 0 < barge.attributes["turnstile.barge_in.latency_s"] < 2

    points = metric_points(reader)
    assert sum(p.value for p in points["turnstile.interruptions"]) == 1
    assert sum(p.count for p in points["turnstile.response.time_to_first_audio"]) >= 3
    assert sum(p.count for p in points["turnstile.barge_in.latency"]) == 1
    assert sum(p.count for p in points["gen_ai.client.token.usage"]) >= 6  # input and output, per response
    assert "turnstile.reconnects" not in points or sum(p.value for p in points["turnstile.reconnects"]) == 0


def test_without_opentelemetry_nothing_is_done(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in sys.modules if n == "opentelemetry" or n.startswith("opentelemetry.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # as if not installed: import fails
    agent = RealtimeAgent(OpenAIRealtime(api_key="sk-loopback", url="ws://127.0.0.1:9/never"))
    assert attach_telemetry(agent) is None


async def test_a_held_reply_that_plays_on_is_a_false_interruption_not_a_barge_in() -> None:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    # As tests/test_holding.py: a provider that keeps generating through speech over the agent.
    provider, room = ScriptedRealtime(Capabilities(holds_playout=True, replies_to_turns=False)), LocalRoom()
    options = AgentOptions(min_interruption_s=5.0, false_interruption_timeout_s=0.2)
    agent = RealtimeAgent(provider, options=options)
    telemetry = attach_telemetry(agent, tracer_provider=tracer_provider,
                                 meter_provider=MeterProvider(metric_readers=[reader]))  # fmt: skip
    assert telemetry is not None
    try:
        await agent.start(room)
        await agent.wait_for_state("listening")
        s = provider.last_session
        agent.generate_reply()
        rid, iid = s.start_audio_response(pcm_tone(800), transcript="a whole answer", done=False)
        await wait_until(lambda: room.speaker.heard_samples > 2400)
        s.emit(InputSpeechStarted())
        assert agent.state == "holding"
        s.emit(InputSpeechStopped())  # a cough: short, and no words follow
        await agent.wait_for_state("speaking", timeout=3)  # false_interruption: it plays on
        s.finish_response(rid, iid, transcript="a whole answer")
        await agent.wait_for_state("listening", timeout=5)
    finally:
        await agent.aclose()
        await room.aclose()

    sessions: list[Any] = [span for span in exporter.get_finished_spans() if span.name == "turnstile.session"]
    [session] = sessions
    [held] = [e for e in session.events if e.name == "false_interruption"]
    assert held.attributes["turnstile.held_ms"] >= 150  # the 0.2 s wait for words, at least
    assert not [e for e in session.events if e.name == "barge_in"]
    points = metric_points(reader)
    assert sum(p.value for p in points["turnstile.false_interruptions"]) == 1
    assert "turnstile.interruptions" not in points or sum(p.value for p in points["turnstile.interruptions"]) == 0
