"""Randomized conversations for the chaos run: a loopback scenario and the caller's part in it.

Each conversation is a greeting, then one to three caller turns; a turn is answered directly
or through the ``get_weather`` tool, and some turns barge in on the reply before them.
Phrases come from small pools whose audio is synthesized once per process (the scenario
steps cache it), so a campaign spends its time in the agent, not in speech synthesis.
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass

from turnstile.adapters.scenario import CallerTurn, ErrorFault, Faults, ModelReply, Scenario, ToolCall

from ._chaos_faults import Dialect, Fault

__all__ = ["Script", "build_script"]

_GREETINGS = ("Hello, how can I help?", "Hi there, what do you need?", "Good day, ask me anything.")
_QUESTIONS = ("What's the weather in Paris?", "And in Rome?", "Is it windy today?", "Tell me about Berlin.",
              "Should I take an umbrella?", "How warm is Lisbon?")  # fmt: skip
_ANSWERS = ("It is sunny and mild.", "Expect a little rain later.", "Cloudy, with a light breeze.",
            "Warm enough for a walk.", "Clear skies all afternoon.", "A cool and quiet evening.")  # fmt: skip
_LONG = ("It is twenty one degrees and sunny, a lovely day for a long walk by the river today.",
         "The forecast says light rain in the morning, then a bright and rather warm afternoon.")  # fmt: skip
_CITIES = ("Paris", "Rome", "Berlin", "Lisbon", "Oslo")


@dataclass(frozen=True)
class Turn:
    caller: CallerTurn
    barge_in: bool  # spoken while the agent speaks the reply before it


@dataclass(frozen=True)
class Script:
    scenario: Scenario
    turns: tuple[Turn, ...]
    probe: CallerTurn
    """The turn spoken after the faults stop, to see that the agent still answers."""
    has_tools: bool

    def expected_frames(self, dialect: Dialect) -> int:
        """About how many server->client frames the conversation carries (where faults land)."""
        frames = 0
        for step in self.scenario.steps:
            if isinstance(step, CallerTurn):
                frames += 1 if dialect == "gemini" else 7
                continue
            chunks = math.ceil(step.audio_ms / 100)
            if dialect == "gemini":
                frames += 2 * chunks + 4 + 2 * len(step.tool_calls)
            else:
                frames += chunks + len(step.transcript.split()) + 12 + 8 * len(step.tool_calls)
        return frames


@functools.cache
def _reply(text: str) -> ModelReply:
    return ModelReply(transcript=text)  # cached: its audio is synthesized once


@functools.cache
def _caller(text: str) -> CallerTurn:
    return CallerTurn(transcript=text)


def _with_fault(reply: ModelReply, fault: Fault, dialect: Dialect) -> ModelReply:
    if fault.kind == "server_error":
        # Gemini reports errors by closing the socket; 1011 (internal error) is worth a retry.
        code = "1011" if dialect == "gemini" else "server_error"
        faults = Faults(error_event=ErrorFault(code=code, message="chaos: the server is overloaded"))
    elif fault.kind == "server_stall":
        faults = Faults(stall=True)
    elif fault.kind == "server_slow":
        faults = Faults(slow_ms_per_chunk=60)
    else:
        faults = Faults(malformed_message=True)
    return reply.model_copy(update={"faults": faults})  # the copy keeps the cached audio


def build_script(rng: random.Random) -> Script:
    steps: list[CallerTurn | ModelReply] = [_reply(rng.choice(_GREETINGS))]
    turns: list[Turn] = []
    has_tools = False
    for i in range(rng.randint(1, 3)):
        barge_in = i > 0 and rng.random() < 0.35
        if barge_in:  # a reply long enough to be talked over
            steps[-1] = _reply(rng.choice(_LONG))
        caller = _caller(rng.choice(_QUESTIONS))
        turns.append(Turn(caller, barge_in))
        steps.append(caller)
        if rng.random() < 0.5:
            has_tools = True
            call = ToolCall(name="get_weather", arguments={"city": rng.choice(_CITIES)})
            steps.append(ModelReply(tool_calls=[call]))
        steps.append(_reply(rng.choice(_ANSWERS)))
    scenario = Scenario(name="chaos", steps=steps)
    return Script(scenario, tuple(turns), _caller("Are you still there?"), has_tools)


def place_scenario_faults(script: Script, faults: list[Fault], dialect: Dialect) -> Script:
    """Put the plan's loopback faults onto their scripted replies."""
    steps = list(script.scenario.steps)
    replies = [i for i, s in enumerate(steps) if isinstance(s, ModelReply)]
    for fault in faults:
        if fault.reply >= 0:
            at = replies[fault.reply % len(replies)]
            reply = steps[at]
            assert isinstance(reply, ModelReply)
            steps[at] = _with_fault(reply, fault, dialect)
            fault.fired = True  # the server plays it when it reaches that reply
    scenario = Scenario(name="chaos", steps=steps)
    return Script(scenario, script.turns, script.probe, script.has_tools)
