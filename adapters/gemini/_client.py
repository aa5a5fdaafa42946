"""Models of the messages a client sends to the Gemini Live API.

Each top-level model (``Setup``, ``ClientContent``, ``RealtimeInput``,
``ToolResponse``) is the *payload* of one client message; ``WIRE_KEY`` is the
single top-level key it is wrapped in on the wire (see
``dump_client_message``). Enumerations are ``Literal`` types on this side so a
typo fails when the message is built, not as a server error mid-call.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, TypeAlias

from pydantic import Field, field_validator, model_validator

from ._wire import ClientModel, encode_base64

__all__ = [
    "ActivityEnd",
    "ActivityHandling",
    "ActivityStart",
    "AudioTranscriptionConfig",
    "AutomaticActivityDetection",
    "Blob",
    "ClientContent",
    "ClientMessage",
    "CodeExecution",
    "Content",
    "ContextWindowCompressionConfig",
    "EndSensitivity",
    "FunctionCallPart",
    "FunctionDeclaration",
    "FunctionResponse",
    "FunctionResponsePart",
    "GenerationConfig",
    "GoogleSearch",
    "Part",
    "PrebuiltVoiceConfig",
    "ProactivityConfig",
    "RealtimeInput",
    "RealtimeInputConfig",
    "SessionResumptionConfig",
    "Setup",
    "SlidingWindow",
    "SpeechConfig",
    "StartSensitivity",
    "ThinkingConfig",
    "Tool",
    "ToolResponse",
    "TurnCoverage",
    "VoiceConfig",
]

# A Live session produces exactly one output modality.
ResponseModality: TypeAlias = Literal["AUDIO", "TEXT"]
StartSensitivity: TypeAlias = Literal[
    "START_SENSITIVITY_UNSPECIFIED", "START_SENSITIVITY_HIGH", "START_SENSITIVITY_LOW"
]
EndSensitivity: TypeAlias = Literal[
    "END_SENSITIVITY_UNSPECIFIED", "END_SENSITIVITY_HIGH", "END_SENSITIVITY_LOW"
]
ActivityHandling: TypeAlias = Literal[
    "ACTIVITY_HANDLING_UNSPECIFIED", "START_OF_ACTIVITY_INTERRUPTS", "NO_INTERRUPTION"
]
TurnCoverage: TypeAlias = Literal[
    "TURN_COVERAGE_UNSPECIFIED",
    "TURN_INCLUDES_ONLY_ACTIVITY",
    "TURN_INCLUDES_ALL_INPUT",
    "TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO",
]
MediaResolution: TypeAlias = Literal[
    "MEDIA_RESOLUTION_UNSPECIFIED",
    "MEDIA_RESOLUTION_LOW",
    "MEDIA_RESOLUTION_MEDIUM",
    "MEDIA_RESOLUTION_HIGH",
]
# NON_BLOCKING lets the model keep talking while a tool runs; the matching
# FunctionResponse.scheduling then says how the result is delivered.
Behavior: TypeAlias = Literal["UNSPECIFIED", "BLOCKING", "NON_BLOCKING"]
Scheduling: TypeAlias = Literal["SCHEDULING_UNSPECIFIED", "SILENT", "WHEN_IDLE", "INTERRUPT"]
Role: TypeAlias = Literal["user", "model"]

# The Live API only accepts 16-bit little-endian mono PCM as audio input and
# reads the sample rate from the MIME type.
DEFAULT_INPUT_SAMPLE_RATE = 16_000


# --- content -------------------------------------------------------------


class Blob(ClientModel):
    """Inline media. ``data`` is base64 text, exactly as on the wire."""

    mime_type: str
    data: str

    @classmethod
    def from_bytes(cls, data: bytes, mime_type: str) -> Blob:
        return cls(mime_type=mime_type, data=encode_base64(data))

    @classmethod
    def pcm16(cls, pcm: bytes, sample_rate: int = DEFAULT_INPUT_SAMPLE_RATE) -> Blob:
        """Raw 16-bit little-endian mono PCM, labelled the way the API expects."""
        return cls.from_bytes(pcm, f"audio/pcm;rate={sample_rate}")


class FunctionCallPart(ClientModel):
    """A model turn's function call, as history: ``{id, name, args}``."""

    id: str | None = None
    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class FunctionResponsePart(ClientModel):
    """A user turn's function response, as history: ``{id, name, response}``."""

    id: str | None = None
    name: str
    response: dict[str, Any]


class Part(ClientModel):
    """One piece of a turn: text, inline media, a function call or a function response."""

    text: str | None = None
    inline_data: Blob | None = None
    function_call: FunctionCallPart | None = None
    function_response: FunctionResponsePart | None = None

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> Part:
        # Part is a oneof in the API; sending two kinds is rejected server-side.
        kinds = (self.text, self.inline_data, self.function_call, self.function_response)
        if sum(k is not None for k in kinds) != 1:
            raise ValueError("Part needs exactly one of text, inline_data, function_call, function_response")
        return self


class Content(ClientModel):
    role: Role | None = None
    parts: list[Part] = Field(min_length=1)

    @classmethod
    def from_text(cls, text: str, role: Role | None = None) -> Content:
        return cls(role=role, parts=[Part(text=text)])


# --- setup ---------------------------------------------------------------


class PrebuiltVoiceConfig(ClientModel):
    voice_name: str


class VoiceConfig(ClientModel):
    prebuilt_voice_config: PrebuiltVoiceConfig | None = None


class SpeechConfig(ClientModel):
    voice_config: VoiceConfig | None = None
    language_code: str | None = None  # BCP-47, e.g. "en-US"


class ThinkingConfig(ClientModel):
    thinking_budget: int | None = None
    include_thoughts: bool | None = None


class GenerationConfig(ClientModel):
    response_modalities: list[ResponseModality] | None = None
    speech_config: SpeechConfig | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_output_tokens: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    media_resolution: MediaResolution | None = None
    thinking_config: ThinkingConfig | None = None
    enable_affective_dialog: bool | None = None


class FunctionDeclaration(ClientModel):
    name: str
    description: str | None = None
    # OpenAPI-subset schema ("type": "OBJECT", ...). Kept as a plain dict: we
    # pass through whatever the tool author wrote rather than re-model Schema.
    parameters: dict[str, Any] | None = None
    # Alternative to `parameters`: standard JSON Schema.
    parameters_json_schema: dict[str, Any] | None = None
    behavior: Behavior | None = None

    @model_validator(mode="after")
    def _one_schema(self) -> FunctionDeclaration:
        # The API rejects a declaration carrying both schema forms.
        if self.parameters is not None and self.parameters_json_schema is not None:
            raise ValueError("set parameters or parameters_json_schema, not both")
        return self


class GoogleSearch(ClientModel):
    """Enables the built-in search tool; serialises as ``{}``."""


class CodeExecution(ClientModel):
    """Enables the built-in code execution tool; serialises as ``{}``."""


class Tool(ClientModel):
    function_declarations: list[FunctionDeclaration] | None = None
    google_search: GoogleSearch | None = None
    code_execution: CodeExecution | None = None


class AutomaticActivityDetection(ClientModel):
    """Server-side VAD. ``disabled=True`` means we send activityStart/End."""

    disabled: bool | None = None
    start_of_speech_sensitivity: StartSensitivity | None = None
    end_of_speech_sensitivity: EndSensitivity | None = None
    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None


class RealtimeInputConfig(ClientModel):
    automatic_activity_detection: AutomaticActivityDetection | None = None
    activity_handling: ActivityHandling | None = None
    turn_coverage: TurnCoverage | None = None


class AudioTranscriptionConfig(ClientModel):
    """Presence (``{}``) switches transcription on; it has no options."""


class SessionResumptionConfig(ClientModel):
    # None asks the server to start sending resumption handles for a new
    # session; a handle resumes the session it came from.
    handle: str | None = None


class SlidingWindow(ClientModel):
    target_tokens: int | None = None


class ContextWindowCompressionConfig(ClientModel):
    sliding_window: SlidingWindow | None = None
    trigger_tokens: int | None = None


class ProactivityConfig(ClientModel):
    # Lets native-audio models decide not to answer irrelevant input.
    proactive_audio: bool | None = None


class Setup(ClientModel):
    """First message of every session; the server answers ``setupComplete``."""

    WIRE_KEY: ClassVar[str] = "setup"

    model: str
    generation_config: GenerationConfig | None = None
    system_instruction: Content | None = None
    tools: list[Tool] | None = None
    realtime_input_config: RealtimeInputConfig | None = None
    input_audio_transcription: AudioTranscriptionConfig | None = None
    output_audio_transcription: AudioTranscriptionConfig | None = None
    session_resumption: SessionResumptionConfig | None = None
    context_window_compression: ContextWindowCompressionConfig | None = None
    proactivity: ProactivityConfig | None = None

    @field_validator("model")
    @classmethod
    def _resource_name(cls, value: str) -> str:
        # The API wants the resource name "models/<id>"; a bare id is the
        # usual way people write it, so qualify it (as google-genai does)
        # instead of letting the server close the socket on us.
        return value if "/" in value else f"models/{value}"


# --- messages after setup ------------------------------------------------


class ClientContent(ClientModel):
    """Ordered turns appended to the conversation (history or typed text).

    Unlike realtime input, this interrupts any current model generation.
    """

    WIRE_KEY: ClassVar[str] = "clientContent"

    turns: list[Content] | None = None
    turn_complete: bool | None = None


class ActivityStart(ClientModel):
    """Manual VAD: the user started speaking. Serialises as ``{}``."""


class ActivityEnd(ClientModel):
    """Manual VAD: the user stopped speaking. Serialises as ``{}``."""


class RealtimeInput(ClientModel):
    """Streaming input. Exactly one field per message."""

    WIRE_KEY: ClassVar[str] = "realtimeInput"

    audio: Blob | None = None
    video: Blob | None = None
    text: str | None = None
    activity_start: ActivityStart | None = None
    activity_end: ActivityEnd | None = None
    # Tells server VAD the mic was closed so it can flush pending audio.
    audio_stream_end: bool | None = None
    # Deprecated predecessor of audio/video; kept for older models.
    media_chunks: list[Blob] | None = None

    @model_validator(mode="after")
    def _exactly_one_field(self) -> RealtimeInput:
        # Realtime input is processed out of order relative to itself, so
        # google-genai refuses to combine fields in one message; so do we.
        set_fields = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(set_fields) != 1:
            raise ValueError(f"RealtimeInput needs exactly one field, got {set_fields or 'none'}")
        return self


class FunctionResponse(ClientModel):
    # The id from the server's FunctionCall; the Gemini API matches on it.
    id: str | None = None
    name: str
    response: dict[str, Any]
    will_continue: bool | None = None
    scheduling: Scheduling | None = None


class ToolResponse(ClientModel):
    WIRE_KEY: ClassVar[str] = "toolResponse"

    function_responses: list[FunctionResponse] = Field(min_length=1)


ClientMessage: TypeAlias = Setup | ClientContent | RealtimeInput | ToolResponse
