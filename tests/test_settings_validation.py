"""Bad settings fail at construction, with one line naming the setting, the value given
and what is accepted; misspelt names get a "did you mean"; valid edge values still pass.

The ranges are the providers' documented ones: OpenAI's VAD threshold 0..1, beta
temperature 0.6..1.2 (the GA API has none), max output tokens 1..4096 or "inf"; Gemini's
temperature 0..2 inclusive.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from turnstile.adapters.gemini import GeminiLive
from turnstile.adapters.openai import InputTranscription, OpenAIRealtime, SemanticVad, ServerVad
from turnstile.machine import Capabilities

Factory = Callable[..., object]


def openai(**kw: Any) -> OpenAIRealtime:
    return OpenAIRealtime(api_key="sk-test", **kw)


def beta(**kw: Any) -> OpenAIRealtime:
    return OpenAIRealtime(api_key="sk-test", dialect="beta", **kw)


def gemini(**kw: Any) -> GeminiLive:
    return GeminiLive(api_key="g-test", **kw)


def refused(make: Factory, kw: dict[str, Any], error: type[Exception] = ValueError) -> str:
    with pytest.raises(error) as info:
        make(**kw)
    message = str(info.value)
    assert "\n" not in message, message  # one line, not pydantic's report
    return message


@pytest.mark.parametrize(
    ("make", "typo", "meant"),
    [
        (openai, "voise", "voice"),
        (openai, "max_retry", "max_retries"),
        (openai, "turn_detecton", "turn_detection"),
        (openai, "conect_timeout_s", "connect_timeout_s"),
        (gemini, "voise", "voice"),
        (gemini, "silence_duration", "silence_duration_ms"),
        (gemini, "vertex_projet", "vertex_project"),
    ],
)
def test_an_unknown_keyword_is_refused_with_a_hint(make: Factory, typo: str, meant: str) -> None:
    message = refused(make, {typo: 1}, TypeError)
    assert f"unexpected keyword argument {typo!r}" in message
    assert f"did you mean {meant!r}?" in message


def test_a_name_like_nothing_known_lists_what_is() -> None:
    message = refused(openai, {"zzz": 1}, TypeError)
    assert "'zzz'" in message and "voice" in message and "max_retries" in message


# (factory, kwargs, the setting named, what the message says is accepted)
BAD: list[tuple[Factory, dict[str, Any], str, str]] = [
    # the connection, both providers
    (openai, {"max_retries": -1}, "max_retries=-1", "at least 0"),
    (openai, {"max_retries": math.nan}, "max_retries=nan", "finite"),
    (openai, {"backoff_base_s": -0.5}, "backoff_base_s=-0.5", "at least 0"),
    (openai, {"backoff_base_s": math.nan}, "backoff_base_s=nan", "finite"),
    (openai, {"backoff_max_s": math.inf}, "backoff_max_s=inf", "finite"),
    (openai, {"backoff_base_s": 5, "backoff_max_s": 1}, "backoff_max_s (1)", "below backoff_base_s (5)"),
    (openai, {"connect_timeout_s": 0}, "connect_timeout_s=0", "greater than 0"),
    (openai, {"connect_timeout_s": -3}, "connect_timeout_s=-3", "greater than 0"),
    (openai, {"connect_timeout_s": math.inf}, "connect_timeout_s=inf", "finite"),
    (gemini, {"max_retries": -2}, "max_retries=-2", "at least 0"),
    (gemini, {"backoff_max_s": math.nan}, "backoff_max_s=nan", "finite"),
    (gemini, {"connect_timeout_s": 0}, "connect_timeout_s=0", "greater than 0"),
    # OpenAI's options
    (openai, {"dialect": "v2"}, "dialect='v2'", "'ga', 'beta'"),
    (openai, {"temperature": 0.8}, "temperature", "GA Realtime API has no temperature"),
    (beta, {"temperature": 99}, "temperature=99", "between 0.6 and 1.2"),
    (beta, {"temperature": 0.5}, "temperature=0.5", "between 0.6 and 1.2"),
    (beta, {"temperature": math.nan}, "temperature=nan", "finite"),
    (openai, {"max_output_tokens": -5}, "max_output_tokens=-5", "between 1 and 4096, or 'inf'"),
    (openai, {"max_output_tokens": 0}, "max_output_tokens=0", "between 1 and 4096, or 'inf'"),
    (openai, {"max_output_tokens": 4097}, "max_output_tokens=4097", "between 1 and 4096, or 'inf'"),
    (openai, {"max_output_tokens": "infinite"}, "max_output_tokens='infinite'", "or 'inf'"),
    (openai, {"output_modalities": ()}, "output_modalities=()", "'audio' or 'text'"),
    (openai, {"output_modalities": ("audio", "text")}, "output_modalities", "not both"),
    (openai, {"noise_reduction": "near"}, "noise_reduction='near'", "'near_field' or 'far_field'"),
    (openai, {"tool_choice": ""}, "tool_choice=''", "'auto', 'none', 'required' or the name"),
    (openai, {"voice": ""}, "voice=''", "at least 1 character"),
    (openai, {"model": ""}, "model=''", "at least 1 character"),
    (openai, {"url": "localhost:8080"}, "url='localhost:8080'", "expected wss://"),
    (openai, {"azure_endpoint": "res.openai.azure.com", "azure_deployment": "d"}, "azure_endpoint=", "expected wss://"),
    (openai, {"azure_endpoint": "https://res.openai.azure.com"}, "azure_deployment", "required"),
    # OpenAI's nested options, given as dicts
    (openai, {"turn_detection": {"type": "server_vad", "threshold": 7}}, "turn_detection.server_vad.threshold=7",
     "between 0 and 1"),
    (openai, {"turn_detection": {"type": "server_vad", "silence_duration_ms": -1}},
     "turn_detection.server_vad.silence_duration_ms=-1", "at least 0"),
    (openai, {"turn_detection": {"type": "server_vad", "prefix_padding_ms": -300}},
     "turn_detection.server_vad.prefix_padding_ms=-300", "at least 0"),
    (openai, {"turn_detection": {"type": "semantic_vad", "eagerness": "max"}},
     "turn_detection.semantic_vad.eagerness='max'", "'low', 'medium', 'high' or 'auto'"),
    (openai, {"turn_detection": {"type": "vad"}}, "turn_detection=", "'server_vad', 'semantic_vad'"),
    (openai, {"input_transcription": {"lang": "en"}}, "input_transcription", "did you mean 'language'?"),
    # Gemini's options, its activity detection included
    (gemini, {"temperature": 99}, "temperature=99", "between 0 and 2"),
    (gemini, {"temperature": -0.1}, "temperature=-0.1", "between 0 and 2"),
    (gemini, {"temperature": math.inf}, "temperature=inf", "finite"),
    (gemini, {"max_output_tokens": -5}, "max_output_tokens=-5", "at least 1"),
    (gemini, {"max_output_tokens": 0}, "max_output_tokens=0", "at least 1"),
    (gemini, {"prefix_padding_ms": -1}, "prefix_padding_ms=-1", "at least 0"),
    (gemini, {"silence_duration_ms": -500}, "silence_duration_ms=-500", "at least 0"),
    (gemini, {"context_window_target_tokens": 0}, "context_window_target_tokens=0", "at least 1"),
    (gemini, {"start_of_speech_sensitivity": "HIGH"}, "start_of_speech_sensitivity='HIGH'",
     "'START_SENSITIVITY_HIGH' or 'START_SENSITIVITY_LOW'"),
    (gemini, {"end_of_speech_sensitivity": "LOW"}, "end_of_speech_sensitivity='LOW'",
     "'END_SENSITIVITY_HIGH' or 'END_SENSITIVITY_LOW'"),
    (gemini, {"automatic_activity_detection": "maybe"}, "automatic_activity_detection='maybe'", "boolean"),
    (gemini, {"voice": ""}, "voice=''", "at least 1 character"),
    (gemini, {"url": "generativelanguage.googleapis.com"}, "url=", "expected wss://"),
    (gemini, {"vertex_location": "us central1"}, "vertex_location='us central1'", "a region"),
    (gemini, {"vertex_project": " "}, "vertex_project=' '", "a project id"),
]


@pytest.mark.parametrize(("make", "kw", "setting", "accepted"), BAD, ids=[f"{m.__name__}-{k}" for m, k, _, _ in BAD])
def test_a_bad_setting_is_refused_naming_it_and_what_it_accepts(
    make: Factory, kw: dict[str, Any], setting: str, accepted: str
) -> None:
    message = refused(make, kw)
    owner = "GeminiLive" if make is gemini else "OpenAIRealtime"
    assert message.startswith(owner), message
    assert setting in message and accepted in message, message


def test_every_bad_setting_is_reported_at_once() -> None:
    message = refused(openai, {"max_retries": -1, "backoff_base_s": -1, "connect_timeout_s": 0})
    assert "max_retries=-1" in message and "backoff_base_s=-1" in message and "connect_timeout_s=0" in message


@pytest.mark.parametrize(
    ("build", "setting", "accepted"),
    [
        (lambda: ServerVad(threshold=7), "ServerVad: threshold=7", "between 0 and 1"),
        (lambda: ServerVad(threshold=-0.1), "threshold=-0.1", "between 0 and 1"),
        (lambda: ServerVad(threshold=math.nan), "threshold=nan", "finite"),
        (lambda: ServerVad(prefix_padding_ms=-1), "prefix_padding_ms=-1", "at least 0"),
        (lambda: ServerVad(silence_duration_ms=-1), "silence_duration_ms=-1", "at least 0"),
        (lambda: ServerVad(treshold=0.5), "unexpected keyword argument 'treshold'", "did you mean 'threshold'?"),
        (lambda: SemanticVad(eagerness="max"), "SemanticVad: eagerness='max'", "'low', 'medium', 'high' or 'auto'"),
        (lambda: SemanticVad(threshold=0.5), "SemanticVad: unexpected keyword argument 'threshold'", "known:"),
        (lambda: InputTranscription(model=""), "InputTranscription: model=''", "at least 1 character"),
        (lambda: InputTranscription(lang="en"), "'lang'", "did you mean 'language'?"),
    ],
)
def test_nested_options_built_by_hand_are_checked_too(
    build: Callable[[], object], setting: str, accepted: str
) -> None:
    with pytest.raises(ValueError) as info:
        build()
    message = str(info.value)
    assert "\n" not in message and setting in message and accepted in message, message


@pytest.mark.parametrize(
    ("make", "kw"),
    [
        (openai, {"turn_detection": {"type": "server_vad", "threshold": 0.0, "prefix_padding_ms": 0,
                                     "silence_duration_ms": 0}}),
        (openai, {"turn_detection": {"type": "server_vad", "threshold": 1.0}}),
        (openai, {"turn_detection": {"type": "semantic_vad", "eagerness": "high"}}),
        (openai, {"turn_detection": None, "input_transcription": None}),
        (openai, {"max_output_tokens": 1}),
        (openai, {"max_output_tokens": 4096}),
        (openai, {"max_output_tokens": "inf"}),
        (openai, {"tool_choice": "get_weather"}),
        (openai, {"output_modalities": ("text",)}),
        (openai, {"max_retries": 0, "backoff_base_s": 0, "backoff_max_s": 0, "connect_timeout_s": 0.001}),
        (beta, {"temperature": 0.6, "output_modalities": ("audio", "text")}),
        (beta, {"temperature": 1.2}),
        (gemini, {"temperature": 0}),
        (gemini, {"temperature": 2}),
        (gemini, {"max_output_tokens": 1, "prefix_padding_ms": 0, "silence_duration_ms": 0}),
        (gemini, {"start_of_speech_sensitivity": "START_SENSITIVITY_LOW",
                  "end_of_speech_sensitivity": "END_SENSITIVITY_HIGH"}),
        (gemini, {"vertex_project": "proj", "vertex_location": "europe-west4"}),
    ],
)
def test_valid_edge_values_are_accepted(make: Factory, kw: dict[str, Any]) -> None:
    provider: Any = make(**kw)
    for name, given in kw.items():
        is_option = name in type(provider.options).model_fields
        held = getattr(provider.options if is_option else provider, name)
        if isinstance(given, dict):
            assert held.model_dump().items() >= given.items(), (name, held)
        else:
            assert held == given, (name, held)


def test_the_validated_values_are_what_the_sessions_get() -> None:
    o = openai(max_retries=2, backoff_base_s=0.25, backoff_max_s=4, connect_timeout_s=2.5)
    assert (o.max_retries, o.backoff_base_s, o.backoff_max_s, o.connect_timeout_s) == (2, 0.25, 4.0, 2.5)
    g = gemini(max_retries=3, connect_timeout_s=1.5)
    assert (g.max_retries, g.connect_timeout_s) == (3, 1.5)


def test_gemini_has_a_connect_timeout_like_openai() -> None:
    assert gemini().connect_timeout_s == openai().connect_timeout_s == 10.0


@pytest.mark.parametrize(
    ("kw", "setting"),
    [
        ({"output_sample_rate": 0}, "output_sample_rate"),
        ({"input_sample_rate": 0}, "input_sample_rate"),
        ({"input_sample_rate": -16000}, "input_sample_rate"),
        ({"output_sample_rate": 22050}, "output_sample_rate"),  # not whole samples per 10 ms
        ({"output_sample_rate": 4000}, "output_sample_rate"),
        ({"input_sample_rate": 96000}, "input_sample_rate"),
    ],
)
def test_capabilities_refuse_sample_rates_the_agent_cannot_use(kw: dict[str, int], setting: str) -> None:
    with pytest.raises(ValueError) as info:
        Capabilities(**kw)
    assert setting in str(info.value) and "8000 to 48000 Hz and a multiple of 100" in str(info.value)


def test_capabilities_refuse_unknown_names() -> None:
    with pytest.raises(ValueError, match="supports_trunc"):
        Capabilities(supports_trunc=False)  # type: ignore[call-arg]


@pytest.mark.parametrize("rate", [8000, 16000, 24000, 44100, 48000])
def test_capabilities_take_the_rates_in_use(rate: int) -> None:
    assert Capabilities(input_sample_rate=rate, output_sample_rate=rate).output_sample_rate == rate
