"""What the chaos run holds each conversation to, written down precisely.

Settled: after the faults stop, the agent reaches ``closed``, or reaches ``listening`` and
makes no transition for ``hold_s``, within ``settle_s``. Waited on the agent's
``state_changed`` event, never polled. A conversation that settles in ``listening`` is then
asked one more turn: it must answer it (a reply heard) within ``probe_s``, or it is stuck
"listening" on a session that is gone.

Tool results lost: an output the agent produced (``function_calls_finished``) for a call
the server issued, which no connection's server took: OpenAI echoes every
``function_call_output`` item it accepts; the Gemini loopback records each ``toolResponse``
that answered a pending call (or a later ``clientContent`` may carry it). Not counted when
the conversation ended ``closed`` (nothing can be delivered to a session that is gone), nor
for a call the server withdrew (Gemini's ``toolCallCancellation``, when the caller spoke).

Chat-context items lost: a reply heard (``agent_speech_committed``/``interrupted``), a user
transcript reported (``user_speech_committed``) or a tool output produced that is not in the
agent's final ``chat_ctx``. Duplicated: two entries with one item id, two outputs (or two
calls) for one call id, an output the server accepted twice on one connection, or two
complete replies between two prompts (a prompt: the agent asked to speak, a caller turn, a
tool's outputs).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from turnstile.machine import ChatContext, RealtimeAgent

__all__ = ["Timeline", "chat_problems", "settle", "unanswered_outputs"]


async def settle(agent: RealtimeAgent, changed: asyncio.Event, *, settle_s: float, hold_s: float) -> str | None:
    """None once settled; else the state the agent was in when ``settle_s`` ran out.

    ``changed`` is set by the agent's ``state_changed`` handler."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settle_s
    while True:
        state = str(agent.state)
        if state == "closed":
            return None
        changed.clear()  # no await since reading the state: no change can slip between
        now = loop.time()
        if state == "listening":
            if now >= deadline + hold_s:
                return "listening (restless)"  # back in listening, again and again, never still
            wait = hold_s
        elif now >= deadline:
            return state
        else:
            wait = deadline - now
        try:
            async with asyncio.timeout(wait):
                await changed.wait()
        except TimeoutError:
            return None if state == "listening" else str(agent.state)


@dataclass
class Timeline:
    """Prompts and replies in the order they happened."""

    entries: list[tuple[str, bool]] = field(default_factory=list)  # ("prompt", False) / ("reply", interrupted)

    def prompt(self) -> None:
        self.entries.append(("prompt", False))

    def reply(self, interrupted: bool) -> None:
        self.entries.append(("reply", interrupted))

    def answered_twice(self) -> int:
        """Prompts followed by more than one complete reply before the next prompt."""
        extra = complete = 0
        for kind, interrupted in self.entries:
            if kind == "prompt":
                complete = 0
            elif not interrupted:
                complete += 1
                extra += complete > 1
        return extra


def unanswered_outputs(produced: Iterable[str], accepted: Iterable[str]) -> list[str]:
    """Call ids the agent produced an output for that no server took."""
    taken = set(accepted)
    return [c for c in dict.fromkeys(produced) if c not in taken]


def chat_problems(
    ctx: ChatContext,
    *,
    heard: Iterable[str],
    user_texts: Iterable[str],
    outputs: Iterable[str],
    server_duplicates: Iterable[str],
    timeline: Timeline,
) -> tuple[list[str], list[str]]:
    """(lost, duplicated) descriptions for the final chat context."""
    msgs = ctx.messages
    assistant = Counter(m.text for m in msgs if m.role == "assistant" and not m.tool_call_id)
    users = Counter(m.text for m in msgs if m.role == "user")
    tool_ids = Counter(m.tool_call_id for m in msgs if m.role == "tool")
    call_ids = Counter(m.tool_call_id for m in msgs if m.role == "assistant" and m.tool_call_id)
    # Counted: an item played twice keeps one entry, and the words of the other are lost.
    lost = [f"reply heard, not in chat_ctx: {t!r}" for t in (Counter(heard) - assistant).elements()]
    # A set, not a count: a duplicated transcription frame reports one item twice.
    lost += [f"user turn reported, not in chat_ctx: {t!r}" for t in dict.fromkeys(user_texts) if not users[t]]
    lost += [f"tool output not in chat_ctx: {c}" for c in dict.fromkeys(outputs) if not tool_ids[c]]
    ids = Counter(m.id for m in msgs if m.id is not None)
    dup = [f"{n} chat_ctx entries with id {i}" for i, n in ids.items() if n > 1]
    dup += [f"{n} tool outputs for {c}" for c, n in tool_ids.items() if n > 1]
    dup += [f"{n} tool calls for {c}" for c, n in call_ids.items() if n > 1]
    dup += [f"server took the output for {c} twice" for c in server_duplicates]
    dup += ["a prompt answered by two complete replies"] * timeline.answered_twice()
    return lost, dup
