"""GA dialect of the Realtime API (``openai.types.realtime``), the default.

Session config is nested by direction (``session.audio.input.turn_detection``),
audio formats are objects (``{"type": "audio/pcm", "rate": 24000}``), message
content parts are ``input_*`` / ``output_*`` and output events are
``response.output_audio.*`` / ``response.output_text.*``.

This module holds the GA client and server events and their unions
(``GAClientEvent``, ``GAServerEvent``). The session config, tool and item models
they carry live in ``_ga_session`` and are re-exported here, so callers import
every GA name from this module. Events identical in both dialects live in
``_common_events`` (re-exported by ``_protocol``) and are reused here.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, TypeAlias, Union

from pydantic import Field

from . import _protocol as p
from ._ga_session import _ITEMS as _ITEMS  # re-exported, was defined here
from ._ga_session import (
    AssistantContent,
    AssistantMessageItem,
    AudioConfig,
    AudioFormat,
    AudioFormatPCM,
    AudioFormatPCMA,
    AudioFormatPCMU,
    AudioInput,
    AudioOutput,
    AudioTranscription,
    ConversationItem,
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionTool,
    InputAudioPart,
    InputImagePart,
    InputTextPart,
    ItemBase,
    ItemReference,
    McpApprovalRequestItem,
    McpApprovalResponseItem,
    McpCallItem,
    McpListToolsItem,
    McpTool,
    NoiseReduction,
    OutputAudioPart,
    OutputTextPart,
    PromptRef,
    RealtimeSession,
    Reasoning,
    ResponseInputItem,
    RetentionRatioTruncation,
    SemanticVad,
    ServerVad,
    Session,
    SystemContent,
    SystemMessageItem,
    TokenLimits,
    Tool,
    ToolChoice,
    ToolChoiceFunction,
    ToolChoiceMcp,
    TracingConfig,
    TranscriptionSession,
    TranscriptionSessionAudio,
    TurnDetection,
    UserContent,
    UserMessageItem,
    VoiceRef,
)
from ._protocol import (
    ClientEventModel,
    ClientModel,
    ResponseContentEventBase,
    ResponseItemEventBase,
    ResponseStatusDetails,
    ResponseUsage,
    ServerEventModel,
    ServerModel,
    decode_audio,
)

# Imported here before the split: kept importable from this module.
from ._protocol import Unrecognized as Unrecognized
from ._protocol import item_tag as item_tag
from ._protocol import open_union as open_union

__all__ = [
    "AssistantContent", "AssistantMessageItem", "AudioConfig", "AudioFormat", "AudioFormatPCM",
    "AudioFormatPCMA", "AudioFormatPCMU", "AudioInput", "AudioOutput", "AudioTranscription",
    "ConversationItem", "ConversationItemAdded", "ConversationItemCreate", "ConversationItemCreated",
    "ConversationItemDone", "ConversationItemInputAudioTranscriptionSegment", "ConversationItemRetrieved",
    "FunctionCallItem", "FunctionCallOutputItem", "FunctionTool", "GAClientEvent", "GAServerEvent",
    "InputAudioBufferDtmfEventReceived", "InputAudioBufferTimeoutTriggered", "InputAudioPart",
    "InputImagePart", "InputTextPart", "ItemBase", "ItemReference", "McpApprovalRequestItem",
    "McpApprovalResponseItem", "McpCallItem", "McpListToolsCompleted", "McpListToolsFailed",
    "McpListToolsInProgress", "McpListToolsItem", "McpTool", "NoiseReduction", "OutputAudioPart",
    "OutputTextPart", "PromptRef", "RealtimeResponse", "RealtimeSession", "Reasoning", "ResponseAudio",
    "ResponseAudioOutput", "ResponseCreate", "ResponseCreateParams", "ResponseCreated", "ResponseDone",
    "ResponseInputItem", "ResponseMcpCallArgumentsDelta", "ResponseMcpCallArgumentsDone",
    "ResponseMcpCallCompleted", "ResponseMcpCallFailed", "ResponseMcpCallInProgress",
    "ResponseOutputAudioDelta", "ResponseOutputAudioDone", "ResponseOutputAudioTranscriptDelta",
    "ResponseOutputAudioTranscriptDone", "ResponseOutputItemAdded", "ResponseOutputItemDone",
    "ResponseOutputTextDelta", "ResponseOutputTextDone", "RetentionRatioTruncation", "SemanticVad",
    "ServerVad", "Session", "SessionCreated", "SessionUpdate", "SessionUpdated", "SystemContent",
    "SystemMessageItem", "TokenLimits", "Tool", "ToolChoice", "ToolChoiceFunction", "ToolChoiceMcp",
    "TracingConfig", "TranscriptionSession", "TranscriptionSessionAudio", "TurnDetection", "UserContent",
    "UserMessageItem", "VoiceRef",
]  # fmt: skip

# ------------------------------------------------------------- client events


class SessionUpdate(ClientEventModel):
    type: Literal["session.update"] = "session.update"
    session: Session


class ConversationItemCreate(ClientEventModel):
    type: Literal["conversation.item.create"] = "conversation.item.create"
    item: ConversationItem
    previous_item_id: str | None = None  # "root" inserts at the start; None appends


class ResponseAudioOutput(ClientModel):
    format: AudioFormat | None = None
    voice: str | VoiceRef | None = None


class ResponseAudio(ClientModel):
    output: ResponseAudioOutput | None = None


class ResponseCreateParams(ClientModel):
    """Per-response overrides of the session config, plus out-of-band options."""

    conversation: str | None = None  # "auto" (default) | "none": out-of-band, not added to the conversation
    input: list[ResponseInputItem] | None = None  # replaces the conversation as the prompt
    instructions: str | None = None
    output_modalities: list[Literal["audio", "text"]] | None = None
    audio: ResponseAudio | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    max_output_tokens: int | Literal["inf"] | None = None
    metadata: dict[str, str] | None = None  # echoed in response.created/done; tags out-of-band replies
    prompt: PromptRef | None = None
    reasoning: Reasoning | None = None
    _nullable: ClassVar[frozenset[str]] = frozenset({"metadata", "prompt"})


class ResponseCreate(ClientEventModel):
    type: Literal["response.create"] = "response.create"
    response: ResponseCreateParams | None = None


GAClientEvent: TypeAlias = Annotated[
    Union[  # noqa: UP007
        SessionUpdate,
        p.InputAudioBufferAppend, p.InputAudioBufferCommit, p.InputAudioBufferClear,
        ConversationItemCreate, p.ConversationItemTruncate, p.ConversationItemDelete,
        p.ConversationItemRetrieve,
        ResponseCreate, p.ResponseCancel, p.OutputAudioBufferClear,
    ],
    Field(discriminator="type"),
]  # fmt: skip

# ------------------------------------------------------------- server events


class RealtimeResponse(ServerModel):
    """``response`` of response.created / response.done."""

    id: str | None = None
    object: str | None = None
    status: str | None = None  # in_progress | completed | cancelled | incomplete | failed
    status_details: ResponseStatusDetails | None = None
    output: list[ConversationItem] | None = None
    conversation_id: str | None = None  # absent for out-of-band responses
    output_modalities: list[str] | None = None
    max_output_tokens: int | Literal["inf"] | None = None
    audio: ResponseAudio | None = None
    usage: ResponseUsage | None = None  # only on response.done
    metadata: dict[str, str] | None = None


class SessionCreated(ServerEventModel):
    type: Literal["session.created"] = "session.created"
    session: Session


class SessionUpdated(ServerEventModel):
    type: Literal["session.updated"] = "session.updated"
    session: Session


class ConversationItemAdded(ServerEventModel):
    # GA splits the beta conversation.item.created in two: added (maybe still
    # streaming), then done (final content).
    type: Literal["conversation.item.added"] = "conversation.item.added"
    item: ConversationItem
    previous_item_id: str | None = None


class ConversationItemDone(ServerEventModel):
    type: Literal["conversation.item.done"] = "conversation.item.done"
    item: ConversationItem
    previous_item_id: str | None = None


class ConversationItemCreated(ServerEventModel):
    type: Literal["conversation.item.created"] = "conversation.item.created"  # still in the GA SDK union
    item: ConversationItem
    previous_item_id: str | None = None


class ConversationItemRetrieved(ServerEventModel):
    type: Literal["conversation.item.retrieved"] = "conversation.item.retrieved"
    item: ConversationItem  # includes audio, after noise reduction


class ConversationItemInputAudioTranscriptionSegment(ServerEventModel):
    # Diarized transcription (gpt-4o-transcribe-diarize).
    type: Literal["conversation.item.input_audio_transcription.segment"] = (
        "conversation.item.input_audio_transcription.segment"
    )
    item_id: str
    content_index: int
    id: str
    text: str
    speaker: str
    start: float
    end: float


class InputAudioBufferTimeoutTriggered(ServerEventModel):
    # server_vad idle_timeout_ms elapsed with no speech: the server commits the
    # (silent) buffer and, with create_response, prompts the model to speak.
    type: Literal["input_audio_buffer.timeout_triggered"] = "input_audio_buffer.timeout_triggered"
    item_id: str
    audio_start_ms: int
    audio_end_ms: int


class InputAudioBufferDtmfEventReceived(ServerEventModel):
    # SIP calls only; note: no event_id in the SDK type.
    type: Literal["input_audio_buffer.dtmf_event_received"] = "input_audio_buffer.dtmf_event_received"
    event: str  # the key pressed
    received_at: int  # unix seconds


class ResponseCreated(ServerEventModel):
    type: Literal["response.created"] = "response.created"
    response: RealtimeResponse


class ResponseDone(ServerEventModel):
    type: Literal["response.done"] = "response.done"
    response: RealtimeResponse


class ResponseOutputItemAdded(ServerEventModel):
    type: Literal["response.output_item.added"] = "response.output_item.added"
    response_id: str
    output_index: int
    item: ConversationItem


class ResponseOutputItemDone(ServerEventModel):
    type: Literal["response.output_item.done"] = "response.output_item.done"
    response_id: str
    output_index: int
    item: ConversationItem


class ResponseOutputTextDelta(ResponseContentEventBase):
    type: Literal["response.output_text.delta"] = "response.output_text.delta"
    delta: str


class ResponseOutputTextDone(ResponseContentEventBase):
    type: Literal["response.output_text.done"] = "response.output_text.done"
    text: str


class ResponseOutputAudioDelta(ResponseContentEventBase):
    type: Literal["response.output_audio.delta"] = "response.output_audio.delta"
    delta: str  # base64, kept encoded: decoding is the consumer's choice (see delta_bytes)

    def delta_bytes(self) -> bytes:
        return decode_audio(self.delta)


class ResponseOutputAudioDone(ResponseContentEventBase):
    type: Literal["response.output_audio.done"] = "response.output_audio.done"


class ResponseOutputAudioTranscriptDelta(ResponseContentEventBase):
    type: Literal["response.output_audio_transcript.delta"] = "response.output_audio_transcript.delta"
    delta: str


class ResponseOutputAudioTranscriptDone(ResponseContentEventBase):
    type: Literal["response.output_audio_transcript.done"] = "response.output_audio_transcript.done"
    transcript: str


class McpListToolsInProgress(ServerEventModel):
    type: Literal["mcp_list_tools.in_progress"] = "mcp_list_tools.in_progress"
    item_id: str


class McpListToolsCompleted(ServerEventModel):
    type: Literal["mcp_list_tools.completed"] = "mcp_list_tools.completed"
    item_id: str


class McpListToolsFailed(ServerEventModel):
    type: Literal["mcp_list_tools.failed"] = "mcp_list_tools.failed"
    item_id: str


class ResponseMcpCallArgumentsDelta(ResponseItemEventBase):
    type: Literal["response.mcp_call_arguments.delta"] = "response.mcp_call_arguments.delta"
    delta: str
    obfuscation: str | None = None


class ResponseMcpCallArgumentsDone(ResponseItemEventBase):
    type: Literal["response.mcp_call_arguments.done"] = "response.mcp_call_arguments.done"
    arguments: str


class ResponseMcpCallInProgress(ServerEventModel):
    type: Literal["response.mcp_call.in_progress"] = "response.mcp_call.in_progress"
    item_id: str
    output_index: int


class ResponseMcpCallCompleted(ServerEventModel):
    type: Literal["response.mcp_call.completed"] = "response.mcp_call.completed"
    item_id: str
    output_index: int


class ResponseMcpCallFailed(ServerEventModel):
    type: Literal["response.mcp_call.failed"] = "response.mcp_call.failed"
    item_id: str
    output_index: int


GAServerEvent: TypeAlias = Annotated[
    Union[  # noqa: UP007
        p.ErrorEvent, SessionCreated, SessionUpdated, p.ConversationCreated,
        ConversationItemAdded, ConversationItemDone, ConversationItemCreated, ConversationItemRetrieved,
        p.ConversationItemDeleted, p.ConversationItemTruncated,
        p.ConversationItemInputAudioTranscriptionDelta, p.ConversationItemInputAudioTranscriptionCompleted,
        p.ConversationItemInputAudioTranscriptionFailed, ConversationItemInputAudioTranscriptionSegment,
        p.InputAudioBufferCommitted, p.InputAudioBufferCleared,
        p.InputAudioBufferSpeechStarted, p.InputAudioBufferSpeechStopped,
        InputAudioBufferTimeoutTriggered, InputAudioBufferDtmfEventReceived,
        p.OutputAudioBufferStarted, p.OutputAudioBufferStopped, p.OutputAudioBufferCleared,
        ResponseCreated, ResponseDone, ResponseOutputItemAdded, ResponseOutputItemDone,
        p.ResponseContentPartAdded, p.ResponseContentPartDone,
        ResponseOutputTextDelta, ResponseOutputTextDone,
        ResponseOutputAudioDelta, ResponseOutputAudioDone,
        ResponseOutputAudioTranscriptDelta, ResponseOutputAudioTranscriptDone,
        p.ResponseFunctionCallArgumentsDelta, p.ResponseFunctionCallArgumentsDone,
        McpListToolsInProgress, McpListToolsCompleted, McpListToolsFailed,
        ResponseMcpCallArgumentsDelta, ResponseMcpCallArgumentsDone,
        ResponseMcpCallInProgress, ResponseMcpCallCompleted, ResponseMcpCallFailed,
        p.RateLimitsUpdated,
    ],
    Field(discriminator="type"),
]  # fmt: skip
