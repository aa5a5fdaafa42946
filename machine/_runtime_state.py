"""What the runtime's parts share, declared once so that each part type-checks alone.

:class:`~._runtime.Runtime` is assembled from bases, one per concern: provider events
(``_inbound``), deadlines (``_liveness``), tool calls (``_tool_runs``) and the chart's
neutral actions (``_chart``). Each reads state that ``Runtime.__init__`` creates and calls
a few methods another part defines. Those bases subclass this one, which only declares
them (no values, no code at run time), so ``self`` in a handler is a typed RuntimeState
rather than a Runtime the module cannot import without a cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

    from ._chat import ChatContext
    from ._deadline import Deadline
    from ._emitter import EventEmitter
    from ._metrics import InFlightResponse
    from ._options import AgentOptions
    from ._playout import Player, PlayoutHandle
    from ._ports import AgentTranscription, Capabilities, RealtimeSession
    from ._recent import RecentKeys
    from ._tools import Toolbox, ToolOutput

__all__ = ["RuntimeState"]


class RuntimeState:
    # Set by Runtime.__init__ (the agent binds the callables) --------------------------
    caps: Capabilities
    options: AgentOptions
    toolbox: Toolbox
    chat_ctx: ChatContext
    emitter: EventEmitter
    send: Callable[..., None]
    """The chart's send."""
    session: RealtimeSession | None
    player: Player | None
    set_forwarding: Callable[[bool], None]
    transcription: AgentTranscription | None
    publish_user_transcript: Callable[[str | None, str], None]
    responses: dict[str, InFlightResponse]
    handles: dict[tuple[str, int], PlayoutHandle]
    _early_text: RecentKeys[tuple[str, int], list[str]]
    _refused: RecentKeys[tuple[str, int], None]
    _dropped_responses: RecentKeys[str, None]
    _to_commit: list[PlayoutHandle]
    _tool_tasks: dict[str, asyncio.Task[ToolOutput]]
    _tool_batches: set[asyncio.Task[None]]
    _timed_out: set[str]
    withdrawn_calls: RecentKeys[str, None]
    text_retries: int
    unanswered_outputs: int
    user_speech_began: float
    owed_instructions: str | None
    speech_start_ms: int | None
    closed: bool
    # Set by LivenessActions._init_deadlines -------------------------------------------
    session_deadline: Deadline
    response_deadline: Deadline
    stream_deadline: Deadline
    playout_deadline: Deadline
    away_deadline: Deadline
    away_prompts: int
    call_away_prompt: Callable[[str | Callable[[Any], None]], None]
    # Set by HoldActions._init_holding --------------------------------------------------
    confirm_deadline: Deadline
    false_deadline: Deadline
    held_turns: list[str]
    dropped_turns: RecentKeys[str, None]

    if TYPE_CHECKING:  # defined by Runtime (or a sibling base); declared for the checker

        def error(self, code: str, message: str, *, recoverable: bool = True) -> None: ...


        def barge_in(self) -> None: ...

        def cancel_response(self) -> None: ...

        def stream_owed(self) -> bool: ...

        def request_response(self) -> None: ...

        def forget_responses(self) -> None: ...
