"""The runtime: carries out the chart's actions (provider events come in through
``_inbound``). Actions never await; anything slow (tools, sends, publishing) is a task.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ._chart import ChartActions
from ._chat import ChatContext, ChatMessage
from ._emitter import EventEmitter
from ._holding import HoldActions
from ._inbound import ProviderEventHandlers
from ._liveness import LivenessActions
from ._metrics import InFlightResponse
from ._options import AgentError, AgentOptions
from ._playout import Player, PlayoutHandle
from ._ports import AgentTranscription, Capabilities, RealtimeSession
from ._recent import RecentKeys
from ._tool_runs import ToolActions
from ._tools import Toolbox, ToolOutput
from ._transcript import heard_text

__all__ = ["Runtime"]

logger = logging.getLogger("turnstile.agent")


class Runtime(ProviderEventHandlers, LivenessActions, HoldActions, ToolActions, ChartActions):
    """The chart's model: its guards read this object, its actions act through it; provider
    events come in through the handlers it inherits."""

    def __init__(
        self,
        *,
        capabilities: Capabilities,
        options: AgentOptions,
        toolbox: Toolbox,
        chat_ctx: ChatContext,
        emitter: EventEmitter,
        send: Callable[..., None],
    ) -> None:
        self.caps = capabilities
        self.options = options
        self.toolbox = toolbox
        self.chat_ctx = chat_ctx
        self.emitter = emitter
        self.send = send  # the chart's send, bound by the agent
        self.session: RealtimeSession | None = None
        self.player: Player | None = None
        self.set_forwarding: Callable[[bool], None] = lambda ready: None
        self.transcription: AgentTranscription | None = None  # the room's, if it offers one
        self.publish_user_transcript: Callable[[str | None, str], None] = lambda item_id, text: None
        self.responses: dict[str, InFlightResponse] = {}
        self.handles: dict[tuple[str, int], PlayoutHandle] = {}
        # Bounded: a long call must not grow these with every item and response.
        self._early_text: RecentKeys[tuple[str, int], list[str]] = RecentKeys()
        self._refused: RecentKeys[tuple[str, int], None] = RecentKeys()
        """Items the chart refused, and items already played: their late audio is dropped."""
        self._dropped_responses: RecentKeys[str, None] = RecentKeys()
        self._to_commit: list[PlayoutHandle] = []
        self._tool_tasks: dict[str, asyncio.Task[ToolOutput]] = {}
        self._tool_batches: set[asyncio.Task[None]] = set()
        """The batches running, to cancel at close; the chart's ``tools`` region says whether."""
        self._timed_out: set[str] = set()
        self.withdrawn_calls: RecentKeys[str, None] = RecentKeys()
        """Calls the model withdrew before their batch started: data, read when it starts."""
        self.unanswered_outputs = 0
        """Tool outputs sent that no response has answered yet (a count, not a decision)."""
        self.text_retries = 0
        self.owed_instructions: str | None = None
        """``generate_reply``'s instructions for the reply the next request asks for."""
        self.user_speech_began = 0.0
        """When the user's current speech began (monotonic): a barge-in's ``speech_ms``."""
        self.speech_start_ms: int | None = None
        """The provider's ``audio_start_ms`` of the current speech, measured at its stop."""
        self.closed = False
        self._init_deadlines()
        self._init_holding()

    # Guards ---------------------------------------------------------------------------
    def interruption_allowed(self) -> bool:
        return self.options.allow_interruptions

    def replies_to_turns(self) -> bool:
        return self.caps.replies_to_turns

    def server_interrupts(self) -> bool:
        return self.caps.server_interrupts

    def retries_left(self) -> bool:
        return self.text_retries < self.options.max_text_response_retries

    def responses_settled(self) -> bool:
        return not self.responses

    def stream_owed(self) -> bool:
        # Audio for an item no response announced is owed its end too (data: the buffer).
        player = self.player
        return bool(self.responses) or (player is not None and player.awaiting_input)

    def all_tools_done(self) -> bool:
        return not self._tool_batches

    def outputs_unanswered(self) -> bool:
        return self.unanswered_outputs > 0

    def reply_lost(self) -> bool:
        player = self.player
        for r in self.responses.values():
            if r.cancelled or r.heard:
                continue
            if player is not None and any(
                h.response_id == r.id and player.heard_samples(h) > 0 for h in self.handles.values()
            ):
                continue  # part of it was heard: it is in the conversation as heard
            return True
        return False

    # Actions --------------------------------------------------------------------------
    def start_forwarding_audio(self) -> None:
        self.set_forwarding(True)

    def cancel_response(self) -> None:
        live = [r for r in self.responses.values() if not r.cancelled]
        for r in live:
            r.cancelled = True
            self._dropped_responses.add(r.id)
        # Gemini has neither cancel nor truncate: the server interrupts itself.
        if live and self.caps.supports_truncate and self.session is not None:
            self.session.cancel_response()
        # The response region follows: one asked for and not begun is cancelled when it
        # does (cancel_on_arrival, whose entry starts the wait for it).
        self.send("response_cancelled")

    def wait_for_arrival(self) -> None:
        self.stream_deadline.touch()  # if it never begins, response_stalled ends the wait

    def cancel_arrived_response(self, **event: Any) -> None:
        response = self.responses.get(event.get("response_id", ""))
        if response is not None:
            response.cancelled = True
            self._dropped_responses.add(response.id)
        if self.caps.supports_truncate and self.session is not None:
            self.session.cancel_response()

    def barge_in(self) -> None:
        assert self.player is not None
        handle = self.player.interrupt()
        self.cancel_response()
        if handle is None:
            return
        self._dropped_responses.add(handle.response_id)
        self._to_commit.append(handle)
        self.emitter.emit("agent_stopped_speaking")
        if self.caps.supports_truncate and self.session is not None:
            heard_ms = self.heard_ms(handle)
            if heard_ms > 0:
                self.session.truncate(handle.item_id, handle.content_index, heard_ms)
            else:  # the server rejects a 0 ms truncation; nothing was heard, so drop it
                self.session.delete_item(handle.item_id)

    def heard_ms(self, handle: PlayoutHandle) -> int:
        assert self.player is not None
        return self.player.heard_samples(handle) * 1000 // self.player.sample_rate

    def start_playout(self, **event: Any) -> None:
        assert self.player is not None
        key = (event["item_id"], event.get("content_index", 0))
        handle = self.player.play(key[0], key[1], event["response_id"])
        for delta in self._early_text.pop(key, []):
            handle.add_text(delta)
        self.handles[key] = handle
        self.text_retries = 0

    def on_playout_started(self, handle: PlayoutHandle) -> None:
        self.playout_deadline.touch()
        if self.transcription is not None:
            self.transcription.start(handle.item_id)
            self.transcription.push_text(handle.transcript)  # what arrived before the audio
        self.emitter.emit("agent_started_speaking")

    def on_playout_progress(self, handle: PlayoutHandle) -> None:
        self.playout_deadline.touch()
        if self.transcription is not None and self.player is not None:
            self.transcription.heard(self.player.heard_samples(handle), self.player.sample_rate)

    def on_playout_finished(self, handle: PlayoutHandle) -> None:
        if self.transcription is not None and self.transcription.item_id == handle.item_id:
            self.transcription.finish()
        self._to_commit.append(handle)
        assert self.player is not None
        if not self.player.playing:
            self.emitter.emit("agent_stopped_speaking")
            self.send("playout_done", item_id=handle.item_id)

    def recover_from_text(self, **event: Any) -> None:
        self.text_retries += 1
        logger.warning(
            "the model answered in text instead of audio; recovering (retry %d of %d)",
            self.text_retries,
            self.options.max_text_response_retries,
        )
        if self.session is not None:
            self.session.recover_from_text_response(event["item_id"])
            self.response_deadline.arm()
            self.send("reply_requested")  # the recovery asks for a new response

    def give_up_on_text(self, **event: Any) -> None:
        retries, self.text_retries = self.text_retries, 0
        # Keep what the model said: the conversation must not lose it.
        self.chat_ctx.upsert(
            ChatMessage(role="assistant", text=event.get("text", ""), id=event.get("item_id"))
        )
        self.error(
            "text_response",
            f"the model answered in text after {retries} recovery attempts",
        )

    def request_response(self) -> None:
        """Ask for a response: a tool's reply once the chart says it is due, or the user's
        (with instructions the application gave it, if it asked before the session was ready)."""
        self.unanswered_outputs = 0  # whoever asks, this answers what is owed so far
        instructions, self.owed_instructions = self.owed_instructions, None
        if self.session is not None:
            if instructions is None:  # a session written to the port before instructions came
                self.session.create_response()
            else:
                self.session.create_response(instructions)
        self.response_deadline.arm()  # also while already thinking (a tool's reply)
        self.send("reply_requested")

    def settle_outputs(self) -> None:
        self.unanswered_outputs = 0  # a response began: it answers the outputs sent so far

    def commit_agent_speech(self) -> None:
        assert self.player is not None
        rate = self.player.sample_rate
        for handle in self._to_commit:
            heard = self.player.heard_samples(handle)
            response = self.responses.get(handle.response_id)
            if response is not None and heard > 0:
                response.heard = True
            text = heard_text(
                handle.transcript,
                heard,
                handle.received_samples,
                rate,
                audio_complete=handle.input_done,
            )
            if handle.interrupted:
                text += "..."
                tr = self.transcription
                if tr is not None and tr.item_id == handle.item_id:
                    tr.interrupt(text)  # the final segment, cut at the heard words
            self.chat_ctx.upsert(
                ChatMessage(
                    role="assistant", text=text, id=handle.item_id, interrupted=handle.interrupted
                )
            )
            key = (handle.item_id, handle.content_index)
            self.handles.pop(key, None)
            self._refused.add(key)  # played: late audio for it must not play it again
            self.emitter.emit(
                "agent_speech_interrupted" if handle.interrupted else "agent_speech_committed",
                text,
            )
        self._to_commit.clear()

    def recover_session(self) -> None:
        self.set_forwarding(False)
        if self.player is not None and self.player.playing:
            handle = self.player.interrupt()
            if handle is not None:
                self._to_commit.append(handle)
                self.emitter.emit("agent_stopped_speaking")
        if self.player is not None:
            self.commit_agent_speech()  # what was heard of each response is known from here
        # Responses in flight died with the socket (the response region forgets them). A
        # reply asked for and none of it heard is owed anew (the tools region, reply_lost);
        # one the user heard, part or all, is in the conversation as heard.
        self.handles.clear()

    def release(self) -> None:
        self.closed = True
        self._disarm_deadlines()
        self.stop_holding()
        self.set_forwarding(False)
        if self.player is not None and self.player.playing:
            handle = self.player.interrupt()
            if handle is not None:
                self._to_commit.append(handle)
            self.commit_agent_speech()
        for task in list(self._tool_tasks.values()) + list(self._tool_batches):
            task.cancel()

    def report_error(self, error: Exception | None = None) -> None:
        logger.error("a chart action failed: %r", error, exc_info=error)
        self.error("internal", f"a chart action failed: {error!r}")

    # Helpers --------------------------------------------------------------------------
    def error(self, code: str, message: str, *, recoverable: bool = True) -> None:
        self.emitter.emit("error", AgentError(code=code, message=message, recoverable=recoverable))
