"""Events and data shapes whose wire form is the same in both dialects.

Client events (``input_audio_buffer.*``, ``conversation.item.truncate`` /
``delete`` / ``retrieve``, ``response.cancel``), the server events both dialects
define identically (errors, transcription, VAD, content parts, function-call
arguments, rate limits) and the data shapes they carry (usage, status details).
``_ga`` and ``_beta`` put them in their unions; ``_protocol`` re-exports them.
"""

from __future__ import annotations

from typing import Literal, Self

from ._base import (
    ClientEventModel,
    ResponseContentEventBase,
    ResponseItemEventBase,
    ServerEventModel,
    ServerModel,
    encode_audio,
)

__all__ = [
    "CachedTokenDetails", "ConversationCreated", "ConversationInfo", "ConversationItemDelete",
    "ConversationItemDeleted", "ConversationItemInputAudioTranscriptionCompleted",
    "ConversationItemInputAudioTranscriptionDelta", "ConversationItemInputAudioTranscriptionFailed",
    "ConversationItemRetrieve", "ConversationItemTruncate", "ConversationItemTruncated", "ErrorDetail",
    "ErrorEvent", "InputAudioBufferAppend", "InputAudioBufferClear", "InputAudioBufferCleared",
    "InputAudioBufferCommit", "InputAudioBufferCommitted", "InputAudioBufferSpeechStarted",
    "InputAudioBufferSpeechStopped", "InputTokenDetails", "LogProb", "OutputAudioBufferClear",
    "OutputAudioBufferCleared", "OutputAudioBufferStarted", "OutputAudioBufferStopped",
    "OutputTokenDetails", "RateLimit", "RateLimitsUpdated", "ResponseCancel", "ResponseContentPart",
    "ResponseContentPartAdded", "ResponseContentPartDone", "ResponseFunctionCallArgumentsDelta",
    "ResponseFunctionCallArgumentsDone", "ResponseStatusDetails", "ResponseStatusError", "ResponseUsage",
    "TranscriptionLanguage", "TranscriptionTokenDetails", "TranscriptionUsageDuration",
    "TranscriptionUsageTokens",
]  # fmt: skip

# ---------------------------------------------------------------- client events
# Envelope: {"type": ..., "event_id"?} (ClientEventModel).


class InputAudioBufferAppend(ClientEventModel):
    type: Literal["input_audio_buffer.append"] = "input_audio_buffer.append"
    audio: str  # base64 of audio in the session's input format

    @classmethod
    def from_pcm(cls, pcm: bytes, *, event_id: str | None = None) -> Self:
        return cls(audio=encode_audio(pcm), event_id=event_id)


class InputAudioBufferCommit(ClientEventModel):
    type: Literal["input_audio_buffer.commit"] = "input_audio_buffer.commit"


class InputAudioBufferClear(ClientEventModel):
    type: Literal["input_audio_buffer.clear"] = "input_audio_buffer.clear"


class ConversationItemTruncate(ClientEventModel):
    type: Literal["conversation.item.truncate"] = "conversation.item.truncate"
    item_id: str
    content_index: int
    audio_end_ms: int


class ConversationItemDelete(ClientEventModel):
    type: Literal["conversation.item.delete"] = "conversation.item.delete"
    item_id: str


class ConversationItemRetrieve(ClientEventModel):
    type: Literal["conversation.item.retrieve"] = "conversation.item.retrieve"
    item_id: str


class ResponseCancel(ClientEventModel):
    type: Literal["response.cancel"] = "response.cancel"
    response_id: str | None = None  # None: the response in progress


class OutputAudioBufferClear(ClientEventModel):
    # WebRTC/SIP only: over a websocket the client owns playback.
    type: Literal["output_audio_buffer.clear"] = "output_audio_buffer.clear"


# ----------------------------------------------------------- server data shapes


class ErrorDetail(ServerModel):
    # All optional: this shape is also used for transcription failures, where
    # the API documents every field as optional.
    type: str | None = None
    code: str | None = None
    message: str | None = None
    param: str | None = None
    event_id: str | None = None  # the client event_id that caused the error


class LogProb(ServerModel):
    token: str
    logprob: float
    bytes: list[int]


class TranscriptionLanguage(ServerModel):
    code: str


class TranscriptionTokenDetails(ServerModel):
    text_tokens: int | None = None
    audio_tokens: int | None = None


class TranscriptionUsageTokens(ServerModel):
    type: Literal["tokens"] = "tokens"
    input_tokens: int
    output_tokens: int
    total_tokens: int
    input_token_details: TranscriptionTokenDetails | None = None


class TranscriptionUsageDuration(ServerModel):
    type: Literal["duration"] = "duration"  # whisper-1 bills by audio length
    seconds: float


class CachedTokenDetails(ServerModel):
    text_tokens: int | None = None
    audio_tokens: int | None = None
    image_tokens: int | None = None


class InputTokenDetails(ServerModel):
    cached_tokens: int | None = None
    text_tokens: int | None = None
    audio_tokens: int | None = None
    image_tokens: int | None = None
    cached_tokens_details: CachedTokenDetails | None = None


class OutputTokenDetails(ServerModel):
    text_tokens: int | None = None
    audio_tokens: int | None = None


class ResponseUsage(ServerModel):
    total_tokens: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    input_token_details: InputTokenDetails | None = None
    output_token_details: OutputTokenDetails | None = None


class ResponseStatusError(ServerModel):
    type: str | None = None
    code: str | None = None
    message: str | None = None


class ResponseStatusDetails(ServerModel):
    # Plain str, not Literal: a new reason must not make response.done unparseable.
    type: str | None = None  # completed | cancelled | incomplete | failed
    reason: str | None = None  # turn_detected | client_cancelled | max_output_tokens | content_filter
    error: ResponseStatusError | None = None


class RateLimit(ServerModel):
    name: str | None = None  # requests | tokens
    limit: int | None = None
    remaining: int | None = None
    reset_seconds: float | None = None


class ConversationInfo(ServerModel):
    id: str | None = None
    object: str | None = None


class ResponseContentPart(ServerModel):
    # str, not Literal: the SDK documents "text" | "audio" here even for GA, whose
    # items name the same parts "output_text" | "output_audio". Accept either.
    type: str | None = None
    text: str | None = None
    audio: str | None = None
    transcript: str | None = None


# ---------------------------------------------------------------- server events


class ErrorEvent(ServerEventModel):
    # Not named "Error" (the mirror of its type string): too generic to export.
    type: Literal["error"] = "error"
    error: ErrorDetail


class ConversationCreated(ServerEventModel):
    type: Literal["conversation.created"] = "conversation.created"
    conversation: ConversationInfo


class ConversationItemDeleted(ServerEventModel):
    type: Literal["conversation.item.deleted"] = "conversation.item.deleted"
    item_id: str


class ConversationItemTruncated(ServerEventModel):
    type: Literal["conversation.item.truncated"] = "conversation.item.truncated"
    item_id: str
    content_index: int
    audio_end_ms: int


class ConversationItemInputAudioTranscriptionCompleted(ServerEventModel):
    type: Literal["conversation.item.input_audio_transcription.completed"] = (
        "conversation.item.input_audio_transcription.completed"
    )
    item_id: str
    content_index: int
    transcript: str
    usage: TranscriptionUsageTokens | TranscriptionUsageDuration | None = None
    logprobs: list[LogProb] | None = None
    languages: list[TranscriptionLanguage] | None = None  # GA only


class ConversationItemInputAudioTranscriptionDelta(ServerEventModel):
    type: Literal["conversation.item.input_audio_transcription.delta"] = (
        "conversation.item.input_audio_transcription.delta"
    )
    item_id: str
    content_index: int | None = None
    delta: str | None = None
    logprobs: list[LogProb] | None = None


class ConversationItemInputAudioTranscriptionFailed(ServerEventModel):
    type: Literal["conversation.item.input_audio_transcription.failed"] = (
        "conversation.item.input_audio_transcription.failed"
    )
    item_id: str
    content_index: int
    error: ErrorDetail


class InputAudioBufferCommitted(ServerEventModel):
    type: Literal["input_audio_buffer.committed"] = "input_audio_buffer.committed"
    item_id: str
    previous_item_id: str | None = None


class InputAudioBufferCleared(ServerEventModel):
    type: Literal["input_audio_buffer.cleared"] = "input_audio_buffer.cleared"


class InputAudioBufferSpeechStarted(ServerEventModel):
    type: Literal["input_audio_buffer.speech_started"] = "input_audio_buffer.speech_started"
    item_id: str
    audio_start_ms: int


class InputAudioBufferSpeechStopped(ServerEventModel):
    type: Literal["input_audio_buffer.speech_stopped"] = "input_audio_buffer.speech_stopped"
    item_id: str
    audio_end_ms: int


# WebRTC/SIP only (the server plays the audio), but harmless to parse anywhere.
class OutputAudioBufferStarted(ServerEventModel):
    type: Literal["output_audio_buffer.started"] = "output_audio_buffer.started"
    response_id: str


class OutputAudioBufferStopped(ServerEventModel):
    type: Literal["output_audio_buffer.stopped"] = "output_audio_buffer.stopped"
    response_id: str


class OutputAudioBufferCleared(ServerEventModel):
    type: Literal["output_audio_buffer.cleared"] = "output_audio_buffer.cleared"
    response_id: str


class RateLimitsUpdated(ServerEventModel):
    type: Literal["rate_limits.updated"] = "rate_limits.updated"
    rate_limits: list[RateLimit]


class ResponseContentPartAdded(ResponseContentEventBase):
    type: Literal["response.content_part.added"] = "response.content_part.added"
    part: ResponseContentPart


class ResponseContentPartDone(ResponseContentEventBase):
    type: Literal["response.content_part.done"] = "response.content_part.done"
    part: ResponseContentPart


class ResponseFunctionCallArgumentsDelta(ResponseItemEventBase):
    type: Literal["response.function_call_arguments.delta"] = "response.function_call_arguments.delta"
    call_id: str
    delta: str


class ResponseFunctionCallArgumentsDone(ResponseItemEventBase):
    type: Literal["response.function_call_arguments.done"] = "response.function_call_arguments.done"
    call_id: str
    arguments: str  # JSON text, as the model produced it; may be invalid JSON
    name: str | None = None  # GA only
