"""What a user configures, and what the agent reports back (errors, metrics)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ._events import Usage

__all__ = ["DEFAULT_STATE_MAP", "AgentError", "AgentOptions", "ResponseMetrics"]

DEFAULT_STATE_MAP: dict[str, str] = {
    "initializing": "initializing",
    "listening": "listening",
    "thinking": "thinking",
    "speaking": "speaking",
    # Held, the agent has not given up the floor (map it to "listening" to say it has).
    "holding": "speaking",
    # LiveKit clients know four states; a barge-in is the agent going back to listening.
    "interrupted": "listening",
}


class AgentOptions(BaseModel):
    # A misspelt option (``allow_interuptions``) or a NaN deadline is refused at
    # construction, with the field's name, not ignored until the call misbehaves.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, defer_build=True)

    allow_interruptions: bool = True
    max_text_response_retries: int = Field(default=5, ge=0)
    state_map: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_STATE_MAP))
    """Chart state -> published ``lk.agent.state`` value; a state missing here is not
    published (a subclass's extra state keeps the last published value)."""
    input_chunk_ms: int = Field(default=100, gt=0)
    input_buffer_ms: int = Field(default=2000, ge=0)
    """How much of the user's audio is held while the session is not ready."""
    response_timeout_s: float | None = Field(default=15.0, gt=0)
    """How long ``thinking`` waits for a response to begin (none is under way, no tool is
    running) before giving up: a recoverable ``response_timeout`` error, then listening.
    ``None`` waits for the next turn instead."""
    response_stall_timeout_s: float | None = Field(default=15.0, gt=0)
    """How long a response under way may go without streaming anything while the agent
    waits on it (nothing left to play): then it is cancelled, what was heard is kept, and
    a recoverable ``response_stalled`` error is emitted. ``None`` waits forever."""
    playout_stall_timeout_s: float | None = Field(default=5.0, gt=0)
    """How long the room may stop taking the agent's audio (nothing heard advances while
    audio is queued) before the response is abandoned: ``playout_stalled``."""
    tool_timeout_s: float | None = Field(default=30.0, gt=0)
    """How long a tool may run before it is cancelled and answered with an error output
    (a recoverable ``tool_timeout`` error). ``None`` lets tools run as long as they like."""
    session_timeout_s: float | None = Field(default=20.0, gt=0)
    """How long ``initializing`` waits for a connected session to become ready before
    it connects anew (``session_timeout``); the provider's retry bound ends it."""
    user_away_timeout_s: float | None = Field(default=15.0, gt=0)
    """Silence on both sides, while the agent listens, after which the user is ``away``
    (the ``user`` region; ``user_state_changed`` says so). ``None`` never marks it."""
    on_user_away: str | Callable[[Any], None] | None = None
    """When the user goes ``away``: instructions for a reply (say, "Ask whether the caller
    is still there."; ``generate_reply(instructions=...)``), or a callback called with the
    agent. At most ``user_away_prompts`` times in a row; after that the agent emits
    ``user_away`` (the application may hang up). The count starts over when the user speaks."""
    user_away_prompts: int = Field(default=1, ge=0)
    resume_false_interruption: bool = True
    """Speech over the agent holds its playout first (where the provider keeps generating,
    ``Capabilities.holds_playout``) and plays on if it was a cough or a backchannel; False
    cuts the agent off at once, as a barge-in always did."""
    min_interruption_s: float = Field(default=0.5, ge=0)
    """How long held speech must last to be a barge-in (``interruption_confirmed``)."""
    min_interruption_words: int = Field(default=0, ge=0)
    """Words a held speech's transcript needs to be a barge-in (0: any word that is not a
    backchannel)."""
    false_interruption_timeout_s: float = Field(default=2.0, gt=0)
    """After held speech ends, how long to wait for its words before playing on."""
    is_backchannel: Callable[[str], bool] | None = None
    """Whether a transcript is an acknowledgement ("mm-hmm", "yeah") that neither stops the
    agent nor is answered; None: English defaults (``turnstile.machine.is_backchannel``)."""


class AgentError(BaseModel):
    """An ``error`` event. ``recoverable`` errors leave the agent running."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    code: str
    message: str
    recoverable: bool = True


class ResponseMetrics(Usage):
    """One response, as ``metrics_collected`` reports it: timings plus its token usage."""

    response_id: str
    ttfa_s: float | None = None
    """Time from response creation to its first audio; None when no audio came."""
    duration_s: float
    cancelled: bool = False
    status: str = "completed"
    error: str | None = None
