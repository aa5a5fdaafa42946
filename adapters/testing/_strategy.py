"""``provider_events``: the hypothesis strategy (the one module of the package that needs
hypothesis; ``pip install 'turnstile-agents[pytest]'`` brings it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st
from statemachine import StateChart

from turnstile.machine import AgentChart

from ._steps import AUDIO_MS, Step, build_steps, chart_operations, chart_phrases

__all__ = ["provider_events"]

# Orders that matter and are unlikely one operation at a time: a response that plays, a
# barge-in on it, a tool inside a response, a drop mid-response.
PHRASES: tuple[tuple[str, ...], ...] = (
    ("created", "audio_new_item", "transcript", "audio", "advance", "advance"),
    ("generate_reply", "created", "audio_new_item", "advance", "speech_started"),
    ("audio_done", "response_done", "advance"),
    ("speech_started", "speech_stopped", "committed", "created"),
    ("created", "tool", "response_done", "advance"),
    ("created", "audio_new_item", "lost", "ready"),
)


def provider_events(
    chart: type[StateChart[Any]] = AgentChart,
    *,
    min_size: int = 1,
    max_size: int = 12,
    tool_names: Sequence[str] = ("lookup",),
    audio_ms: int = AUDIO_MS,
) -> st.SearchStrategy[list[Step]]:
    """Sequences a real server could send, in that order, to an agent running ``chart``.

    Each sequence starts with :class:`~turnstile.machine.SessionReady`; ids are consistent
    (audio, transcripts, tool calls and the end only for a response that was created and is
    not done; one response streams at a time; nothing while the socket is down). Between
    the provider events come the application's calls (:class:`AgentCall`), time passing
    (:class:`Advance`), and, for a derived chart, its own events (:class:`ChartEvent`).
    Operations are weighted by the transitions ``chart`` declares on what they cause, and
    a derived chart's own transitions are reached by the paths to them (:func:`chart_phrases`).
    ``min_size``/``max_size`` count operations (a phrase of a few is one); the tool calls
    name ``tool_names``. Feed a sequence to an agent with :func:`run_events`.
    """
    weights = chart_operations(chart)
    # sampled_from shrinks toward the front: the lightest (rarest) operations go last.
    weighted = [op for op, w in sorted(weights.items(), key=lambda kv: -kv[1]) for _ in range(w)]
    single = st.sampled_from(weighted).map(lambda op: (op,))
    phrases = st.sampled_from((*PHRASES, *chart_phrases(chart)))
    operations = st.lists(st.one_of(single, phrases), min_size=min_size, max_size=max_size)
    return operations.map(
        lambda chunks: build_steps((op for chunk in chunks for op in chunk), tool_names=tool_names, audio_ms=audio_ms)
    )
