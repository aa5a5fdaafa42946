"""The inspector's stream of facts as OpenTelemetry spans and metrics.

A span per session, per user turn, per agent response and per tool call; barge-ins
(with the heard position), reconnects and errors as events on the session's span; metrics
for time to first audio, barge-in latency, interruptions, false interruptions (a held
playout that resumed), reconnects and token usage.
Names follow OpenTelemetry's GenAI semantic conventions where one applies (``chat`` and
``execute_tool`` spans, ``gen_ai.*`` attributes, ``gen_ai.client.token.usage``).

Only ``opentelemetry-api`` is used, through the providers the application set (or the
ones passed in): this never installs or replaces a tracer or meter provider. Without the
package, :func:`attach_telemetry` does nothing and returns None.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ._tap import Message, Tap

__all__ = ["AgentTelemetry", "attach_telemetry"]

logger = logging.getLogger("turnstile.inspector")

_NAME = "turnstile"
_PROVIDERS = (("azure", "azure.ai.openai"), ("openai", "openai"), ("gemini", "gcp.gemini"))


def _provider_system(name: str) -> str:
    lowered = name.lower()
    return next((system for key, system in _PROVIDERS if key in lowered), lowered)


def _model(agent: Any) -> str | None:
    model = getattr(getattr(getattr(agent, "provider", None), "options", None), "model", None)
    return model if isinstance(model, str) else None


class AgentTelemetry:
    """Follows one agent's session (see :func:`attach_telemetry`)."""

    def __init__(self, agent: Any, *, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        from opentelemetry import metrics, trace

        self._trace = trace
        tracer_provider = tracer_provider or trace.get_tracer_provider()
        meter_provider = meter_provider or metrics.get_meter_provider()
        self._tracer = tracer_provider.get_tracer(_NAME)
        meter = meter_provider.get_meter(_NAME)
        self._ttfa = meter.create_histogram("turnstile.response.time_to_first_audio", unit="s",
                                            description="From a response's creation to its first audio")  # fmt: skip
        self._barge_latency = meter.create_histogram(
            "turnstile.barge_in.latency", unit="s", description="From the caller's speech to the agent's audio stopping"
        )
        self._interruptions = meter.create_counter("turnstile.interruptions", description="Replies cut by the caller")
        self._false_interruptions = meter.create_counter(
            "turnstile.false_interruptions", description="Holds on speech over the agent that then played on"
        )
        self._reconnects = meter.create_counter("turnstile.reconnects", description="Provider sessions lost, then back")
        self._tokens = meter.create_histogram("gen_ai.client.token.usage", unit="{token}",
                                              description="Tokens used per response")  # fmt: skip
        self._tap = Tap(agent, self._on, transcripts=False, room=None)
        hello = self._tap.hello(type(agent.chart).__name__, "")
        self._system = _provider_system(str(hello["provider"]))
        self._model = _model(agent)
        self._common = {"gen_ai.provider.name": self._system, "gen_ai.system": self._system}
        self._session = self._tracer.start_span("turnstile.session", attributes={
            **self._common, "turnstile.chart": hello["chart"],
            **{f"turnstile.{k}": v for k, v in (("room", hello["room"]), ("participant", hello["participant"])) if v},
        })  # fmt: skip
        self._context = trace.set_span_in_context(self._session)
        self._user_turn: Any = None
        self._user_since: float | None = None
        self._tools: dict[str, Any] = {}
        self._ended = False
        self._tap.attach()
        # Not one of the inspector's messages: the agent's own event, heard here directly
        # (guarded as the tap's hooks are: telemetry never raises into the agent).
        self._on_false = self._tap._guard("false_interruption", self._false_interruption)
        agent.events.on("false_interruption", self._on_false)

    # One message of the stream ----------------------------------------------------------------
    def _on(self, msg: Message) -> None:
        handler = getattr(self, f"_on_{msg['type']}", None)
        if handler is not None and not self._ended:
            handler(msg)

    def _on_meta(self, msg: Message) -> None:
        for key in ("room", "participant"):
            if msg.get(key):
                self._session.set_attribute(f"turnstile.{key}", msg[key])

    def _on_speech(self, msg: Message) -> None:
        if msg["who"] != "user":
            return
        if msg["phase"] == "start" and self._user_turn is None:
            self._user_since = msg["t"]
            self._user_turn = self._tracer.start_span("turnstile.user_turn", context=self._context,
                                                      attributes=self._common)  # fmt: skip
        elif msg["phase"] == "stop" and self._user_turn is not None:
            self._user_turn.end()
            self._user_turn = None

    def _on_barge_in(self, msg: Message) -> None:
        attrs: dict[str, Any] = {"turnstile.heard_ms": msg["heard_ms"], "turnstile.cut_by": msg.get("by") or ""}
        if self._user_since is not None and msg["t"] >= self._user_since:
            latency = msg["t"] - self._user_since
            attrs["turnstile.barge_in.latency_s"] = latency
            self._barge_latency.record(latency, self._common)
        self._session.add_event("barge_in", attrs)
        self._interruptions.add(1, self._common)

    def _false_interruption(self) -> None:
        if self._ended:
            return
        # Held from the caller's speech start until now, when playout resumed.
        attrs: dict[str, Any] = {}
        if self._user_since is not None:
            attrs["turnstile.held_ms"] = round(max(0.0, self._tap.now() - self._user_since) * 1000)
        self._session.add_event("false_interruption", attrs)
        self._false_interruptions.add(1, self._common)

    def _on_transition(self, msg: Message) -> None:
        if msg.get("event") == "session_lost":
            self._session.add_event("reconnect", {"turnstile.from_state": msg["source"]})
            self._reconnects.add(1, self._common)

    def _on_tools(self, msg: Message) -> None:
        for call in msg["calls"]:
            if msg["phase"] == "start":
                self._tools[call["id"]] = self._tracer.start_span(
                    f"execute_tool {call['name']}", context=self._context,
                    attributes={**self._common, "gen_ai.operation.name": "execute_tool",
                                "gen_ai.tool.name": call["name"], "gen_ai.tool.call.id": call["id"]},
                )  # fmt: skip
            elif (span := self._tools.pop(call["id"], None)) is not None:
                if call.get("error"):
                    span.set_status(self._trace.StatusCode.ERROR, "the tool failed")
                    span.set_attribute("error.type", "tool_error")
                span.end()

    def _on_metrics(self, msg: Message) -> None:
        m = msg["metrics"]
        now = time.time_ns()
        duration = float(m.get("duration_s") or 0.0)
        attrs: dict[str, Any] = {**self._common, "gen_ai.operation.name": "chat",
                                 "gen_ai.response.id": str(m.get("response_id", "")),
                                 "gen_ai.usage.input_tokens": int(m.get("input_tokens") or 0),
                                 "gen_ai.usage.output_tokens": int(m.get("output_tokens") or 0),
                                 "turnstile.response.status": str(m.get("status", "")),
                                 "turnstile.response.cancelled": bool(m.get("cancelled"))}  # fmt: skip
        if self._model:
            attrs["gen_ai.request.model"] = self._model
        if m.get("ttfa_s") is not None:
            attrs["turnstile.response.time_to_first_audio_s"] = float(m["ttfa_s"])
            self._ttfa.record(float(m["ttfa_s"]), self._common)
        # metrics_collected comes when the response is done: its span is drawn back to its start.
        name = f"chat {self._model}" if self._model else "chat"
        span = self._tracer.start_span(name, context=self._context, attributes=attrs,
                                       start_time=now - int(duration * 1e9))  # fmt: skip
        if m.get("error"):
            span.set_status(self._trace.StatusCode.ERROR, str(m["error"]))
        span.end(end_time=now)
        for kind in ("input", "output"):
            self._tokens.record(int(m.get(f"{kind}_tokens") or 0), {**self._common, "gen_ai.token.type": kind,
                                                                     "gen_ai.operation.name": "chat"})  # fmt: skip

    def _on_error(self, msg: Message) -> None:
        self._session.add_event("error", {"turnstile.error.code": msg["code"],
                                          "turnstile.error.recoverable": msg["recoverable"]})  # fmt: skip
        if not msg["recoverable"]:
            self._session.set_status(self._trace.StatusCode.ERROR, msg["code"])

    def _on_bye(self, msg: Message) -> None:
        self.close()

    def close(self) -> None:
        """End the open spans (the agent closing does this by itself)."""
        if self._ended:
            return
        self._ended = True
        self._tap.detach()
        try:
            self._tap.agent.events.off("false_interruption", self._on_false)
        except ValueError:  # already gone
            pass
        for span in (self._user_turn, *self._tools.values()):
            if span is not None:
                span.end()
        self._tools.clear()
        self._session.end()


def attach_telemetry(agent: Any, *, tracer_provider: Any = None, meter_provider: Any = None) -> AgentTelemetry | None:
    """Report ``agent``'s session to OpenTelemetry (``pip install 'turnstile-agents[otel]'``).

    Uses the global tracer and meter providers the application set, or the ones given;
    never sets one. Without ``opentelemetry-api`` installed it does nothing (None).
    Error messages and transcripts are not recorded: only codes, states and timings.
    """
    try:
        import opentelemetry.metrics
        import opentelemetry.trace  # noqa: F401
    except ImportError:
        logger.debug("opentelemetry-api is not installed: no telemetry")
        return None
    return AgentTelemetry(agent, tracer_provider=tracer_provider, meter_provider=meter_provider)
