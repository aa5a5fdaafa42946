"""OpenAIRealtime: the provider's options, and what they become on the wire per dialect."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Literal, get_args
from urllib.parse import urlencode

from pydantic import Field, SecretStr, field_validator

from turnstile.machine import Capabilities, ChatContext, ProviderEvent, ToolSchema

from .._settings import (
    Connection,
    SecretHeaders,
    Settings,
    at_least,
    between,
    check_ws_url,
    keyword_names,
    parse_settings,
    redact_url,
    reject_unknown,
    secret_key,
)
from . import _beta as beta
from . import _ga as ga
from ._protocol import ClientEventModel, Dialect

if TYPE_CHECKING:
    from ._session import OpenAIRealtimeSession

__all__ = ["InputTranscription", "OpenAIRealtime", "SemanticVad", "ServerVad"]

DEFAULT_URL = "wss://api.openai.com/v1/realtime"

# The documented ranges (OpenAI's API reference, as the openai SDK's types carry them).
Milliseconds = Annotated[int, at_least(0)]
BETA_TEMPERATURE = (0.6, 1.2)  # "Sampling temperature for the model, limited to [0.6, 1.2]"
MAX_OUTPUT_TOKENS = 4096  # "an integer between 1 and 4096 ... or `inf`"
_NAME = Field(min_length=1)


class ServerVad(Settings):
    type: Literal["server_vad"] = "server_vad"
    threshold: Annotated[float, between(0, 1)] = 0.5
    """Activation threshold, 0.0 to 1.0: higher needs louder audio."""
    prefix_padding_ms: Milliseconds = 300
    silence_duration_ms: Milliseconds = 500
    create_response: bool = True
    interrupt_response: bool = True


class SemanticVad(Settings):
    type: Literal["semantic_vad"] = "semantic_vad"
    eagerness: Literal["low", "medium", "high", "auto"] = "auto"
    create_response: bool = True
    interrupt_response: bool = True


class InputTranscription(Settings):
    model: Annotated[str, _NAME] = "gpt-4o-mini-transcribe"
    language: str | None = None
    """ISO-639-1, e.g. ``en``."""
    prompt: str | None = None


class RealtimeOptions(Settings):
    """Everything a user sets on the session. ``turn_detection=None`` means manual turns."""

    model: Annotated[str, _NAME] = "gpt-realtime"
    voice: Annotated[str, _NAME] = "marin"
    instructions: str | None = None
    output_modalities: tuple[Literal["audio", "text"], ...] = ("audio",)
    turn_detection: Annotated[ServerVad | SemanticVad, Field(discriminator="type")] | None = Field(
        default_factory=ServerVad
    )
    agent_decides_turns: bool = False
    """True: the server's VAD still reports the caller's speech, but it neither answers a
    turn by itself nor cuts its own response when speech starts (``create_response`` and
    ``interrupt_response`` go as false, whatever ``turn_detection`` says). The agent then
    holds its playout over a cough, and asks for the answer once a real turn is committed."""
    input_transcription: InputTranscription | None = Field(default_factory=InputTranscription)
    noise_reduction: Literal["near_field", "far_field"] | None = None
    temperature: Annotated[float, between(*BETA_TEMPERATURE)] | None = None
    """Beta dialect only: the GA API has no temperature."""
    max_output_tokens: int | Literal["inf"] | None = None
    tool_choice: str = "auto"
    """``auto``, ``none``, ``required``, or the name of one function the model must call."""

    @field_validator("max_output_tokens", mode="before")
    @classmethod
    def _tokens(cls, value: object) -> object:
        if value is None or value == "inf" or _whole(value, 1, MAX_OUTPUT_TOKENS):
            return value
        raise ValueError(f"must be an integer between 1 and {MAX_OUTPUT_TOKENS}, or 'inf'")

    @field_validator("tool_choice", mode="before")
    @classmethod
    def _tool_choice(cls, value: object) -> object:
        if isinstance(value, str) and value.strip():
            return value
        raise ValueError("must be 'auto', 'none', 'required' or the name of a function")

    @field_validator("output_modalities")
    @classmethod
    def _one_each(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or len(set(value)) != len(value):
            raise ValueError("must name 'audio' or 'text' (or both in the beta dialect), each once")
        return value


def _whole(value: object, lo: int, hi: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


_DIALECTS: tuple[str, ...] = get_args(Dialect)


class OpenAIRealtime:
    """An OpenAI Realtime model as a Turnstile provider.

    ``dialect="ga"`` (default) speaks the GA API; ``"beta"`` the preview API still served
    by Azure OpenAI (pass ``azure_endpoint``, ``azure_deployment`` and ``api_version``).
    """

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
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
        known = [*RealtimeOptions.model_fields, *keyword_names(OpenAIRealtime.__init__)]
        reject_unknown("OpenAIRealtime", options, known)
        if dialect not in _DIALECTS:
            raise ValueError(f"OpenAIRealtime: dialect={dialect!r}: must be one of {', '.join(map(repr, _DIALECTS))}")
        for name, value in (("url", url), ("azure_endpoint", azure_endpoint)):
            if value is not None:
                check_ws_url("OpenAIRealtime", name, value)
        env = "AZURE_OPENAI_API_KEY" if azure_endpoint else "OPENAI_API_KEY"
        key = api_key or os.environ.get(env)
        if not key:
            raise ValueError(f"no OpenAI API key: pass api_key=... or set {env}")
        # A SecretStr, not a str: the key stays masked in vars(), reprs and JSON dumps.
        self._api_key = secret_key(key, "api_key" if api_key else env)
        self.options = parse_settings("OpenAIRealtime", RealtimeOptions, options)
        self.dialect: Dialect = "beta" if azure_endpoint else dialect
        self._check_dialect_options()
        connection = parse_settings(
            "OpenAIRealtime",
            Connection,
            {"max_retries": max_retries, "backoff_base_s": backoff_base_s,
             "backoff_max_s": backoff_max_s, "connect_timeout_s": connect_timeout_s},
        )
        self.azure = azure_endpoint is not None
        self.url = self._url(url, azure_endpoint, azure_deployment, api_version)
        self.max_retries = connection.max_retries
        self.backoff_base_s = connection.backoff_base_s
        self.backoff_max_s = connection.backoff_max_s
        self.connect_timeout_s = connection.connect_timeout_s
        self.sessions: list[OpenAIRealtimeSession] = []

    def _check_dialect_options(self) -> None:
        o = self.options
        if self.dialect == "ga" and o.temperature is not None:
            raise ValueError(
                "OpenAIRealtime: temperature is a beta-dialect setting (the GA Realtime API has no "
                "temperature): drop it, or pass dialect='beta'"
            )
        if self.dialect == "ga" and len(o.output_modalities) > 1:
            raise ValueError(
                f"OpenAIRealtime: output_modalities={o.output_modalities!r}: the GA API takes "
                "('audio',) or ('text',), not both"
            )

    def __repr__(self) -> str:  # never the key
        return f"OpenAIRealtime(model={self.options.model!r}, dialect={self.dialect!r}, url={redact_url(self.url)!r})"

    @property
    def turn_detection(self) -> ServerVad | SemanticVad | None:
        """``turn_detection`` as it goes on the wire: with ``agent_decides_turns``, the
        server neither answers turns nor interrupts its responses."""
        td = self.options.turn_detection
        if td is None or not self.options.agent_decides_turns:
            return td
        return td.model_copy(update={"create_response": False, "interrupt_response": False})

    @property
    def capabilities(self) -> Capabilities:
        td = self.turn_detection
        return Capabilities(
            supports_truncate=True,
            input_sample_rate=24000,
            output_sample_rate=24000,
            server_turn_detection=td is not None,
            replies_to_turns=td is not None and td.create_response,
            # Without VAD (manual turns) no speech event comes to hold on: only the agent's
            # own start_user_turn stops it, and that is a barge-in.
            holds_playout=td is not None and not td.interrupt_response,
            # Server VAD reports speech with its padding before and its silence after; the
            # semantic VAD's wait depends on what was said, so there is nothing to subtract.
            speech_padding_ms=td.prefix_padding_ms if isinstance(td, ServerVad) else 0,
            speech_stop_delay_ms=td.silence_duration_ms if isinstance(td, ServerVad) else 0,
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
                raise ValueError("OpenAIRealtime: azure_deployment is required with azure_endpoint")
            base = endpoint.rstrip("/").replace("https://", "wss://").replace("http://", "ws://")
            query = urlencode({"api-version": api_version, "deployment": deployment})
            return f"{base}/openai/realtime?{query}"
        base = url or DEFAULT_URL
        sep = "&" if "?" in base else "?"
        return base if "model=" in base else f"{base}{sep}{urlencode({'model': self.options.model})}"

    def headers(self) -> dict[str, str]:
        key = self._api_key.get_secret_value()
        if self.azure:
            return SecretHeaders({"api-key": key})
        headers = SecretHeaders({"Authorization": f"Bearer {key}"})
        if self.dialect == "beta":
            headers["OpenAI-Beta"] = "realtime=v1"
        return headers

    def session_update(self, tools: Sequence[ToolSchema]) -> ClientEventModel:
        o = self.options
        fn_tools = [
            ga.FunctionTool(name=t.name, description=t.description, parameters=t.parameters)
            for t in tools
        ]
        td = self.turn_detection
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
                    turn_detection=beta.BetaTurnDetection(**td.model_dump()) if td else None,
                    tools=fn_tools,
                    tool_choice=o.tool_choice,
                    temperature=o.temperature,
                    max_response_output_tokens=o.max_output_tokens,
                )
            )
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
                tools=[*fn_tools],  # a list of the union GA takes (list is invariant)
                tool_choice=o.tool_choice,  # type: ignore[arg-type]
                max_output_tokens=o.max_output_tokens,
            )
        )
