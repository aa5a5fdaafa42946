"""The machines the dispatch benchmark compares, and the event cycle they all run.

Every machine here must take a transition on every event of ``CYCLE`` and pass through
the leaf states of ``EXPECTED_LEAVES``; ``_cases`` checks that before timing, so a
variant that silently ignores an event (and would look cheap) fails loudly instead.
"""

from __future__ import annotations

from typing import Any

from statemachine import State, StateChart, StateMachine
from transitions import Machine

from turnstile.machine import AgentChart

__all__ = [
    "CYCLE",
    "EXPECTED_LEAVES",
    "OPTION_NAMES",
    "STATE_MACHINE_OPTIONS",
    "agent_chart_variant",
    "flat_statemachine",
    "transitions_machine",
]

Event = tuple[str, dict[str, Any]]

# A realistic control cycle: answer, barge-in, answer again, finish. Item ids are reused
# on purpose: with a started agent the runtime keys its handles and chat messages by item
# id, so fixed ids keep its dicts and chat context bounded over thousands of cycles.
CYCLE: tuple[Event, ...] = (
    ("response_started", {}),
    ("audio_started", {"item_id": "item_a", "content_index": 0, "response_id": "resp_a"}),
    # speaking -> interrupted, then the eventless interrupted -> listening: two transitions.
    ("user_speech_started", {"speech_ms": 0}),
    ("response_done", {}),  # the cancelled response's end
    ("response_started", {}),
    ("audio_started", {"item_id": "item_b", "content_index": 0, "response_id": "resp_b"}),
    ("response_done", {}),  # the model is done; the room still plays
    ("playout_done", {}),
)

EXPECTED_LEAVES: tuple[str, ...] = (
    "thinking",
    "speaking",
    "listening",
    "listening",
    "thinking",
    "speaking",
    "speaking",
    "listening",
)

# In python-statemachine 3.x, StateMachine *is* StateChart with these four class
# attributes flipped (statemachine/statemachine.py); reading them from the class keeps
# the "StateMachine semantics" variant honest if a later release changes a default.
OPTION_NAMES: tuple[str, ...] = (
    "allow_event_without_transition",
    "enable_self_transition_entries",
    "atomic_configuration_update",
    "catch_errors_as_events",
)
STATE_MACHINE_OPTIONS: dict[str, bool] = {n: bool(getattr(StateMachine, n)) for n in OPTION_NAMES}


def agent_chart_variant(name: str, **options: bool) -> type[AgentChart]:
    """AgentChart with some class attributes overridden (a subclass; the chart is untouched)."""
    unknown = set(options) - set(OPTION_NAMES)
    if unknown:
        raise ValueError(f"not a python-statemachine option: {sorted(unknown)}")
    namespace: dict[str, Any] = {"__module__": __name__, **options}
    return type(name, (AgentChart,), namespace)


def _stay(state: State) -> Any:
    """An internal self-transition, as the chart's ``x.to.itself(internal=True)``."""
    return state.to.itself(internal=True)  # type: ignore[no-untyped-call]


def flat_statemachine(base: type[StateChart[Any]]) -> type[StateChart[Any]]:
    """The chart's five states and its events, flat, without guards or actions.

    A class body can declare only one base, so the namespace is built here, with fresh
    State objects for each class. Where the chart has guarded alternatives (playout_done,
    text_response, user_turn_committed), only the branch the cycle takes is kept: with
    no guards the first branch would always win and the cycle would change.
    """
    initializing = State(initial=True)
    listening = State()
    thinking = State()
    speaking = State()
    interrupted = State()
    namespace: dict[str, Any] = {
        "__module__": __name__,
        "initializing": initializing,
        "listening": listening,
        "thinking": thinking,
        "speaking": speaking,
        "interrupted": interrupted,
        "session_ready": initializing.to(listening),
        "user_speech_started": _stay(listening) | thinking.to(listening) | speaking.to(interrupted),
        "user_speech_stopped": _stay(listening),
        "interrupt": thinking.to(listening) | speaking.to(interrupted),
        "user_turn_committed": listening.to(thinking),
        "reply_requested": listening.to(thinking),
        "response_started": listening.to(thinking),
        "audio_started": thinking.to(speaking) | _stay(speaking),
        "text_response": thinking.to(listening),
        "tool_calls": listening.to(thinking) | _stay(thinking) | _stay(speaking),
        "response_done": thinking.to(listening) | _stay(listening) | _stay(speaking),
        "playout_done": speaking.to(listening),
    }
    interrupted.to(listening)  # eventless, as in the chart
    return type(f"Flat{base.__name__}", (base,), namespace)


class _TransitionsModel:
    """The model ``transitions`` binds triggers to; its one callback stands in for the
    chart's eventless interrupted -> listening, which ``transitions`` cannot declare."""

    machine: Machine

    def resume_listening(self, **event: Any) -> None:
        self.machine.model.trigger("_resumed")  # type: ignore[attr-defined]


def transitions_machine() -> Machine:
    """The same flat shape on ``transitions.Machine`` (no guards; one chaining callback)."""
    model = _TransitionsModel()

    def t(trigger: str, source: str, dest: str | None, **extra: Any) -> dict[str, Any]:
        return {"trigger": trigger, "source": source, "dest": dest, **extra}

    machine = Machine(
        model=model,
        states=["initializing", "listening", "thinking", "speaking", "interrupted"],
        transitions=[
            t("session_ready", "initializing", "listening"),
            t("user_speech_started", "listening", None),  # dest None: internal
            t("user_speech_started", "thinking", "listening"),
            t("user_speech_started", "speaking", "interrupted", after="resume_listening"),
            t("_resumed", "interrupted", "listening"),
            t("user_speech_stopped", "listening", None),
            t("interrupt", "thinking", "listening"),
            t("interrupt", "speaking", "interrupted", after="resume_listening"),
            t("user_turn_committed", "listening", "thinking"),
            t("reply_requested", "listening", "thinking"),
            t("response_started", "listening", "thinking"),
            t("audio_started", "thinking", "speaking"),
            t("audio_started", "speaking", None),
            t("text_response", "thinking", "listening"),
            t("tool_calls", "listening", "thinking"),
            t("tool_calls", "thinking", None),
            t("tool_calls", "speaking", None),
            t("response_done", "thinking", "listening"),
            t("response_done", "listening", None),
            t("response_done", "speaking", None),
            t("playout_done", "speaking", "listening"),
        ],
        initial="initializing",
        auto_transitions=False,  # no to_<state>() triggers: the same event set as the chart
    )
    model.machine = machine
    return machine
