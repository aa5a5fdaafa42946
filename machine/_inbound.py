"""Provider events into the runtime: handled synchronously on the adapter's reader task.

Audio and transcript deltas go to the player, control events become chart events, and
the chart decides. The handlers are a base of :class:`Runtime`, which owns the state
they read; this module changes when the provider-neutral events do.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ._chat import ChatMessage
from ._events import AudioDelta, ProviderEvent, ResponseDone
from ._metrics import InFlightResponse, response_metrics
from ._runtime_state import RuntimeState

__all__ = ["ProviderEventHandlers"]

logger = logging.getLogger("turnstile.agent")


class ProviderEventHandlers(RuntimeState):
    """``on_provider_event`` and one ``_on_<kind>`` handler per provider event kind."""

    def on_provider_event(self, ev: ProviderEvent) -> None:
        """The adapter's callback. Never raises: a bad event is logged and survived."""
        if self.closed:
            return
        if type(ev) is AudioDelta:  # the hot path: tens of times a second
            self._on_audio(ev)
            return
        handler = getattr(self, "_on_" + ev.kind, None)
        try:
            if handler is None:
                logger.warning("no handler for provider event %s", ev.kind)
            else:
                handler(ev)
        except Exception as exc:
            logger.exception("failed to handle provider event %s", ev.kind)
            self.error("internal", f"handling {ev.kind}: {exc}")

    def _on_session_ready(self, ev: Any) -> None:
        self.send("session_ready")  # a reply owed from before is asked for by the chart

    def _on_session_lost(self, ev: Any) -> None:
        self.send("session_lost", reason=ev.reason)
        if not ev.will_reconnect:
            self.error(ev.code or "session_lost", f"session lost for good: {ev.reason}", recoverable=False)
            self.send("close")

    def _on_input_speech_started(self, ev: Any) -> None:
        self.user_speech_began = time.monotonic()
        self.speech_start_ms = ev.audio_start_ms
        self.emitter.emit("user_started_speaking")
        self.send("user_speech_started", speech_ms=0)

    def _on_input_speech_stopped(self, ev: Any) -> None:
        self.emitter.emit("user_stopped_speaking")
        self.send("user_speech_stopped", speech_ms=self._speech_ms(ev.audio_end_ms))

    def _speech_ms(self, audio_end_ms: int | None) -> int | None:
        """The speech's length by the provider's own clock, without its padding and silence."""
        start, self.speech_start_ms = self.speech_start_ms, None
        if start is None or audio_end_ms is None:
            return None
        return max(0, audio_end_ms - start - self.caps.speech_padding_ms - self.caps.speech_stop_delay_ms)

    def _on_input_audio_committed(self, ev: Any) -> None:
        self.send("user_turn_committed", item_id=ev.item_id)

    def _on_input_transcription_completed(self, ev: Any) -> None:
        if ev.item_id is not None and ev.item_id in self.dropped_turns:
            return  # a false interruption's noise, already taken out of the conversation
        # Held, the words decide (a backchannel plays on, a real turn is a barge-in); the
        # chart takes the transcript only then.
        self.send("user_transcript", text=ev.transcript, item_id=ev.item_id)
        if ev.item_id is not None and ev.item_id in self.dropped_turns:
            return  # it was a backchannel: not the user's turn
        self.chat_ctx.upsert(ChatMessage(role="user", text=ev.transcript, id=ev.item_id))
        self.publish_user_transcript(ev.item_id, ev.transcript)
        self.emitter.emit("user_speech_committed", ev.transcript)

    def _on_response_created(self, ev: Any) -> None:
        self.responses[ev.response_id] = InFlightResponse(ev.response_id)
        self.response_deadline.disarm()
        self.stream_deadline.touch()
        # Whoever asked for it, a response that begins now answers what is owed so far
        # (tool outputs already sent), unless the user barged in before it began: the
        # chart decides (tools: reply_owed -> no_tools; response: cancel_on_arrival).
        self.send("response_started", response_id=ev.response_id)

    def _on_response_content_added(self, ev: Any) -> None:
        pass  # audio_started is decided on the first audio, text_response on content done

    def _on_transcript_delta(self, ev: Any) -> None:
        self.stream_deadline.touch()
        key = (ev.item_id, ev.content_index)
        handle = self.handles.get(key)
        if handle is not None:
            handle.add_text(ev.delta)
            tr = self.transcription
            if tr is not None and tr.item_id == ev.item_id and self.player is not None \
                    and self.player.current is handle:
                tr.push_text(ev.delta)
        elif key not in self._refused:
            self._early_text.setdefault(key, list).append(ev.delta)

    def _on_audio(self, ev: AudioDelta) -> None:
        key = (ev.item_id, ev.content_index)
        handle = self.handles.get(key)
        if handle is None:
            if key in self._refused or ev.response_id in self._dropped_responses:
                return
            self.send(
                "audio_started",
                response_id=ev.response_id,
                item_id=ev.item_id,
                content_index=ev.content_index,
            )
            handle = self.handles.get(key)
            if handle is None:  # the chart did not take it (a barge-in came first)
                self._refused.add(key)
                self._early_text.pop(key, [])
                return
        self.stream_deadline.touch()  # audio no response announced is watched too
        response = self.responses.get(ev.response_id)
        if response is not None and response.first_audio_at is None:
            response.first_audio_at = time.monotonic()
        assert self.player is not None
        self.player.push(handle, ev.data)

    def _on_response_content_done(self, ev: Any) -> None:
        self.stream_deadline.touch()
        key = (ev.item_id, ev.content_index)
        if ev.modality == "text":
            self.send("text_response", item_id=ev.item_id, text=ev.text)
            return
        handle = self.handles.get(key)
        if handle is not None and self.player is not None:
            self.player.end_input(handle)

    def _on_tool_calls_requested(self, ev: Any) -> None:
        self.send("tool_calls", calls=ev.calls)

    def _on_tool_calls_cancelled(self, ev: Any) -> None:
        for call_id in ev.call_ids:
            task = self._tool_tasks.pop(call_id, None)
            if task is not None:
                task.cancel()
            else:  # withdrawn before its batch started (or after it ended): never run it
                self.withdrawn_calls.add(call_id)

    def _on_response_done(self, ev: ResponseDone) -> None:
        response = self.responses.pop(ev.response_id, None)
        self._dropped_responses.discard(ev.response_id)
        if self.player is not None:
            for handle in self.handles.values():
                if handle.response_id == ev.response_id and not handle.input_done:
                    self.player.end_input(handle)
        if not self.stream_owed():
            self.stream_deadline.disarm()  # nothing left streaming to watch
        self.emitter.emit("metrics_collected", response_metrics(ev, response))
        if ev.status == "failed":
            self.error("response_failed", ev.error or "the response failed")
        self.send("response_done", response_id=ev.response_id, status=ev.status)

    def _on_server_interrupted(self, ev: Any) -> None:
        self.send("interrupt")

    def _on_provider_error(self, ev: Any) -> None:
        self.error(ev.code or "provider_error", ev.message, recoverable=ev.recoverable)

