"""attach_recorder: a Recorder on an agent, through the agent's public surface.

The session's frames come from the socket's ``frame_tap``, set as the provider makes the
session (the agent's provider is wrapped: ``start`` asks it for the session). The room
facts come from the agent's events; the application's calls that ask the model something
(``generate_reply``, ``interrupt``) are noted before they run, since a replay must make
them again; the trace and the chat context are written when the chart closes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from turnstile.machine import Capabilities, ChatContext, ProviderEvent, RealtimeSession, ToolSchema

from .._socket import ReconnectingSocket
from ._agent_view import stopped_playout
from ._writer import Recorder

if TYPE_CHECKING:
    from turnstile.machine import RealtimeAgent, RealtimeProvider

__all__ = ["RECORD_ENV", "attach_recorder", "provider_header", "recorder_from_env"]

logger = logging.getLogger("turnstile.recording")

RECORD_ENV = "TURNSTILE_RECORD"


def recorder_from_env(**options: Any) -> Recorder | None:
    """A Recorder into ``$TURNSTILE_RECORD`` (a directory; one new file per session), or None."""
    target = os.environ.get(RECORD_ENV)
    if not target:
        return None
    return Recorder(target.rstrip("/\\") + "/", **options)


def provider_header(provider: object) -> dict[str, Any]:
    """What a replay needs to make the same provider: its kind, dialect, options and
    connection settings. Never the key, the headers or the URL (a query may hold a key)."""
    from ..gemini import GeminiLive
    from ..openai import OpenAIRealtime

    connection = {
        name: getattr(provider, name)
        for name in ("max_retries", "backoff_base_s", "backoff_max_s", "connect_timeout_s")
        if hasattr(provider, name)
    }
    if isinstance(provider, OpenAIRealtime):
        kind: dict[str, Any] = {"provider": "openai", "dialect": provider.dialect, "azure": provider.azure}
    elif isinstance(provider, GeminiLive):
        kind = {"provider": "gemini", "dialect": "live", "vertex": provider.vertex_project is not None}
    else:
        raise TypeError(f"attach_recorder: cannot record a {type(provider).__name__} (OpenAIRealtime or GeminiLive)")
    options = provider.options.model_dump(mode="json")
    return {**kind, "model": options.get("model"), "provider_options": options, "connection": connection}


class _TappedProvider:
    """The agent's provider, whose sessions have the recorder's frame tap from birth."""

    def __init__(self, inner: RealtimeProvider, agent: RealtimeAgent, recorder: Recorder) -> None:
        self._inner = inner
        self._agent = agent
        self._recorder = recorder

    @property
    def capabilities(self) -> Capabilities:
        return self._inner.capabilities

    def session(
        self, *, chat_ctx: ChatContext, tools: Sequence[ToolSchema], on_event: Callable[[ProviderEvent], None]
    ) -> RealtimeSession:
        session = self._inner.session(chat_ctx=chat_ctx, tools=tools, on_event=on_event)
        if isinstance(session, ReconnectingSocket):
            session.frame_tap = self._recorder.tap
        else:
            logger.warning("%s has no frame tap: its frames are not recorded", type(session).__name__)
        link = self._agent.link  # linked by now: start links the room, then makes the session
        self._recorder.fact("room", fact="linked", participant=link.participant if link is not None else None)
        return session

    def __getattr__(self, name: str) -> Any:  # sessions, options, dialect: the provider's own
        return getattr(self._inner, name)


def attach_recorder(agent: RealtimeAgent, recorder: Recorder) -> Recorder:
    """Record ``agent``'s session into ``recorder``; call before ``agent.start``.

    ``await recorder.aclose()`` after ``agent.aclose()`` waits for the file to be complete
    (the writer finishes on its own once the chart closes)."""
    if agent.session is not None:
        raise RuntimeError("attach_recorder: the agent has started; attach before agent.start()")
    chart = type(agent.chart)
    recorder.start({
        **provider_header(agent.provider),
        "agent_options": agent.options.model_dump(mode="json"),
        "chart": f"{chart.__module__}:{chart.__qualname__}",
        "tools": [s.name for s in agent.toolbox.schemas],
        "chat_ctx": [m.model_dump(mode="json") for m in agent.chat_ctx.messages],
        "recorded_at": _utc_now(),
    })  # fmt: skip
    agent.provider = _TappedProvider(agent.provider, agent, recorder)
    _note_calls(agent, recorder)

    def started() -> None:
        recorder.fact("room", fact="started")

    def stopped() -> None:
        recorder.fact("room", fact="stopped", **(stopped_playout(agent) or {}))

    def changed(old: str, new: str, event: str | None) -> None:
        if new == "closed":
            recorder.finish(
                (r.model_dump(mode="json") for r in agent.trace.records),
                [m.model_dump(mode="json") for m in agent.chat_ctx.messages],
            )

    agent.events.on("agent_started_speaking", started)
    agent.events.on("agent_stopped_speaking", stopped)
    agent.events.on("state_changed", changed)
    return recorder


def _note_calls(agent: RealtimeAgent, recorder: Recorder) -> None:
    """The application's requests to the model, noted as they are made (the instance's
    methods are wrapped: the agent's class is not touched)."""
    generate_reply, interrupt = agent.generate_reply, agent.interrupt

    def noted_generate_reply(on_duplicate: Any = "cancel_existing") -> None:
        recorder.fact("app", call="generate_reply", on_duplicate=on_duplicate, state=agent.state)
        generate_reply(on_duplicate)

    def noted_interrupt() -> None:
        recorder.fact("app", call="interrupt", state=agent.state)
        interrupt()

    setattr(agent, "generate_reply", noted_generate_reply)  # noqa: B010 - an instance attribute, on purpose
    setattr(agent, "interrupt", noted_interrupt)  # noqa: B010


def _utc_now() -> str:
    import datetime

    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
