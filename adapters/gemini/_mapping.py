"""Gemini Live server messages -> Turnstile's provider-neutral events.

Gemini has no response objects: a model turn simply begins with its first content and ends
with ``turnComplete``. The mapper gives each turn a response id and an item id, so the
runtime sees the same shape as with OpenAI. ``generationComplete`` ends the item's audio
(the model has said everything) but not its playout: the end of a turn must never cut audio
that is still playing.

The user's speech: ``voiceActivity`` ``ACTIVITY_START`` / ``ACTIVITY_END`` (see ``_server``
for the wire form and its sources) become InputSpeechStarted / InputSpeechStopped. No setup
field asks for them, and not every model sends them: a maintainer confirms that the
gemini-3.8-live models do not "at this time" and points to gemini-3.1-flash-live-preview,
which does (https://github.com/googleapis/python-genai/issues/2981, 2026-09-18); a user
reports none in 26 sessions of that model (issues/1285 there, 2026-08-18). The agent never
depends on them: without them it does not hold, and the server's ``interrupted`` stops it.

With ``activityHandling: NO_INTERRUPTION`` the model keeps generating over the user, and
these are what the agent holds on. Under the default ``START_OF_ACTIVITY_INTERRUPTS`` the
server cuts its answer and says ``interrupted`` just after the start; the start alone still
stops audio the server had finished generating and the agent is still playing (nothing is
left for the server to interrupt then), and keeps the user region true.
"""

from __future__ import annotations

import itertools
import json
import logging
from typing import Any

from turnstile.machine import (
    AudioDelta,
    FunctionCall,
    InputSpeechStarted,
    InputSpeechStopped,
    InputTranscriptionCompleted,
    ProviderEvent,
    ResponseContentAdded,
    ResponseContentDone,
    ResponseCreated,
    ResponseDone,
    ServerInterrupted,
    SessionReady,
    ToolCallsCancelled,
    ToolCallsRequested,
    TranscriptDelta,
    Usage,
)

from ._protocol import (
    GoAwayMessage,
    ServerContentMessage,
    SessionResumptionUpdateMessage,
    SetupCompleteMessage,
    ToolCallCancellationMessage,
    ToolCallMessage,
    VoiceActivity,
    decode_base64,
)

__all__ = ["TurnMapper"]

logger = logging.getLogger("turnstile.gemini")

_ids = itertools.count(1)


class TurnMapper:
    def __init__(self) -> None:
        self.resumption_handle: str | None = None
        self.go_away: float | None = None
        """Seconds left before the server closes, once it said goAway."""
        self._response: str | None = None
        self._item: str | None = None
        self._text: list[str] = []
        self._user_text: list[str] = []
        self._audio_done = False

    def map(self, msg: Any) -> list[ProviderEvent]:
        out: list[ProviderEvent] = []
        voice = getattr(msg, "voice_activity", None)
        if voice is not None:
            # First: the speech it rides beside (an interruption, a transcription) followed it.
            self._speech(voice, out)
        if isinstance(msg, SetupCompleteMessage):
            out.append(SessionReady())
        elif isinstance(msg, ServerContentMessage):
            self._content(msg, out)
        elif isinstance(msg, ToolCallMessage):
            self._begin(out)
            calls = tuple(
                FunctionCall(call_id=c.id or f"call_{next(_ids)}", name=c.name, arguments=json.dumps(c.args))
                for c in msg.tool_call.function_calls
            )
            out.append(ToolCallsRequested(calls=calls, response_id=self._response))
            # The model now waits for the tool responses: its turn is over.
            self._end(out, "completed", msg.usage_metadata)
        elif isinstance(msg, ToolCallCancellationMessage):
            out.append(ToolCallsCancelled(call_ids=tuple(msg.tool_call_cancellation.ids)))
        elif isinstance(msg, SessionResumptionUpdateMessage):
            update = msg.session_resumption_update
            if update.resumable and update.new_handle:
                self.resumption_handle = update.new_handle
        elif isinstance(msg, GoAwayMessage):
            self.go_away = msg.go_away.time_left_seconds or 0.0
        return out

    def _speech(self, voice: VoiceActivity, out: list[ProviderEvent]) -> None:
        if voice.type == "ACTIVITY_START":
            out.append(InputSpeechStarted(audio_start_ms=voice.audio_offset_ms))
        elif voice.type == "ACTIVITY_END":
            out.append(InputSpeechStopped(audio_end_ms=voice.audio_offset_ms))
        else:
            logger.info("voiceActivity of type %r ignored", voice.type)

    @property
    def turn_open(self) -> bool:
        return self._response is not None

    def close_turn(self) -> list[ProviderEvent]:
        """End the open turn with what arrived (the connection is going away under it)."""
        out: list[ProviderEvent] = []
        if self._response is not None:
            self._finish_content(out)
            self._end(out, "incomplete", None)
        return out

    def _content(self, msg: ServerContentMessage, out: list[ProviderEvent]) -> None:
        sc = msg.server_content
        if sc.input_transcription is not None and sc.input_transcription.text:
            self._user_text.append(sc.input_transcription.text)
        if sc.interrupted:
            # The server heard the user and stopped generating; the runtime stops playout.
            out.append(ServerInterrupted())
            self._end(out, "cancelled", msg.usage_metadata)
        if sc.model_turn is not None:
            for part in sc.model_turn.parts:
                if part.thought:
                    continue  # the model's reasoning is not speech
                if part.inline_data is not None and (part.inline_data.mime_type or "").startswith("audio/"):
                    self._begin(out)
                    assert self._response is not None and self._item is not None
                    out.append(AudioDelta(response_id=self._response, item_id=self._item,
                                          data=decode_base64(part.inline_data.data)))
                elif part.text:
                    self._begin(out)
                    self._text.append(part.text)
        if sc.output_transcription is not None and sc.output_transcription.text:
            self._begin(out)
            assert self._response is not None and self._item is not None
            out.append(TranscriptDelta(response_id=self._response, item_id=self._item,
                                       delta=sc.output_transcription.text))
        if sc.generation_complete:
            self._finish_content(out)
        if sc.turn_complete:
            self._flush_user(out)
            self._end(out, "completed", msg.usage_metadata)

    def _begin(self, out: list[ProviderEvent]) -> None:
        if self._response is not None:
            return
        self._flush_user(out)
        n = next(_ids)
        self._response, self._item = f"turn_{n}", f"item_{n}"
        self._text, self._audio_done = [], False
        out.append(ResponseCreated(response_id=self._response))
        out.append(ResponseContentAdded(response_id=self._response, item_id=self._item))

    def _finish_content(self, out: list[ProviderEvent]) -> None:
        if self._response is None or self._item is None or self._audio_done:
            return
        self._audio_done = True
        if self._text:  # text instead of audio: the runtime's text-response recovery
            out.append(ResponseContentDone(response_id=self._response, item_id=self._item,
                                           modality="text", text="".join(self._text)))
        else:
            out.append(ResponseContentDone(response_id=self._response, item_id=self._item))

    def _end(self, out: list[ProviderEvent], status: Any, usage: Any) -> None:
        if self._response is None:
            return
        if status in ("completed", "incomplete"):
            self._finish_content(out)
        out.append(ResponseDone(response_id=self._response, status=status, usage=_usage(usage)))
        self._response = self._item = None

    def _flush_user(self, out: list[ProviderEvent]) -> None:
        if self._user_text:
            out.append(InputTranscriptionCompleted(transcript="".join(self._user_text).strip()))
            self._user_text = []


def _usage(u: Any) -> Usage | None:
    if u is None:
        return None

    def by(details: Any, modality: str) -> int:
        return sum(_get(d, "token_count", "tokenCount") for d in details
                   if str(_get(d, "modality", "modality") or "").upper() == modality)

    # Vertex AI names the output side after "candidates"; the model keeps those as extras.
    extra = u.model_extra or {}
    output_details = u.response_tokens_details or extra.get("candidatesTokensDetails", [])

    return Usage(
        input_tokens=u.prompt_token_count,
        output_tokens=u.response_token_count or int(extra.get("candidatesTokenCount", 0)),
        total_tokens=u.total_token_count,
        cached_tokens=u.cached_content_token_count,
        input_audio_tokens=by(u.prompt_tokens_details, "AUDIO"),
        input_text_tokens=by(u.prompt_tokens_details, "TEXT"),
        output_audio_tokens=by(output_details, "AUDIO"),
        output_text_tokens=by(output_details, "TEXT"),
    )


def _get(obj: Any, attr: str, key: str) -> Any:
    return obj.get(key, 0) if isinstance(obj, dict) else getattr(obj, attr, 0)
