"""Every client event the OpenAI adapter sends, in both dialects, validates against the
official ``openai`` package's types; server events map to the right neutral events."""

from __future__ import annotations

import json
from typing import Any

import pytest

from turnstile.adapters.openai import InputTranscription, OpenAIRealtime, SemanticVad, ServerVad
from turnstile.adapters.openai._mapping import EventMapper
from turnstile.adapters.openai._protocol import parse_server_event
from turnstile.machine import ChatContext, ChatMessage, ToolOutput, ToolSchema

from .test_protocol import check_against_sdk, official_client_types

TOOLS = [
    ToolSchema(
        name="get_weather",
        description="Weather in a city",
        parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    )
]

OPTION_SETS: list[dict[str, Any]] = [
    {},
    {"turn_detection": ServerVad(threshold=0.6, prefix_padding_ms=200, silence_duration_ms=300,
                                 create_response=False, interrupt_response=False)},
    {"turn_detection": SemanticVad(eagerness="high"), "noise_reduction": "near_field",
     "input_transcription": InputTranscription(model="whisper-1", language="en", prompt="names")},
    {"turn_detection": None, "input_transcription": None, "instructions": "Be brief.",
     "voice": "alloy", "max_output_tokens": 400, "tool_choice": "required"},
]


def sent_by(provider: OpenAIRealtime) -> list[dict[str, Any]]:
    ctx = ChatContext(
        messages=[
            ChatMessage(role="system", text="You are terse."),
            ChatMessage(role="user", text="hi", id="u1"),
            ChatMessage(role="assistant", text="hello...", id="a1", interrupted=True),
            ChatMessage(role="assistant", text='{"city":"Oslo"}', tool_call_id="c1", name="get_weather"),
            ChatMessage(role="tool", text="sunny", tool_call_id="c1", name="get_weather"),
        ]
    )
    s = provider.session(chat_ctx=ctx, tools=TOOLS, on_event=lambda ev: None)
    s._ws = object()  # type: ignore[assignment]  # capture frames without a socket
    s._send(provider.session_update(TOOLS))
    s.push_audio(b"\x01\x00" * 2400)
    s.commit_audio()
    s.clear_audio()
    s.create_response()
    s.cancel_response()
    s.truncate("item_1", 0, 1234)
    s.delete_item("item_2")
    s.recover_from_text_response("item_3")
    s.send_tool_outputs([ToolOutput(call_id="c1", name="get_weather", output="sunny")])
    from turnstile.adapters.openai._mapping import history_items

    for ev in history_items(ctx, provider.dialect):
        s._send(ev)
    return [json.loads(frame) for frame in s._outbox]


@pytest.mark.parametrize("dialect", ["ga", "beta"])
@pytest.mark.parametrize("options", OPTION_SETS, ids=["defaults", "server_vad", "semantic", "manual"])
def test_every_sent_event_validates_against_the_sdk(dialect: str, options: dict[str, Any]) -> None:
    if dialect == "beta":
        options = {**options, "temperature": 0.7}
    provider = OpenAIRealtime(api_key="sk-test-not-a-real-key", dialect=dialect, **options)  # type: ignore[arg-type]
    frames = sent_by(provider)
    models, params = official_client_types(dialect)
    kinds = set()
    for wire in frames:
        kinds.add(wire["type"])
        check_against_sdk(wire, models[wire["type"]], params[wire["type"]])
    assert kinds == {
        "session.update", "input_audio_buffer.append", "input_audio_buffer.commit",
        "input_audio_buffer.clear", "response.create", "response.cancel",
        "conversation.item.truncate", "conversation.item.delete", "conversation.item.create",
    }


def test_session_update_carries_the_options_ga() -> None:
    p = OpenAIRealtime(api_key="sk-x", turn_detection=ServerVad(silence_duration_ms=321), voice="cedar")
    wire = json.loads(p.session_update(TOOLS).model_dump_json(exclude_none=True))
    session = wire["session"]
    assert session["type"] == "realtime"
    assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert session["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 321
    assert session["audio"]["output"]["voice"] == "cedar"
    assert session["tools"][0]["name"] == "get_weather"


def test_manual_turns_switch_server_vad_off_explicitly() -> None:
    for dialect in ("ga", "beta"):
        p = OpenAIRealtime(api_key="sk-x", dialect=dialect, turn_detection=None)  # type: ignore[arg-type]
        frames = sent_by(p)
        session = frames[0]["session"]
        td = session["audio"]["input"]["turn_detection"] if dialect == "ga" else session["turn_detection"]
        assert td is None  # null on the wire: the server's default VAD would otherwise stay on
        assert not p.capabilities.server_turn_detection


def test_a_missing_key_is_a_clear_error_and_keys_never_show(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        OpenAIRealtime()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-123")
    p = OpenAIRealtime()
    assert "sk-secret-123" not in repr(p) and "sk-secret-123" not in p.url
    assert p.headers() == {"Authorization": "Bearer sk-secret-123"}


def test_azure_uses_the_beta_dialect_deployment_and_api_key_header() -> None:
    p = OpenAIRealtime(api_key="az-key", azure_endpoint="https://res.openai.azure.com",
                       azure_deployment="gpt-4o-realtime", api_version="2025-04-01-preview")
    assert p.dialect == "beta"
    assert p.url == ("wss://res.openai.azure.com/openai/realtime?"
                     "api-version=2025-04-01-preview&deployment=gpt-4o-realtime")
    assert p.headers() == {"api-key": "az-key"}


def _map(frames: list[dict[str, Any]], dialect: str = "ga") -> list[Any]:
    m = EventMapper()
    return [out for f in frames for out in m.map(parse_server_event(json.dumps(f), dialect))]  # type: ignore[arg-type]


def test_server_events_map_to_neutral_events() -> None:
    call = {"type": "function_call", "id": "fc1", "call_id": "c1", "name": "get_weather",
            "arguments": '{"city":"Oslo"}', "status": "completed"}
    out = _map([
        {"type": "input_audio_buffer.speech_started", "event_id": "e", "audio_start_ms": 100, "item_id": "u1"},
        {"type": "input_audio_buffer.speech_stopped", "event_id": "e", "audio_end_ms": 900, "item_id": "u1"},
        {"type": "input_audio_buffer.committed", "event_id": "e", "item_id": "u1", "previous_item_id": None},
        {"type": "response.created", "event_id": "e",
         "response": {"id": "r1", "object": "realtime.response", "status": "in_progress", "output": []}},
        {"type": "response.content_part.added", "event_id": "e", "response_id": "r1", "item_id": "i1",
         "output_index": 0, "content_index": 0, "part": {"type": "text", "text": ""}},
        {"type": "response.output_audio.delta", "event_id": "e", "response_id": "r1", "item_id": "i1",
         "output_index": 0, "content_index": 0, "delta": "AAABAA=="},
        {"type": "response.output_item.done", "event_id": "e", "response_id": "r1", "output_index": 1, "item": call},
        {"type": "response.done", "event_id": "e", "response": {
            "id": "r1", "object": "realtime.response", "status": "completed", "output": [],
            "usage": {"total_tokens": 9, "input_tokens": 4, "output_tokens": 5,
                      "input_token_details": {"cached_tokens": 2, "audio_tokens": 3, "text_tokens": 1}}}},
        {"type": "error", "event_id": "e",
         "error": {"type": "invalid_request_error", "code": "response_cancel_not_active", "message": "x"}},
        {"type": "error", "event_id": "e",
         "error": {"type": "invalid_request_error", "code": "invalid_value", "message": "bad"}},
    ])
    kinds = [e.kind for e in out]
    assert kinds == ["input_speech_started", "input_speech_stopped", "input_audio_committed",
                     "response_created", "response_content_added", "audio_delta",
                     "tool_calls_requested", "response_done", "provider_error"]
    assert out[4].modality == "text"
    assert out[5].data == b"\x00\x00\x01\x00"
    assert out[6].calls[0].arguments == '{"city":"Oslo"}'
    assert (out[7].usage.cached_tokens, out[7].usage.input_audio_tokens) == (2, 3)
    assert (out[8].code, out[8].message) == ("invalid_value", "bad")


@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_the_audio_append_frame_is_the_models_wire_form(dialect: str) -> None:
    """push_audio writes its frame by hand (the hot path): it must be the model's dump."""
    from turnstile.adapters.openai._protocol import InputAudioBufferAppend, dump_client_event

    provider = OpenAIRealtime(api_key="sk-test-not-a-real-key", dialect=dialect)  # type: ignore[arg-type]
    s = provider.session(chat_ctx=ChatContext(), tools=[], on_event=lambda ev: None)
    s._ws = object()  # type: ignore[assignment]
    pcm = bytes(range(256)) * 19  # every byte value: every base64 character
    s.push_audio(pcm)
    assert list(s._outbox) == [dump_client_event(InputAudioBufferAppend.from_pcm(pcm))]
