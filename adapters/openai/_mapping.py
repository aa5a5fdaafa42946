"""OpenAI Realtime server events -> Turnstile's provider-neutral events, and back for history.

One ``EventMapper`` per connection: it remembers which content parts are text (to spot a
text-only answer) and which function calls a response carries (the agent gets them all at
``response.done``, so the tools run once the model has finished asking).
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import ValidationError

from turnstile.machine import (
    AudioDelta,
    ChatContext,
    FunctionCall,
    InputAudioCommitted,
    InputSpeechStarted,
    InputSpeechStopped,
    InputTranscriptionCompleted,
    ProviderError,
    ProviderEvent,
    ResponseContentAdded,
    ResponseContentDone,
    ResponseCreated,
    ResponseDone,
    ToolCallsRequested,
    TranscriptDelta,
    Usage,
)

from . import _beta as beta
from . import _ga as ga
from ._protocol import _LENIENT, ClientEventModel, Dialect, decode_audio, server_event_types

__all__ = ["DeltaFrames", "EventMapper", "history_items"]

logger = logging.getLogger("turnstile.openai")

# A response.done status the agent knows; any other (a newer API's) counts as completed.
_STATUSES: dict[str, Literal["completed", "cancelled", "failed", "incomplete"]] = {
    "completed": "completed", "cancelled": "cancelled", "failed": "failed", "incomplete": "incomplete",
}

# Benign races: the server cancelled or finished the response before our cancel arrived.
BENIGN_ERRORS = frozenset({"response_cancel_not_active"})

# Each dialect's audio delta and audio transcript delta (DeltaFrames takes them the short way).
_DELTAS: dict[str, tuple[str, str]] = {
    "ga": ("response.output_audio.delta", "response.output_audio_transcript.delta"),
    "beta": ("response.audio.delta", "response.audio_transcript.delta"),
}
_AUDIO_DELTA = {audio for audio, _ in _DELTAS.values()}
_TRANSCRIPT_DELTA = {text for _, text in _DELTAS.values()} | {"response.output_text.delta", "response.text.delta"}


def _audio_delta(ev: Any) -> AudioDelta:
    return AudioDelta(
        response_id=ev.response_id, item_id=ev.item_id, content_index=ev.content_index, data=decode_audio(ev.delta)
    )


def _transcript_delta(ev: Any) -> TranscriptDelta:
    return TranscriptDelta(
        response_id=ev.response_id, item_id=ev.item_id, content_index=ev.content_index, delta=ev.delta
    )


class DeltaFrames:
    """The audio and transcript deltas of one dialect (tens a second per call), mapped
    straight from their frames.

    A delta frame is validated by its event's own model, with the same context, exactly as
    ``parse_server_event`` would; what is skipped is the way there (the type read by a
    regular expression, the dialect's table, the mapper's dispatch), which costs as much as
    the validation itself in a process whose caches other sessions keep cold. Frames are
    recognised by their opening (``{"type":"<name>"``, compact or spaced, as servers write
    them); anything else, or a delta whose fields do not validate, is left to the full parse,
    which reports it as it always did.
    """

    def __init__(self, dialect: Dialect) -> None:
        audio, text = _DELTAS[dialect]
        table = server_event_types(dialect)
        self._audio_model, self._text_model = table[audio], table[text]
        self._audio_opening, self._text_opening = _openings(audio), _openings(text)

    def map(self, raw: str | bytes) -> ProviderEvent | None:
        """The frame's event, or None: not a delta this can take (decoding may raise
        ``ProtocolError``, as the mapper's does)."""
        if type(raw) is not str:
            return None
        try:
            if raw.startswith(self._audio_opening):
                return _audio_delta(self._audio_model.model_validate_json(raw, context=_LENIENT))
            if raw.startswith(self._text_opening):
                return _transcript_delta(self._text_model.model_validate_json(raw, context=_LENIENT))
        except ValidationError:
            pass  # the full parse says what is wrong with it
        return None


def _openings(event_type: str) -> tuple[str, str]:
    # The closing quote ends the name: a frame opening so is of that type (a later
    # duplicate "type" key is the model's to refuse, as it would be on the full parse).
    return f'{{"type":"{event_type}"', f'{{"type": "{event_type}"'


class EventMapper:
    def __init__(self) -> None:
        self._calls: dict[str, list[FunctionCall]] = {}
        self.session_updated = False

    def map(self, ev: Any) -> list[ProviderEvent]:
        t = ev.type
        if t in _AUDIO_DELTA:
            return [_audio_delta(ev)]
        if t in _TRANSCRIPT_DELTA:
            return [_transcript_delta(ev)]
        handler = _HANDLERS.get(t)
        return handler(self, ev) if handler is not None else []

    def _session_updated(self, ev: Any) -> list[ProviderEvent]:
        self.session_updated = True
        return []

    def _speech_started(self, ev: Any) -> list[ProviderEvent]:
        return [InputSpeechStarted(item_id=ev.item_id, audio_start_ms=ev.audio_start_ms)]

    def _speech_stopped(self, ev: Any) -> list[ProviderEvent]:
        return [InputSpeechStopped(item_id=ev.item_id, audio_end_ms=ev.audio_end_ms)]

    def _committed(self, ev: Any) -> list[ProviderEvent]:
        return [InputAudioCommitted(item_id=ev.item_id)]

    def _transcription(self, ev: Any) -> list[ProviderEvent]:
        return [InputTranscriptionCompleted(item_id=ev.item_id, transcript=ev.transcript)]

    def _transcription_failed(self, ev: Any) -> list[ProviderEvent]:
        message = getattr(ev.error, "message", None) or "input transcription failed"
        return [ProviderError(code="transcription_failed", message=message)]

    def _response_created(self, ev: Any) -> list[ProviderEvent]:
        rid = ev.response.id or ""
        self._calls[rid] = []
        return [ResponseCreated(response_id=rid)]

    def _part_added(self, ev: Any) -> list[ProviderEvent]:
        return [
            ResponseContentAdded(
                response_id=ev.response_id,
                item_id=ev.item_id,
                content_index=ev.content_index,
                modality=_modality(ev.part.type),
            )
        ]

    def _part_done(self, ev: Any) -> list[ProviderEvent]:
        modality = _modality(ev.part.type)
        text = (ev.part.text if modality == "text" else ev.part.transcript) or ""
        return [
            ResponseContentDone(
                response_id=ev.response_id,
                item_id=ev.item_id,
                content_index=ev.content_index,
                modality=modality,
                text=text,
            )
        ]

    def _item_done(self, ev: Any) -> list[ProviderEvent]:
        item = ev.item
        if getattr(item, "type", None) == "function_call":
            self._calls.setdefault(ev.response_id, []).append(
                FunctionCall(
                    call_id=item.call_id or "", name=item.name, arguments=item.arguments, item_id=item.id
                )
            )
        return []

    def _response_done(self, ev: Any) -> list[ProviderEvent]:
        r = ev.response
        rid = r.id or ""
        out: list[ProviderEvent] = []
        calls = self._calls.pop(rid, [])
        if calls and r.status == "completed":
            out.append(ToolCallsRequested(calls=tuple(calls), response_id=rid))
        details = r.status_details
        error = None
        if details is not None and details.error is not None:
            error = f"{details.error.code or details.error.type}: {details.error.message or ''}"
        status = _STATUSES.get(r.status or "", "completed")
        out.append(ResponseDone(response_id=rid, status=status, usage=_usage(r.usage), error=error))
        return out

    def _error(self, ev: Any) -> list[ProviderEvent]:
        code = ev.error.code or ev.error.type or "error"
        if code in BENIGN_ERRORS:
            logger.debug("ignoring benign server error %s", code)
            return []
        return [ProviderError(code=code, message=ev.error.message or code)]


def _modality(part_type: str | None) -> Any:
    return "text" if part_type in ("text", "output_text") else "audio"


def _usage(u: Any) -> Usage | None:
    if u is None:
        return None
    i, o = u.input_token_details, u.output_token_details
    return Usage(
        input_tokens=u.input_tokens or 0,
        output_tokens=u.output_tokens or 0,
        total_tokens=u.total_tokens or 0,
        cached_tokens=(i.cached_tokens or 0) if i else 0,
        input_audio_tokens=(i.audio_tokens or 0) if i else 0,
        input_text_tokens=(i.text_tokens or 0) if i else 0,
        output_audio_tokens=(o.audio_tokens or 0) if o else 0,
        output_text_tokens=(o.text_tokens or 0) if o else 0,
    )


_HANDLERS = {
    "session.updated": EventMapper._session_updated,
    "input_audio_buffer.speech_started": EventMapper._speech_started,
    "input_audio_buffer.speech_stopped": EventMapper._speech_stopped,
    "input_audio_buffer.committed": EventMapper._committed,
    "conversation.item.input_audio_transcription.completed": EventMapper._transcription,
    "conversation.item.input_audio_transcription.failed": EventMapper._transcription_failed,
    "response.created": EventMapper._response_created,
    "response.content_part.added": EventMapper._part_added,
    "response.content_part.done": EventMapper._part_done,
    "response.output_item.done": EventMapper._item_done,
    "response.done": EventMapper._response_done,
    "error": EventMapper._error,
}


def history_items(ctx: ChatContext, dialect: Dialect) -> list[ClientEventModel]:
    """The conversation as ``conversation.item.create`` events, to replay after a reconnect."""
    events: list[ClientEventModel] = []
    create = beta.BetaConversationItemCreate if dialect == "beta" else ga.ConversationItemCreate
    for m in ctx.messages:
        item: Any
        if m.role == "user" and m.text:
            user = beta.BetaUserMessageItem if dialect == "beta" else ga.UserMessageItem
            item = user(content=[ga.InputTextPart(text=m.text)])
        elif m.role == "assistant" and m.tool_call_id:
            item = ga.FunctionCallItem(call_id=m.tool_call_id, name=m.name or "", arguments=m.text or "{}")
        elif m.role == "assistant" and m.text:
            if dialect == "beta":
                item = beta.BetaAssistantMessageItem(content=[beta.BetaTextPart(text=m.text)])
            else:
                item = ga.AssistantMessageItem(content=[ga.OutputTextPart(text=m.text)])
        elif m.role == "tool" and m.tool_call_id:
            item = ga.FunctionCallOutputItem(call_id=m.tool_call_id, output=m.text)
        elif m.role == "system" and m.text:
            item = ga.SystemMessageItem(content=[ga.InputTextPart(text=m.text)])
        else:
            continue
        events.append(create(item=item))
    return events
