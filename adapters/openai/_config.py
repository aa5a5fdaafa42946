"""OpenAIRealtime: the provider's options, and what they become on the wire per dialect."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field

from turnstile.machine import Capabilities, ChatContext, ProviderEvent, ToolSchema

from . import _beta as beta
from . import _ga as ga
from ._protocol import ClientEventModel, Dialect

if TYPE_CHECKING:
    from ._session import OpenAIRealtimeSession

__all__ = ["InputTranscription", "OpenAIRealtime", "SemanticVad", "ServerVad"]

DEFAULT_URL = "wss://api.openai.com/v1/realtime"


class ServerVad(BaseModel):
    model_config = ConfigDict(frozen=True)
    type: Literal["server_vad"] = "server_vad"
    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    create_response: bool = True
    interrupt_response: bool = True


class SemanticVad(BaseModel):
    model_config = ConfigDict(frozen=True)
    type: Literal["semantic_vad"] = "semantic_vad"
    eagerness: Literal["low", "medium", "high", "auto"] = "auto"
    create_response: bool = True
    interrupt_response: bool = True


class InputTranscription(BaseModel):
    model_config = ConfigDict(frozen=True)
    model: str = "gpt-4o-mini-transcribe"
    language: str | None = None
    prompt: str | None = None


class RealtimeOptions(BaseModel):
    """Everything a user sets on the session. ``turn_detection=None`` means manual turns."""

    model_config = ConfigDict(frozen=True)

    model: str = "gpt-realtime"
    voice: str = "marin"
    instructions: str | None = None
    output_modalities: tuple[Literal["audio", "text"], ...] = ("audio",)
    turn_detection: ServerVad | SemanticVad | None = Field(default_factory=ServerVad)
    input_transcription: InputTranscription | None = Field(default_factory=InputTranscription)
    noise_reduction: Literal["near_field", "far_field"] | None = None
    temperature: float | None = None
    """Beta dialect only: the GA API has no temperature."""
    max_output_tokens: int | Literal["inf"] | None = None
    tool_choice: Literal["auto", "none", "required"] | str = "auto"


class OpenAIRealtime:
    """An OpenAI Realtime model as a Turnstile provider.

    ``dialect="ga"`` (default) speaks the GA API; ``"beta"`` the preview API still served
    by Azure OpenAI (pass ``azure_endpoint``, ``azure_deployment`` and ``api_version``).
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        url: str | None = None,
        dialect: Dialect = "ga",
        azure_endpoint: str | None = None,
        azure_deployment: str | None = None,
        api_version: str = "2025-04-01-preview",
        max_retries: int = 5,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 10.0,
        connect_timeout_s: float = 10.0,
        **options: object,
    ) -> None:
        key = api_key or os.environ.get("AZURE_OPENAI_API_KEY" if azure_endpoint else "OPENAI_API_KEY")
        if not key:
            env = "AZURE_OPENAI_API_KEY" if azure_endpoint else "OPENAI_API_KEY"
            raise ValueError(f"no OpenAI API key: pass api_key=... or set {env}")
        self._api_key = key
        self.options = RealtimeOptions.model_validate(options)
        self.dialect: Dialect = "beta" if azure_endpoint else dialect
        self.azure = azure_endpoint is not None
        self.url = self._url(url, azure_endpoint, azure_deployment, api_version)
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.connect_timeout_s = connect_timeout_s
        self.sessions: list[OpenAIRealtimeSession] = []

    def __repr__(self) -> str:  # never the key
        return f"OpenAIRealtime(model={self.options.model!r}, dialect={self.dialect!r}, url={self.url!r})"

    @property
    def capabilities(self) -> Capabilities:
        td = self.options.turn_detection
        return Capabilities(
            supports_truncate=True,
            input_sample_rate=24000,
            output_sample_rate=24000,
            server_turn_detection=td is not None,
            replies_to_turns=td is not None and td.create_response,
        )

    def session(
        self,
        *,
        chat_ctx: ChatContext,
        tools: Sequence[ToolSchema],
        on_event: Callable[[ProviderEvent], None],
    ) -> OpenAIRealtimeSession:
        from ._session import OpenAIRealtimeSession

        session = OpenAIRealtimeSession(self, chat_ctx, list(tools), on_event)
        self.sessions.append(session)
        return session

    # Wire -----------------------------------------------------------------------------
    def _url(
        self, url: str | None, endpoint: str | None, deployment: str | None, api_version: str
    ) -> str:
        if endpoint is not None:
            if not deployment:
                raise ValueError("azure_deployment is required with azure_endpoint")
            base = endpoint.rstrip("/").replace("https://", "wss://").replace("http://", "ws://")
            query = urlencode({"api-version": api_version, "deployment": deployment})
            return f"{base}/openai/realtime?{query}"
        base = url or DEFAULT_URL
        sep = "&" if "?" in base else "?"
        return base if "model=" in base else f"{base}{sep}{urlencode({'model': self.options.model})}"

    def headers(self) -> dict[str, str]:
        if self.azure:
            return {"api-key": self._api_key}
        headers = {"Authorization": f"Bearer {self._api_key}"}
        if self.dialect == "beta":
            headers["OpenAI-Beta"] = "realtime=v1"
        return headers

    def session_update(self, tools: Sequence[ToolSchema]) -> ClientEventModel:
        o = self.options
        fn_tools = [
            ga.FunctionTool(name=t.name, description=t.description, parameters=t.parameters)
            for t in tools
        ]
        if self.dialect == "beta":
            return beta.BetaSessionUpdate(
                session=beta.BetaSession(
                    modalities=sorted({"text", *o.output_modalities}),  # beta: audio needs text
                    instructions=o.instructions,
                    voice=o.voice,
                    input_audio_format="pcm16",
                    output_audio_format="pcm16",
                    input_audio_transcription=beta.BetaInputAudioTranscription(
                        **o.input_transcription.model_dump()
                    )
                    if o.input_transcription
                    else None,
                    input_audio_noise_reduction=beta.BetaNoiseReduction(type=o.noise_reduction)
                    if o.noise_reduction
                    else None,
                    turn_detection=beta.BetaTurnDetection(**o.turn_detection.model_dump())
                    if o.turn_detection
                    else None,
                    tools=fn_tools,
                    tool_choice=o.tool_choice,
                    temperature=o.temperature,
                    max_response_output_tokens=o.max_output_tokens,
                )
            )
        td = o.turn_detection
        return ga.SessionUpdate(
            session=ga.RealtimeSession(
                model=o.model,
                instructions=o.instructions,
                output_modalities=list(o.output_modalities),
                audio=ga.AudioConfig(
                    input=ga.AudioInput(
                        format=ga.AudioFormatPCM(),
                        transcription=ga.AudioTranscription(**o.input_transcription.model_dump())
                        if o.input_transcription
                        else None,
                        noise_reduction=ga.NoiseReduction(type=o.noise_reduction)
                        if o.noise_reduction
                        else None,
                        turn_detection=(
                            ga.ServerVad(**td.model_dump())
                            if isinstance(td, ServerVad)
                            else ga.SemanticVad(**td.model_dump())
                            if td
                            else None
                        ),
                    ),
                    output=ga.AudioOutput(format=ga.AudioFormatPCM(), voice=o.voice),
                ),
                tools=fn_tools,
                tool_choice=o.tool_choice,  # type: ignore[arg-type]
                max_output_tokens=o.max_output_tokens,
            )
        )
