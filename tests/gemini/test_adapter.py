"""The Gemini Live adapter: what it sends validates against google-genai's types, and what
it receives maps to the right neutral events."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from google.genai import types

from turnstile.adapters.gemini import GeminiLive
from turnstile.adapters.gemini._mapping import TurnMapper
from turnstile.adapters.gemini._protocol import parse_server_message
from turnstile.machine import ChatContext, ChatMessage, FunctionCall, ToolOutput, ToolSchema

TOOLS = [ToolSchema(name="get_weather", description="Weather in a city",
                    parameters={"type": "object", "properties": {"city": {"type": "string"}},
                                "required": ["city"], "additionalProperties": False})]


def frames(provider: GeminiLive, connects: int = 1) -> list[dict[str, Any]]:
    ctx = ChatContext(messages=[ChatMessage(role="user", text="hi"), ChatMessage(role="assistant", text="hello...")])
    s = provider.session(chat_ctx=ctx, tools=TOOLS, on_event=lambda ev: None)
    s._ws = object()  # type: ignore[assignment]  # capture frames without a socket
    s._ready.set()
    s.connects = connects
    # c1, c2 asked on this connection; c3 on one that was lost (its output goes as history).
    for cid, on in (("c1", connects), ("c2", connects), ("c3", connects - 1)):
        s._calls[cid] = (FunctionCall(call_id=cid, name="get_weather", arguments='{"city": "Rome"}'), on)
    out = list(s.opening_frames())
    s.push_audio(b"\x01\x00" * 1600)
    s.commit_audio()
    s.create_response()
    s.recover_from_text_response("item_1")
    s.send_tool_outputs([ToolOutput(call_id="c1", name="get_weather", output="sunny"),
                         ToolOutput(call_id="c2", name="get_weather", output="bad args", is_error=True),
                         ToolOutput(call_id="c3", name="get_weather", output="rain")])
    s.create_response()  # after tool responses the model goes on by itself: nothing sent
    out += list(s._outbox)
    return [json.loads(f) for f in out]


@pytest.mark.parametrize("auto", [True, False])
def test_every_client_message_validates_against_google_genai(auto: bool) -> None:
    p = GeminiLive(api_key="g-key", automatic_activity_detection=auto, instructions="Be brief.",
                   temperature=0.4, silence_duration_ms=400, context_window_target_tokens=8000)
    sent = frames(p, connects=2)
    kinds = []
    for wire in sent:
        [key] = wire
        kinds.append(key)
        msg = wire[key]
        if key == "setup":
            rtc = msg.pop("realtimeInputConfig", None)  # google-genai's setup type lacks it
            if rtc is not None:
                types.RealtimeInputConfig.model_validate(rtc)
            setup = types.LiveClientSetup.model_validate(msg)
            assert setup.model == "models/gemini-2.5-flash-native-audio-preview-09-2025"
            assert setup.generation_config.response_modalities == ["AUDIO"]
            assert setup.session_resumption is not None
            assert setup.tools[0].function_declarations[0].parameters_json_schema["required"] == ["city"]
            assert (rtc["automaticActivityDetection"].get("disabled") is True) is (not auto)
        else:
            types.LiveClientMessage.model_validate(wire)
    expected = ["setup", "clientContent"]  # history replayed: nothing to resume from
    # Manual turns: the commit's activityEnd asks for the answer, so the request sends nothing.
    expected += ["realtimeInput", "clientContent"] if auto else ["realtimeInput"] * 3
    expected += ["clientContent", "toolResponse", "clientContent"]
    assert kinds == expected
    tool = sent[-2]["toolResponse"]["functionResponses"]
    assert tool == [{"id": "c1", "name": "get_weather", "response": {"output": "sunny"}},
                    {"id": "c2", "name": "get_weather", "response": {"error": "bad args"}}]
    # The call the lost connection asked, with its answer, as history the model answers.
    history = sent[-1]["clientContent"]
    assert history["turnComplete"] is True
    assert history["turns"] == [
        {"role": "model", "parts": [{"functionCall": {"id": "c3", "name": "get_weather", "args": {"city": "Rome"}}}]},
        {"role": "user", "parts": [{"functionResponse": {"id": "c3", "name": "get_weather",
                                                         "response": {"output": "rain"}}}]},
    ]


def test_audio_goes_as_16khz_pcm_and_the_key_as_a_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    with pytest.raises(ValueError, match="GOOGLE_API_KEY"):
        GeminiLive()
    monkeypatch.setenv("GEMINI_API_KEY", "secret-g")
    p = GeminiLive()
    assert p.headers() == {"x-goog-api-key": "secret-g"}
    assert "secret-g" not in repr(p) and "secret-g" not in p.url
    audio = frames(p)[1]["realtimeInput"]["audio"]
    assert audio["mimeType"] == "audio/pcm;rate=16000"
    caps = p.capabilities
    assert (caps.supports_truncate, caps.input_sample_rate, caps.server_interrupts) == (False, 16000, True)


def test_vertex_endpoint_and_model_path() -> None:
    p = GeminiLive(api_key="token", vertex_project="proj", vertex_location="europe-west4")
    assert p.url.startswith("wss://europe-west4-aiplatform.googleapis.com/ws/google.cloud.aiplatform")
    assert p.model_path.startswith("projects/proj/locations/europe-west4/publishers/google/models/")
    assert p.headers() == {"Authorization": "Bearer token"}


def wire(msg: types.LiveServerMessage) -> bytes:
    return json.dumps(msg.model_dump(mode="json", by_alias=True, exclude_none=True)).encode()


def run(mapper: TurnMapper, *msgs: types.LiveServerMessage) -> list[Any]:
    return [ev for m in msgs for ev in mapper.map(parse_server_message(wire(m)))]


def test_a_turn_maps_to_a_response_whose_audio_outlives_turn_complete() -> None:
    pcm = b"\x01\x02" * 480
    evs = run(
        TurnMapper(),
        types.LiveServerMessage(setup_complete=types.LiveServerSetupComplete()),
        types.LiveServerMessage(server_content=types.LiveServerContent(
            input_transcription=types.Transcription(text="what's up"))),
        types.LiveServerMessage(server_content=types.LiveServerContent(model_turn=types.Content(
            parts=[types.Part(inline_data=types.Blob(data=pcm, mime_type="audio/pcm;rate=24000"))]))),
        types.LiveServerMessage(server_content=types.LiveServerContent(
            output_transcription=types.Transcription(text="Not much."))),
        types.LiveServerMessage(server_content=types.LiveServerContent(generation_complete=True)),
        types.LiveServerMessage(server_content=types.LiveServerContent(turn_complete=True),
                                usage_metadata=types.UsageMetadata(prompt_token_count=7, response_token_count=9,
                                                                   total_token_count=16)),
    )
    kinds = [e.kind for e in evs]
    assert kinds == ["session_ready", "input_transcription_completed", "response_created",
                     "response_content_added", "audio_delta", "transcript_delta",
                     "response_content_done", "response_done"]
    assert evs[1].transcript == "what's up"
    assert evs[4].data == pcm
    assert evs[6].modality == "audio"
    assert (evs[7].status, evs[7].usage.total_tokens) == ("completed", 16)


def test_interruption_tool_calls_and_cancellations() -> None:
    m = TurnMapper()
    evs = run(
        m,
        types.LiveServerMessage(server_content=types.LiveServerContent(model_turn=types.Content(
            parts=[types.Part(inline_data=types.Blob(data=b"\0\0" * 240, mime_type="audio/pcm;rate=24000"))]))),
        types.LiveServerMessage(server_content=types.LiveServerContent(interrupted=True)),
        types.LiveServerMessage(tool_call=types.LiveServerToolCall(function_calls=[
            types.FunctionCall(id="f1", name="get_weather", args={"city": "Oslo"})])),
        types.LiveServerMessage(tool_call_cancellation=types.LiveServerToolCallCancellation(ids=["f1"])),
        types.LiveServerMessage(session_resumption_update=types.LiveServerSessionResumptionUpdate(
            new_handle="h-9", resumable=True)),
        types.LiveServerMessage(go_away=types.LiveServerGoAway(time_left="5s")),
    )
    kinds = [e.kind for e in evs]
    assert kinds == ["response_created", "response_content_added", "audio_delta", "server_interrupted",
                     "response_done", "response_created", "response_content_added",
                     "tool_calls_requested", "response_content_done", "response_done", "tool_calls_cancelled"]
    assert evs[4].status == "cancelled"
    assert json.loads(evs[7].calls[0].arguments) == {"city": "Oslo"}
    assert evs[10].call_ids == ("f1",)
    assert m.resumption_handle == "h-9" and m.go_away == 5.0


# Wire frames as live sessions show them (google-genai's own dump would name ``type`` voiceActivityType).
HEARD = [
    '{"voiceActivity": {"type": "ACTIVITY_START", "audioOffset": "1.250s"}}',
    '{"serverContent": {"interrupted": true}, "voiceActivity": {"type": "TYPE_UNSPECIFIED"}}',
    '{"serverContent": {}, "voiceActivity": {"type": "ACTIVITY_END", "audioOffset": "2s"}}',
    '{"serverContent": {"inputTranscription": {"text": "Stop."}}}',
]


def test_voice_activity_is_the_users_speech(caplog: pytest.LogCaptureFixture) -> None:
    m = TurnMapper()
    with caplog.at_level(logging.INFO, logger="turnstile.gemini"):
        evs = [ev for frame in HEARD for ev in m.map(parse_server_message(frame)) if "speech" in ev.kind]
    assert [e.kind for e in evs] == ["input_speech_started", "input_speech_stopped"]
    assert (evs[0].audio_start_ms, evs[1].audio_end_ms) == (1250, 2000)
    assert "'TYPE_UNSPECIFIED' ignored" in caplog.text
    # A speech start beside what it caused comes first.
    both = '{"serverContent": {"interrupted": true}, "voiceActivity": {"type": "ACTIVITY_START"}}'
    m = TurnMapper()
    m.map(parse_server_message('{"serverContent": {"outputTranscription": {"text": "So"}}}'))
    assert [e.kind for e in m.map(parse_server_message(both))] == [
        "input_speech_started", "server_interrupted", "response_done"]


@pytest.mark.parametrize("options", [{}, {"activity_handling": "NO_INTERRUPTION"}])
def test_the_session_reports_the_users_speech_under_either_handling(options: dict[str, Any]) -> None:
    # Under the default handling too: the server cuts its answer (interrupted), but audio it
    # finished generating may still be playing, and the user region follows the speech.
    got: list[Any] = []
    s = GeminiLive(api_key="g", **options).session(chat_ctx=ChatContext(), tools=[], on_event=got.append)
    for frame in HEARD:
        s.on_frame(frame.encode())
    s.opening_frames()  # a new connection keeps the setting
    s.on_frame(HEARD[0].encode())
    kinds = [e.kind for e in got if e.kind.startswith("input_speech")]
    assert kinds == ["input_speech_started", "input_speech_stopped", "input_speech_started"]


def test_text_in_an_audio_session_is_a_text_response() -> None:
    evs = run(
        TurnMapper(),
        types.LiveServerMessage(server_content=types.LiveServerContent(model_turn=types.Content(
            parts=[types.Part(text="thinking...", thought=True), types.Part(text="Sunny.")]))),
        types.LiveServerMessage(server_content=types.LiveServerContent(turn_complete=True)),
    )
    done = [e for e in evs if e.kind == "response_content_done"]
    assert [(d.modality, d.text) for d in done] == [("text", "Sunny.")]


def test_vertex_usage_names_are_read_too() -> None:
    frame = json.dumps({"serverContent": {"turnComplete": True, "modelTurn": {"parts": [
        {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": "AAA="}}]}},
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 11, "totalTokenCount": 14,
                          "candidatesTokensDetails": [{"modality": "AUDIO", "tokenCount": 11}]}})
    [done] = [e for e in TurnMapper().map(parse_server_message(frame)) if e.kind == "response_done"]
    assert (done.usage.output_tokens, done.usage.output_audio_tokens) == (11, 11)


@pytest.mark.parametrize("answered_before_the_drop", [False, True])
def test_a_tool_output_the_lost_connection_never_answered_goes_again_as_history(
    answered_before_the_drop: bool,
) -> None:
    s = GeminiLive(api_key="g-key").session(chat_ctx=ChatContext(), tools=TOOLS, on_event=lambda ev: None)
    s._ws = object()  # type: ignore[assignment]  # capture frames without a socket
    s._ready.set()
    s.connects = 1
    s._calls["c1"] = (FunctionCall(call_id="c1", name="get_weather", arguments='{"city": "Oslo"}'), 1)
    s.send_tool_outputs([ToolOutput(call_id="c1", name="get_weather", output="snow")])
    assert [next(iter(json.loads(f))) for f in s._outbox] == ["toolResponse"]
    if answered_before_the_drop:  # the model began its answer: the output got through
        s.on_frame(json.dumps({"serverContent": {"modelTurn": {"parts": [{"text": "It snows."}]}}}))
    s._outbox.clear()
    s.connects = 2  # the connection is lost; a new one gets ready
    s.on_frame(json.dumps({"setupComplete": {}}))
    sent = [json.loads(f) for f in s._outbox]
    if answered_before_the_drop:
        assert sent == []
    else:
        [history] = sent
        parts = [p for turn in history["clientContent"]["turns"] for p in turn["parts"]]
        assert parts[1]["functionResponse"] == {"id": "c1", "name": "get_weather", "response": {"output": "snow"}}
        types.LiveClientMessage.model_validate(history)
