"""GA dialect shapes that travel both ways: session config and conversation items.

Session config is nested by direction (``session.audio.input.turn_detection``),
audio formats are objects (``{"type": "audio/pcm", "rate": 24000}``), tools are
functions or remote MCP servers, and message content parts are ``input_*`` /
``output_*``. All are ``ClientModel``s: we send them, and the server echoes them
inside events (see ``ClientModel``). The events that carry them are in ``_ga``,
which re-exports everything here; ``_beta`` reuses the shapes it shares.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, TypeAlias

from pydantic import Field

from ._base import ClientModel, Unrecognized, item_tag, open_union

__all__ = [
    "AssistantContent", "AssistantMessageItem", "AudioConfig", "AudioFormat", "AudioFormatPCM",
    "AudioFormatPCMA", "AudioFormatPCMU", "AudioInput", "AudioOutput", "AudioTranscription",
    "ConversationItem", "FunctionCallItem", "FunctionCallOutputItem", "FunctionTool", "InputAudioPart",
    "InputImagePart", "InputTextPart", "ItemBase", "ItemReference", "McpApprovalRequestItem",
    "McpApprovalResponseItem", "McpCallItem", "McpListToolsItem", "McpTool", "NoiseReduction",
    "OutputAudioPart", "OutputTextPart", "PromptRef", "RealtimeSession", "Reasoning",
    "ResponseInputItem", "RetentionRatioTruncation", "SemanticVad", "ServerVad", "Session",
    "SystemContent", "SystemMessageItem", "TokenLimits", "Tool", "ToolChoice", "ToolChoiceFunction",
    "ToolChoiceMcp", "TracingConfig", "TranscriptionSession", "TranscriptionSessionAudio",
    "TurnDetection", "UserContent", "UserMessageItem", "VoiceRef",
]  # fmt: skip

# ---------------------------------------------------------------- session config


class AudioFormatPCM(ClientModel):
    type: Literal["audio/pcm"] = "audio/pcm"  # 16-bit little-endian mono
    rate: Literal[24000] = 24000  # the only rate the API accepts


class AudioFormatPCMU(ClientModel):
    type: Literal["audio/pcmu"] = "audio/pcmu"  # G.711 mu-law, 8 kHz (telephony)


class AudioFormatPCMA(ClientModel):
    type: Literal["audio/pcma"] = "audio/pcma"  # G.711 A-law, 8 kHz


class AudioTranscription(ClientModel):
    model: str | None = None  # whisper-1, gpt-4o-transcribe, gpt-4o-mini-transcribe, ...
    language: str | None = None  # ISO-639-1; improves accuracy and latency
    languages: list[str] | None = None
    prompt: str | None = None
    keywords: list[str] | None = None
    delay: Literal["minimal", "low", "medium", "high", "xhigh"] | None = None


class NoiseReduction(ClientModel):
    type: Literal["near_field", "far_field"] | None = None
    strength: float | None = None


class ServerVad(ClientModel):
    """Turn detection by audio level."""

    type: Literal["server_vad"] = "server_vad"
    threshold: float | None = None
    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None
    create_response: bool | None = None
    interrupt_response: bool | None = None
    idle_timeout_ms: int | None = None  # null: no idle timeout
    _nullable: ClassVar[frozenset[str]] = frozenset({"idle_timeout_ms"})


class SemanticVad(ClientModel):
    """Turn detection by a model judging whether the user has finished."""

    type: Literal["semantic_vad"] = "semantic_vad"
    eagerness: Literal["low", "medium", "high", "auto"] | None = None
    create_response: bool | None = None
    interrupt_response: bool | None = None


if TYPE_CHECKING:
    AudioFormat: TypeAlias = AudioFormatPCM | AudioFormatPCMU | AudioFormatPCMA | Unrecognized
    TurnDetection: TypeAlias = ServerVad | SemanticVad | Unrecognized
else:
    AudioFormat = open_union(AudioFormatPCM, AudioFormatPCMU, AudioFormatPCMA)
    TurnDetection = open_union(ServerVad, SemanticVad)


class AudioInput(ClientModel):
    format: AudioFormat | None = None
    transcription: AudioTranscription | None = None
    noise_reduction: NoiseReduction | None = None
    turn_detection: TurnDetection | None = None
    # Set to None explicitly to switch the feature off (turn_detection None: the
    # client commits the buffer and asks for responses itself).
    _nullable: ClassVar[frozenset[str]] = frozenset({"transcription", "noise_reduction", "turn_detection"})


class VoiceRef(ClientModel):
    id: str  # a custom voice; built-in voices are plain strings ("marin", ...)


class AudioOutput(ClientModel):
    format: AudioFormat | None = None
    voice: str | VoiceRef | None = None  # cannot change once the model has spoken
    speed: float | None = None  # 0.25..1.5


class AudioConfig(ClientModel):
    input: AudioInput | None = None
    output: AudioOutput | None = None


class FunctionTool(ClientModel):
    type: Literal["function"] = "function"
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None  # JSON Schema of the arguments object


class McpTool(ClientModel):
    """A remote MCP server (or OpenAI connector) the server calls itself."""

    type: Literal["mcp"] = "mcp"
    server_label: str
    server_url: str | None = None
    connector_id: str | None = None
    authorization: str | None = None
    headers: dict[str, str] | None = None
    server_description: str | None = None
    allowed_tools: list[str] | dict[str, Any] | None = None  # names, or {tool_names, read_only}
    require_approval: Literal["always", "never"] | dict[str, Any] | None = None
    allowed_callers: list[Literal["direct", "programmatic"]] | None = None
    defer_loading: bool | None = None
    tunnel_id: str | None = None


class ToolChoiceFunction(ClientModel):
    type: Literal["function"] = "function"
    name: str


class ToolChoiceMcp(ClientModel):
    type: Literal["mcp"] = "mcp"
    server_label: str
    name: str | None = None


class TracingConfig(ClientModel):
    workflow_name: str | None = None
    group_id: str | None = None
    metadata: dict[str, Any] | None = None


class TokenLimits(ClientModel):
    post_instructions: int | None = None


class RetentionRatioTruncation(ClientModel):
    type: Literal["retention_ratio"] = "retention_ratio"
    retention_ratio: float  # fraction of the context kept when it overflows
    token_limits: TokenLimits | None = None


class PromptRef(ClientModel):
    """A stored prompt template, by id."""

    id: str
    version: str | None = None
    variables: dict[str, Any] | None = None


class Reasoning(ClientModel):
    effort: Literal["minimal", "low", "medium", "high", "xhigh"] | None = None


if TYPE_CHECKING:
    Tool: TypeAlias = FunctionTool | McpTool | Unrecognized
else:
    Tool = open_union(FunctionTool, McpTool)
ToolChoice: TypeAlias = Literal["auto", "none", "required"] | ToolChoiceFunction | ToolChoiceMcp


class RealtimeSession(ClientModel):
    """``session`` of session.update / session.created / session.updated.

    Only the fields set are sent; the server keeps its current value for the rest.
    """

    type: Literal["realtime"] = "realtime"
    model: str | None = None
    instructions: str | None = None
    output_modalities: list[Literal["audio", "text"]] | None = None  # audio includes a transcript
    audio: AudioConfig | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    max_output_tokens: int | Literal["inf"] | None = None
    include: list[Literal["item.input_audio_transcription.logprobs"]] | None = None
    tracing: Literal["auto"] | TracingConfig | None = None  # cannot change once enabled
    truncation: Literal["auto", "disabled"] | RetentionRatioTruncation | None = None
    prompt: PromptRef | None = None
    reasoning: Reasoning | None = None
    _nullable: ClassVar[frozenset[str]] = frozenset({"tracing", "prompt"})


class TranscriptionSessionAudio(ClientModel):
    input: AudioInput | None = None


class TranscriptionSession(ClientModel):
    """A transcription-only session: input transcription events, no responses."""

    type: Literal["transcription"] = "transcription"
    audio: TranscriptionSessionAudio | None = None
    include: list[Literal["item.input_audio_transcription.logprobs"]] | None = None


Session: TypeAlias = Annotated[RealtimeSession | TranscriptionSession, Field(discriminator="type")]

# --------------------------------------------------------------------- items


class InputTextPart(ClientModel):
    type: Literal["input_text"] = "input_text"
    text: str


class InputAudioPart(ClientModel):
    type: Literal["input_audio"] = "input_audio"
    audio: str | None = None  # base64; the server omits it when echoing items
    transcript: str | None = None  # filled in by input transcription, if enabled


class InputImagePart(ClientModel):
    type: Literal["input_image"] = "input_image"
    image_url: str | None = None  # data: URL
    detail: Literal["auto", "low", "high"] | None = None


class OutputTextPart(ClientModel):
    type: Literal["output_text"] = "output_text"
    text: str | None = None


class OutputAudioPart(ClientModel):
    type: Literal["output_audio"] = "output_audio"
    audio: str | None = None
    transcript: str | None = None


class ItemBase(ClientModel):
    id: str | None = None  # client-chosen or server-assigned
    object: Literal["realtime.item"] | None = None  # set by the server
    status: Literal["completed", "incomplete", "in_progress"] | None = None


if TYPE_CHECKING:
    SystemContent: TypeAlias = InputTextPart | Unrecognized
    UserContent: TypeAlias = InputTextPart | InputAudioPart | InputImagePart | Unrecognized
    AssistantContent: TypeAlias = OutputTextPart | OutputAudioPart | Unrecognized
else:
    SystemContent = open_union(InputTextPart)
    UserContent = open_union(InputTextPart, InputAudioPart, InputImagePart)
    AssistantContent = open_union(OutputTextPart, OutputAudioPart)


class SystemMessageItem(ItemBase):
    type: Literal["message"] = "message"
    role: Literal["system"] = "system"
    content: list[SystemContent]


class UserMessageItem(ItemBase):
    type: Literal["message"] = "message"
    role: Literal["user"] = "user"
    content: list[UserContent]


class AssistantMessageItem(ItemBase):
    type: Literal["message"] = "message"
    role: Literal["assistant"] = "assistant"
    content: list[AssistantContent]


class FunctionCallItem(ItemBase):
    type: Literal["function_call"] = "function_call"
    name: str
    arguments: str  # JSON text
    call_id: str | None = None


class FunctionCallOutputItem(ItemBase):
    type: Literal["function_call_output"] = "function_call_output"
    call_id: str
    output: str  # free text; JSON by convention


class McpApprovalRequestItem(ClientModel):
    type: Literal["mcp_approval_request"] = "mcp_approval_request"
    id: str
    server_label: str
    name: str
    arguments: str


class McpApprovalResponseItem(ClientModel):
    type: Literal["mcp_approval_response"] = "mcp_approval_response"
    id: str
    approval_request_id: str
    approve: bool
    reason: str | None = None


class McpListToolsItem(ClientModel):
    type: Literal["mcp_list_tools"] = "mcp_list_tools"
    id: str | None = None
    server_label: str
    tools: list[dict[str, Any]]  # {name, input_schema, description?, annotations?}


class McpCallItem(ClientModel):
    type: Literal["mcp_call"] = "mcp_call"
    id: str
    server_label: str
    name: str
    arguments: str
    output: str | None = None
    error: dict[str, Any] | None = None  # {type: protocol_error | tool_execution_error | http_error, ...}
    approval_request_id: str | None = None


class ItemReference(ClientModel):
    """An existing conversation item, by id (in response.create ``input``)."""

    type: Literal["item_reference"] = "item_reference"
    id: str


_ITEMS = (
    SystemMessageItem, UserMessageItem, AssistantMessageItem, FunctionCallItem, FunctionCallOutputItem,
    McpApprovalRequestItem, McpApprovalResponseItem, McpListToolsItem, McpCallItem,
)  # fmt: skip
if TYPE_CHECKING:
    ConversationItem: TypeAlias = (
        SystemMessageItem | UserMessageItem | AssistantMessageItem | FunctionCallItem | FunctionCallOutputItem
        | McpApprovalRequestItem | McpApprovalResponseItem | McpListToolsItem | McpCallItem | Unrecognized
    )  # fmt: skip
    ResponseInputItem: TypeAlias = ConversationItem | ItemReference
else:
    ConversationItem = open_union(*_ITEMS, tag=item_tag)
    ResponseInputItem = open_union(*_ITEMS, ItemReference, tag=item_tag)
