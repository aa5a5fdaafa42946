"""GeminiLive: the provider's options, and the ``setup`` message they become."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, SecretStr

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
from ._protocol import (
    AudioTranscriptionConfig,
    AutomaticActivityDetection,
    Content,
    ContextWindowCompressionConfig,
    FunctionDeclaration,
    GenerationConfig,
    PrebuiltVoiceConfig,
    RealtimeInputConfig,
    SessionResumptionConfig,
    Setup,
    SlidingWindow,
    SpeechConfig,
    Tool,
    VoiceConfig,
)

if TYPE_CHECKING:
    from ._session import GeminiLiveSession

__all__ = ["GeminiLive", "LiveOptions"]

GEMINI_PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
VERTEX_PATH = "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent"


# The Gemini API's documented ranges: temperature "from 0.0 to 2.0 inclusive"; token
# counts and durations are counts (a zero token budget or a negative duration means nothing).
Milliseconds = Annotated[int, at_least(0)]
Tokens = Annotated[int, at_least(1)]
_LOCATION = re.compile(r"[a-z0-9-]+")  # it becomes part of a host name


class LiveOptions(Settings):
    model: Annotated[str, Field(min_length=1)] = "gemini-2.5-flash-native-audio-preview-09-2025"
    voice: Annotated[str, Field(min_length=1)] = "Puck"
    language_code: str | None = None
    instructions: str | None = None
    temperature: Annotated[float, between(0, 2)] | None = None
    max_output_tokens: Tokens | None = None
    automatic_activity_detection: bool = True
    """False: the agent delimits turns with activityStart / activityEnd (manual turns)."""
    activity_handling: Literal["START_OF_ACTIVITY_INTERRUPTS", "NO_INTERRUPTION"] | None = None
    """``NO_INTERRUPTION``: the model keeps generating while the caller talks (overlap), so
    the agent decides whether to stop: it holds its playout on the server's ``voiceActivity``
    (on models that send it), then plays on over a cough or gives way to real words. Unset
    is the service's default, ``START_OF_ACTIVITY_INTERRUPTS`` (the model's response is cut
    off when the caller's activity starts)."""
    start_of_speech_sensitivity: Literal["START_SENSITIVITY_HIGH", "START_SENSITIVITY_LOW"] | None = None
    end_of_speech_sensitivity: Literal["END_SENSITIVITY_HIGH", "END_SENSITIVITY_LOW"] | None = None
    prefix_padding_ms: Milliseconds | None = None
    silence_duration_ms: Milliseconds | None = None
    """With ``NO_INTERRUPTION``, set it: a hold waits this silence out before it confirms a
    barge-in by duration (the service's own default is not documented, so unset counts as 0
    and a short mm-hmm followed by a long silence is taken for real speech)."""
    input_transcription: bool = True
    output_transcription: bool = True
    """The agent's transcript comes from here: it is what gets cut at the heard words."""
    session_resumption: bool = True
    context_window_target_tokens: Tokens | None = None
    """Set to turn on sliding-window context compression."""


def _check_place(url: str | None, vertex_project: str | None, vertex_location: str) -> None:
    if url is not None:
        check_ws_url("GeminiLive", "url", url)
    if vertex_project is not None and not (isinstance(vertex_project, str) and vertex_project.strip()):
        raise ValueError(f"GeminiLive: vertex_project={vertex_project!r}: must be a project id")
    if not (isinstance(vertex_location, str) and _LOCATION.fullmatch(vertex_location)):
        raise ValueError(f"GeminiLive: vertex_location={vertex_location!r}: must be a region such as 'us-central1'")


class GeminiLive:
    """A Gemini Live model as a Turnstile provider (the Gemini API, or Vertex AI)."""

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        url: str | None = None,
        vertex_project: str | None = None,
        vertex_location: str = "us-central1",
        max_retries: int = 5,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 10.0,
        connect_timeout_s: float = 10.0,
        **options: object,
    ) -> None:
        reject_unknown("GeminiLive", options, [*LiveOptions.model_fields, *keyword_names(GeminiLive.__init__)])
        _check_place(url, vertex_project, vertex_location)
        env = "GOOGLE_API_KEY" if os.environ.get("GOOGLE_API_KEY") else "GEMINI_API_KEY"
        key = api_key or os.environ.get(env)
        if not key:
            what = "an access token" if vertex_project else "an API key"
            raise ValueError(f"no Gemini credentials: pass api_key=... ({what}) or set GOOGLE_API_KEY")
        # A SecretStr, not a str: the key stays masked in vars(), reprs and JSON dumps.
        self._key = secret_key(key, "api_key" if api_key else env)
        self.options = parse_settings("GeminiLive", LiveOptions, options)
        connection = parse_settings(
            "GeminiLive",
            Connection,
            {"max_retries": max_retries, "backoff_base_s": backoff_base_s,
             "backoff_max_s": backoff_max_s, "connect_timeout_s": connect_timeout_s},
        )
        self.vertex_project = vertex_project
        self.vertex_location = vertex_location
        if url is not None:
            self.url = url
        elif vertex_project is not None:
            self.url = f"wss://{vertex_location}-aiplatform.googleapis.com{VERTEX_PATH}"
        else:
            self.url = f"wss://generativelanguage.googleapis.com{GEMINI_PATH}"
        self.max_retries = connection.max_retries
        self.backoff_base_s = connection.backoff_base_s
        self.backoff_max_s = connection.backoff_max_s
        self.connect_timeout_s = connection.connect_timeout_s
        self.sessions: list[GeminiLiveSession] = []

    def __repr__(self) -> str:  # never the key
        return f"GeminiLive(model={self.options.model!r}, url={redact_url(self.url)!r})"

    @property
    def capabilities(self) -> Capabilities:
        auto = self.options.automatic_activity_detection
        overlap = self.options.activity_handling == "NO_INTERRUPTION"
        return Capabilities(
            supports_truncate=False,  # no truncate and no cancel: the server interrupts itself
            input_sample_rate=16000,
            output_sample_rate=24000,
            server_turn_detection=auto,
            replies_to_turns=True,
            # By default the server cuts its answer when the user's activity starts (and
            # says so with ``interrupted``); with NO_INTERRUPTION it keeps generating, and
            # the agent decides from the voiceActivity it reports (holding first).
            server_interrupts=not overlap,
            holds_playout=overlap,
            # ACTIVITY_END comes once the silence that ends the activity has passed; the
            # service's default for it is not documented, so only a silence set is known.
            speech_stop_delay_ms=(self.options.silence_duration_ms or 0) if auto else 0,
        )

    def session(
        self,
        *,
        chat_ctx: ChatContext,
        tools: Sequence[ToolSchema],
        on_event: Callable[[ProviderEvent], None],
    ) -> GeminiLiveSession:
        from ._session import GeminiLiveSession

        session = GeminiLiveSession(self, chat_ctx, list(tools), on_event)
        self.sessions.append(session)
        return session

    def headers(self) -> dict[str, str]:
        # A header, not the ``key`` query parameter: URLs end up in logs, headers do not.
        key = self._key.get_secret_value()
        if self.vertex_project is not None:
            return SecretHeaders({"Authorization": f"Bearer {key}"})
        return SecretHeaders({"x-goog-api-key": key})

    @property
    def model_path(self) -> str:
        m = self.options.model
        if self.vertex_project is not None:
            return f"projects/{self.vertex_project}/locations/{self.vertex_location}/publishers/google/models/{m}"
        return m if m.startswith("models/") else f"models/{m}"

    def setup(self, tools: Sequence[ToolSchema], resumption_handle: str | None) -> Setup:
        o = self.options
        aad = None
        if not o.automatic_activity_detection:
            aad = AutomaticActivityDetection(disabled=True)
        elif any(v is not None for v in (o.start_of_speech_sensitivity, o.end_of_speech_sensitivity,
                                          o.prefix_padding_ms, o.silence_duration_ms)):
            aad = AutomaticActivityDetection(
                start_of_speech_sensitivity=o.start_of_speech_sensitivity,
                end_of_speech_sensitivity=o.end_of_speech_sensitivity,
                prefix_padding_ms=o.prefix_padding_ms,
                silence_duration_ms=o.silence_duration_ms,
            )
        return Setup(
            model=self.model_path,
            generation_config=GenerationConfig(
                response_modalities=["AUDIO"],
                speech_config=SpeechConfig(
                    voice_config=VoiceConfig(prebuilt_voice_config=PrebuiltVoiceConfig(voice_name=o.voice)),
                    language_code=o.language_code,
                ),
                temperature=o.temperature,
                max_output_tokens=o.max_output_tokens,
            ),
            system_instruction=Content.from_text(o.instructions) if o.instructions else None,
            tools=[
                Tool(
                    function_declarations=[
                        FunctionDeclaration(name=t.name, description=t.description, parameters_json_schema=t.parameters)
                        for t in tools
                    ]
                )
            ]
            if tools
            else None,
            realtime_input_config=RealtimeInputConfig(
                automatic_activity_detection=aad, activity_handling=o.activity_handling
            )
            if aad or o.activity_handling
            else None,
            input_audio_transcription=AudioTranscriptionConfig() if o.input_transcription else None,
            output_audio_transcription=AudioTranscriptionConfig() if o.output_transcription else None,
            session_resumption=SessionResumptionConfig(handle=resumption_handle) if o.session_resumption else None,
            context_window_compression=ContextWindowCompressionConfig(
                sliding_window=SlidingWindow(target_tokens=o.context_window_target_tokens)
            )
            if o.context_window_target_tokens
            else None,
        )
