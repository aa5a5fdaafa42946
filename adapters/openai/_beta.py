"""Beta dialect of the Realtime API (``openai.types.beta.realtime``).

Still what Azure OpenAI and older deployments speak. Against GA it has a flat
session (``voice``, ``input_audio_format: "pcm16"``, ``turn_detection`` at the top
level), ``modalities`` for ``output_modalities``, ``max_response_output_tokens``
for ``max_output_tokens``, a ``temperature``, content parts ``text`` / ``audio``
for assistant output, one ``conversation.item.created`` instead of GA's
added/done pair, and output events ``response.audio.*`` / ``response.text.*``.

Classes defined here carry a ``Beta`` prefix so both dialects can be imported
side by side; shapes identical in both (function items, ``input_text`` parts,
``FunctionTool``, most events) are reused from ``_ga`` and ``_protocol``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, TypeAlias, Union

from pydantic import Field

from . import _protocol as p
from ._ga import (
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionTool,
    InputAudioPart,
    InputTextPart,
    ItemBase,
    ItemReference,
    SystemMessageItem,
    TracingConfig,
)
from ._protocol import (
    ClientEventModel,
    ClientModel,
    ResponseContentEventBase,
    ServerEventModel,
    ServerModel,
    Unrecognized,
    decode_audio,
    item_tag,
    open_union,
)

__all__ = [
    "BetaAssistantContent", "BetaAssistantMessageItem", "BetaAudioFormat", "BetaAudioPart",
    "BetaClientEvent", "BetaConversationItem", "BetaConversationItemCreate",
    "BetaConversationItemCreated", "BetaConversationItemRetrieved", "BetaInputAudioTranscription",
    "BetaNoiseReduction", "BetaRealtimeResponse", "BetaResponseAudioDelta", "BetaResponseAudioDone",
    "BetaResponseAudioTranscriptDelta", "BetaResponseAudioTranscriptDone", "BetaResponseCreate",
    "BetaResponseCreated", "BetaResponseDone", "BetaResponseInputItem", "BetaResponseOutputItemAdded",
    "BetaResponseOutputItemDone", "BetaResponseParams", "BetaResponseTextDelta", "BetaResponseTextDone",
    "BetaServerEvent", "BetaSession", "BetaSessionCreated", "BetaSessionUpdate", "BetaSessionUpdated",
    "BetaTextPart", "BetaTranscriptionSession", "BetaTranscriptionSessionUpdate",
    "BetaTranscriptionSessionUpdated", "BetaTurnDetection", "BetaUserContent", "BetaUserMessageItem",
]  # fmt: skip

# Beta names formats by codec; the rate is implied (24 kHz PCM, 8 kHz G.711).
BetaAudioFormat: TypeAlias = Literal["pcm16", "g711_ulaw", "g711_alaw"]

# ---------------------------------------------------------------- session config


class BetaInputAudioTranscription(ClientModel):
    model: str | None = None  # whisper-1, gpt-4o-transcribe, gpt-4o-mini-transcribe
    language: str | None = None
    prompt: str | None = None


class BetaNoiseReduction(ClientModel):
    type: Literal["near_field", "far_field"] | None = None


class BetaTurnDetection(ClientModel):
    """Beta keeps both VAD kinds in one flat object; ``eagerness`` is semantic_vad's."""

    type: Literal["server_vad", "semantic_vad"] = "server_vad"
    threshold: float | None = None
    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None
    eagerness: Literal["low", "medium", "high", "auto"] | None = None
    create_response: bool | None = None
    interrupt_response: bool | None = None


class BetaSession(ClientModel):
    """``session`` of session.update / session.created / session.updated."""

    id: str | None = None  # assigned by the server and echoed; never sent
    model: str | None = None
    modalities: list[Literal["text", "audio"]] | None = None  # ["text"] alone disables audio
    instructions: str | None = None
    voice: str | None = None
    speed: float | None = None
    input_audio_format: BetaAudioFormat | None = None
    output_audio_format: BetaAudioFormat | None = None
    input_audio_transcription: BetaInputAudioTranscription | None = None
    input_audio_noise_reduction: BetaNoiseReduction | None = None
    turn_detection: BetaTurnDetection | None = None
    tools: list[FunctionTool] | None = None
    tool_choice: str | None = None  # auto | none | required | a function name
    temperature: float | None = None  # 0.6..1.2; gone in GA
    max_response_output_tokens: int | Literal["inf"] | None = None
    tracing: Literal["auto"] | TracingConfig | None = None
    # None sent explicitly switches the feature off (see ClientModel).
    _nullable: ClassVar[frozenset[str]] = frozenset(
        {"input_audio_transcription", "input_audio_noise_reduction", "turn_detection", "tracing"}
    )


class BetaTranscriptionSession(ClientModel):
    """``session`` of transcription_session.update / transcription_session.updated."""

    modalities: list[Literal["text", "audio"]] | None = None
    input_audio_format: BetaAudioFormat | None = None
    input_audio_transcription: BetaInputAudioTranscription | None = None
    input_audio_noise_reduction: BetaNoiseReduction | None = None
    turn_detection: BetaTurnDetection | None = None
    include: list[str] | None = None  # "item.input_audio_transcription.logprobs"
    # Sent: {expires_at: {anchor, seconds}} to configure the ephemeral key;
    # received: {value, expires_at}, the key itself.
    client_secret: dict[str, Any] | None = None
    _nullable: ClassVar[frozenset[str]] = frozenset(
        {"input_audio_transcription", "input_audio_noise_reduction", "turn_detection"}
    )


# --------------------------------------------------------------------- items


class BetaTextPart(ClientModel):
    type: Literal["text"] = "text"  # GA: output_text
    text: str | None = None


class BetaAudioPart(ClientModel):
    type: Literal["audio"] = "audio"  # GA: output_audio
    audio: str | None = None
    transcript: str | None = None


if TYPE_CHECKING:
    BetaUserContent: TypeAlias = InputTextPart | InputAudioPart | Unrecognized
    BetaAssistantContent: TypeAlias = BetaTextPart | BetaAudioPart | Unrecognized
else:
    BetaUserContent = open_union(InputTextPart, InputAudioPart)
    BetaAssistantContent = open_union(BetaTextPart, BetaAudioPart)


class BetaUserMessageItem(ItemBase):
    type: Literal["message"] = "message"
    role: Literal["user"] = "user"
    content: list[BetaUserContent]


class BetaAssistantMessageItem(ItemBase):
    type: Literal["message"] = "message"
    role: Literal["assistant"] = "assistant"
    content: list[BetaAssistantContent]


_ITEMS = (
    SystemMessageItem,
    BetaUserMessageItem,
    BetaAssistantMessageItem,
    FunctionCallItem,
    FunctionCallOutputItem,
)
if TYPE_CHECKING:
    BetaConversationItem: TypeAlias = (
        SystemMessageItem | BetaUserMessageItem | BetaAssistantMessageItem | FunctionCallItem
        | FunctionCallOutputItem | Unrecognized
    )  # fmt: skip
    BetaResponseInputItem: TypeAlias = BetaConversationItem | ItemReference
else:
    BetaConversationItem = open_union(*_ITEMS, tag=item_tag)
    BetaResponseInputItem = open_union(*_ITEMS, ItemReference, tag=item_tag)


# ------------------------------------------------------------- client events


class BetaSessionUpdate(ClientEventModel):
    type: Literal["session.update"] = "session.update"
    session: BetaSession


class BetaTranscriptionSessionUpdate(ClientEventModel):
    type: Literal["transcription_session.update"] = "transcription_session.update"
    session: BetaTranscriptionSession


class BetaConversationItemCreate(ClientEventModel):
    type: Literal["conversation.item.create"] = "conversation.item.create"
    item: BetaConversationItem
    previous_item_id: str | None = None  # "root" inserts at the start; None appends


class BetaResponseParams(ClientModel):
    """Per-response overrides of the session config, plus out-of-band options."""

    conversation: str | None = None  # "auto" (default) | "none": out-of-band
    input: list[BetaResponseInputItem] | None = None
    instructions: str | None = None
    modalities: list[Literal["text", "audio"]] | None = None
    voice: str | None = None
    output_audio_format: BetaAudioFormat | None = None
    tools: list[FunctionTool] | None = None
    tool_choice: str | None = None
    temperature: float | None = None
    max_response_output_tokens: int | Literal["inf"] | None = None
    metadata: dict[str, str] | None = None
    _nullable: ClassVar[frozenset[str]] = frozenset({"metadata"})


class BetaResponseCreate(ClientEventModel):
    type: Literal["response.create"] = "response.create"
    response: BetaResponseParams | None = None


BetaClientEvent: TypeAlias = Annotated[
    Union[  # noqa: UP007
        BetaSessionUpdate, BetaTranscriptionSessionUpdate,
        p.InputAudioBufferAppend, p.InputAudioBufferCommit, p.InputAudioBufferClear,
        BetaConversationItemCreate, p.ConversationItemTruncate, p.ConversationItemDelete,
        p.ConversationItemRetrieve,
        BetaResponseCreate, p.ResponseCancel, p.OutputAudioBufferClear,
    ],
    Field(discriminator="type"),
]  # fmt: skip

# ------------------------------------------------------------- server events


class BetaRealtimeResponse(ServerModel):
    """``response`` of response.created / response.done."""

    id: str | None = None
    object: str | None = None
    status: str | None = None  # in_progress | completed | cancelled | incomplete | failed
    status_details: p.ResponseStatusDetails | None = None
    output: list[BetaConversationItem] | None = None
    conversation_id: str | None = None
    modalities: list[str] | None = None
    voice: str | None = None
    output_audio_format: str | None = None
    temperature: float | None = None
    max_output_tokens: int | Literal["inf"] | None = None  # sic: not max_response_output_tokens
    usage: p.ResponseUsage | None = None
    metadata: dict[str, str] | None = None


class BetaSessionCreated(ServerEventModel):
    type: Literal["session.created"] = "session.created"
    session: BetaSession


class BetaSessionUpdated(ServerEventModel):
    type: Literal["session.updated"] = "session.updated"
    session: BetaSession


class BetaTranscriptionSessionUpdated(ServerEventModel):
    type: Literal["transcription_session.updated"] = "transcription_session.updated"
    session: BetaTranscriptionSession


class BetaConversationItemCreated(ServerEventModel):
    type: Literal["conversation.item.created"] = "conversation.item.created"
    item: BetaConversationItem
    previous_item_id: str | None = None


class BetaConversationItemRetrieved(ServerEventModel):
    type: Literal["conversation.item.retrieved"] = "conversation.item.retrieved"
    item: BetaConversationItem


class BetaResponseCreated(ServerEventModel):
    type: Literal["response.created"] = "response.created"
    response: BetaRealtimeResponse


class BetaResponseDone(ServerEventModel):
    type: Literal["response.done"] = "response.done"
    response: BetaRealtimeResponse


class BetaResponseOutputItemAdded(ServerEventModel):
    type: Literal["response.output_item.added"] = "response.output_item.added"
    response_id: str
    output_index: int
    item: BetaConversationItem


class BetaResponseOutputItemDone(ServerEventModel):
    type: Literal["response.output_item.done"] = "response.output_item.done"
    response_id: str
    output_index: int
    item: BetaConversationItem


class BetaResponseTextDelta(ResponseContentEventBase):
    type: Literal["response.text.delta"] = "response.text.delta"
    delta: str


class BetaResponseTextDone(ResponseContentEventBase):
    type: Literal["response.text.done"] = "response.text.done"
    text: str


class BetaResponseAudioDelta(ResponseContentEventBase):
    type: Literal["response.audio.delta"] = "response.audio.delta"
    delta: str  # base64, kept encoded (see delta_bytes)

    def delta_bytes(self) -> bytes:
        return decode_audio(self.delta)


class BetaResponseAudioDone(ResponseContentEventBase):
    type: Literal["response.audio.done"] = "response.audio.done"


class BetaResponseAudioTranscriptDelta(ResponseContentEventBase):
    type: Literal["response.audio_transcript.delta"] = "response.audio_transcript.delta"
    delta: str


class BetaResponseAudioTranscriptDone(ResponseContentEventBase):
    type: Literal["response.audio_transcript.done"] = "response.audio_transcript.done"
    transcript: str


BetaServerEvent: TypeAlias = Annotated[
    Union[  # noqa: UP007
        p.ErrorEvent, BetaSessionCreated, BetaSessionUpdated, BetaTranscriptionSessionUpdated,
        p.ConversationCreated, BetaConversationItemCreated, BetaConversationItemRetrieved,
        p.ConversationItemDeleted, p.ConversationItemTruncated,
        p.ConversationItemInputAudioTranscriptionDelta, p.ConversationItemInputAudioTranscriptionCompleted,
        p.ConversationItemInputAudioTranscriptionFailed,
        p.InputAudioBufferCommitted, p.InputAudioBufferCleared,
        p.InputAudioBufferSpeechStarted, p.InputAudioBufferSpeechStopped,
        p.OutputAudioBufferStarted, p.OutputAudioBufferStopped, p.OutputAudioBufferCleared,
        BetaResponseCreated, BetaResponseDone, BetaResponseOutputItemAdded, BetaResponseOutputItemDone,
        p.ResponseContentPartAdded, p.ResponseContentPartDone, BetaResponseTextDelta, BetaResponseTextDone,
        BetaResponseAudioDelta, BetaResponseAudioDone,
        BetaResponseAudioTranscriptDelta, BetaResponseAudioTranscriptDone,
        p.ResponseFunctionCallArgumentsDelta, p.ResponseFunctionCallArgumentsDone,
        p.RateLimitsUpdated,
    ],
    Field(discriminator="type"),
]  # fmt: skip
