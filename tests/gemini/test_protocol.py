"""Gemini Live wire models, checked against google-genai as an oracle.

google-genai is imported only here: its pydantic models (extra="forbid",
camelCase aliases) tell us whether our JSON is what the API client library
itself would send, and give us server messages in the library's wire form.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from google.genai import _live_converters, types
from pydantic import BaseModel, ValidationError

from turnstile.adapters.gemini import _client, _server
from turnstile.adapters.gemini._protocol import (
    ActivityEnd,
    ActivityStart,
    AudioTranscriptionConfig,
    AutomaticActivityDetection,
    Blob,
    ClientContent,
    Content,
    ContextWindowCompressionConfig,
    FunctionDeclaration,
    FunctionResponse,
    GenerationConfig,
    GoAwayMessage,
    Part,
    PrebuiltVoiceConfig,
    ProtocolError,
    RealtimeInput,
    RealtimeInputConfig,
    ServerContentMessage,
    SessionResumptionConfig,
    SessionResumptionUpdateMessage,
    Setup,
    SetupCompleteMessage,
    SlidingWindow,
    SpeechConfig,
    Tool,
    ToolCallCancellationMessage,
    ToolCallMessage,
    ToolResponse,
    UnknownServerMessage,
    UsageMetadataMessage,
    VoiceActivityMessage,
    VoiceConfig,
    dump_client_message,
    parse_server_message,
)

# Bytes whose standard base64 contains "+" and "/", so alphabet mix-ups show.
PCM = b"\xfb\xff\xbf\x00\x01\x02" * 40

# --- client messages -------------------------------------------------------

WEATHER_PARAMS = {
    "type": "OBJECT",
    "properties": {"city": {"type": "STRING", "description": "City name"}},
    "required": ["city"],
}


def full_setup() -> Setup:
    return Setup(
        model="gemini-live-2.5-flash-preview",
        generation_config=GenerationConfig(
            response_modalities=["AUDIO"],
            speech_config=SpeechConfig(
                voice_config=VoiceConfig(prebuilt_voice_config=PrebuiltVoiceConfig(voice_name="Puck")),
                language_code="en-US",
            ),
            temperature=0.6,
            max_output_tokens=512,
        ),
        system_instruction=Content.from_text("You are a turnstile."),
        tools=[
            Tool(
                function_declarations=[
                    FunctionDeclaration(name="get_weather", description="Weather now", parameters=WEATHER_PARAMS)
                ]
            )
        ],
        realtime_input_config=RealtimeInputConfig(
            automatic_activity_detection=AutomaticActivityDetection(
                disabled=False,
                start_of_speech_sensitivity="START_SENSITIVITY_LOW",
                end_of_speech_sensitivity="END_SENSITIVITY_HIGH",
                prefix_padding_ms=20,
                silence_duration_ms=500,
            ),
            activity_handling="NO_INTERRUPTION",
            turn_coverage="TURN_INCLUDES_ONLY_ACTIVITY",
        ),
        input_audio_transcription=AudioTranscriptionConfig(),
        output_audio_transcription=AudioTranscriptionConfig(),
        session_resumption=SessionResumptionConfig(handle="h-1"),
        context_window_compression=ContextWindowCompressionConfig(
            sliding_window=SlidingWindow(target_tokens=1000), trigger_tokens=2000
        ),
    )


def oracle_client(msg: Any) -> tuple[dict[str, Any], types.LiveClientMessage]:
    """Dump our message and validate the JSON with google-genai."""
    wire = json.loads(dump_client_message(msg))
    assert list(wire) == [msg.WIRE_KEY]
    return wire, types.LiveClientMessage.model_validate(wire)


def test_setup_dumps_exact_wire_json() -> None:
    assert json.loads(dump_client_message(full_setup())) == {
        "setup": {
            "model": "models/gemini-live-2.5-flash-preview",
            "generationConfig": {
                "responseModalities": ["AUDIO"],
                "speechConfig": {
                    "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Puck"}}, "languageCode": "en-US",
                },
                "temperature": 0.6,
                "maxOutputTokens": 512,
            },
            "systemInstruction": {"parts": [{"text": "You are a turnstile."}]},
            "tools": [{"functionDeclarations": [
                {"name": "get_weather", "description": "Weather now", "parameters": WEATHER_PARAMS},
            ]}],
            "realtimeInputConfig": {
                "automaticActivityDetection": {
                    "disabled": False,
                    "startOfSpeechSensitivity": "START_SENSITIVITY_LOW",
                    "endOfSpeechSensitivity": "END_SENSITIVITY_HIGH",
                    "prefixPaddingMs": 20,
                    "silenceDurationMs": 500,
                },
                "activityHandling": "NO_INTERRUPTION",
                "turnCoverage": "TURN_INCLUDES_ONLY_ACTIVITY",
            },
            "inputAudioTranscription": {},
            "outputAudioTranscription": {},
            "sessionResumption": {"handle": "h-1"},
            "contextWindowCompression": {"slidingWindow": {"targetTokens": 1000}, "triggerTokens": 2000},
        }
    }


def test_setup_validates_against_google_genai() -> None:
    wire = json.loads(dump_client_message(full_setup()))
    rtc_wire = wire["setup"]["realtimeInputConfig"]
    if "realtime_input_config" not in types.LiveClientSetup.model_fields:
        # google-genai's LiveClientSetup lacks the field although its own
        # LiveConnectConfig converter writes setup.realtimeInputConfig; check
        # that part against the standalone type instead.
        del wire["setup"]["realtimeInputConfig"]
    setup = types.LiveClientMessage.model_validate(wire).setup
    assert setup is not None
    assert setup.model == "models/gemini-live-2.5-flash-preview"
    gen = setup.generation_config
    assert gen is not None and gen.speech_config is not None
    assert gen.response_modalities == [types.Modality.AUDIO]
    assert gen.speech_config.language_code == "en-US"
    assert gen.speech_config.voice_config.prebuilt_voice_config.voice_name == "Puck"  # type: ignore[union-attr]
    assert (gen.temperature, gen.max_output_tokens) == (0.6, 512)
    assert isinstance(setup.system_instruction, types.Content)
    assert setup.system_instruction.parts[0].text == "You are a turnstile."  # type: ignore[index]
    decl = setup.tools[0].function_declarations[0]  # type: ignore[index,union-attr]
    assert (decl.name, decl.description) == ("get_weather", "Weather now")
    assert decl.parameters.type == types.Type.OBJECT  # type: ignore[union-attr]
    assert decl.parameters.properties["city"].type == types.Type.STRING  # type: ignore[union-attr,index]
    assert decl.parameters.required == ["city"]  # type: ignore[union-attr]
    assert setup.input_audio_transcription is not None and setup.output_audio_transcription is not None
    assert setup.session_resumption.handle == "h-1"  # type: ignore[union-attr]
    cwc = setup.context_window_compression
    assert cwc.trigger_tokens == 2000 and cwc.sliding_window.target_tokens == 1000  # type: ignore[union-attr]

    rtc = types.RealtimeInputConfig.model_validate(rtc_wire)
    aad = rtc.automatic_activity_detection
    assert aad is not None and aad.disabled is False
    assert aad.start_of_speech_sensitivity == types.StartSensitivity.START_SENSITIVITY_LOW
    assert aad.end_of_speech_sensitivity == types.EndSensitivity.END_SENSITIVITY_HIGH
    assert (aad.prefix_padding_ms, aad.silence_duration_ms) == (20, 500)
    assert rtc.activity_handling == types.ActivityHandling.NO_INTERRUPTION
    assert rtc.turn_coverage == types.TurnCoverage.TURN_INCLUDES_ONLY_ACTIVITY


def test_setup_model_name_is_qualified_once() -> None:
    assert json.loads(dump_client_message(Setup(model="x"))) == {"setup": {"model": "models/x"}}
    assert Setup(model="models/x").model == "models/x"
    assert Setup(model="tunedModels/y").model == "tunedModels/y"


def test_client_content() -> None:
    msg = ClientContent(
        turns=[
            Content.from_text("hi", role="user"),
            Content(role="model", parts=[Part(inline_data=Blob.pcm16(PCM, 24000)), Part(text="hello")]),
        ],
        turn_complete=True,
    )
    _, parsed = oracle_client(msg)
    cc = parsed.client_content
    assert cc is not None and cc.turn_complete is True and cc.turns is not None
    assert [t.role for t in cc.turns] == ["user", "model"]
    assert cc.turns[0].parts[0].text == "hi"  # type: ignore[index]
    blob = cc.turns[1].parts[0].inline_data  # type: ignore[index]
    assert blob is not None and blob.data == PCM and blob.mime_type == "audio/pcm;rate=24000"
    assert cc.turns[1].parts[1].text == "hello"  # type: ignore[index]


def test_realtime_audio_is_standard_base64_pcm() -> None:
    wire, parsed = oracle_client(RealtimeInput(audio=Blob.pcm16(PCM)))
    data = base64.b64encode(PCM).decode()
    assert wire == {"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": data}}}
    audio = parsed.realtime_input.audio  # type: ignore[union-attr]
    assert audio is not None and audio.data == PCM and audio.mime_type == "audio/pcm;rate=16000"


@pytest.mark.parametrize(
    ("msg", "expected_wire", "attr", "expected"),
    [
        (RealtimeInput(activity_start=ActivityStart()), {"activityStart": {}}, "activity_start", types.ActivityStart()),
        (RealtimeInput(activity_end=ActivityEnd()), {"activityEnd": {}}, "activity_end", types.ActivityEnd()),
        (RealtimeInput(audio_stream_end=True), {"audioStreamEnd": True}, "audio_stream_end", True),
        (RealtimeInput(text="typed"), {"text": "typed"}, "text", "typed"),
        (
            RealtimeInput(media_chunks=[Blob.pcm16(PCM)]),
            {"mediaChunks": [{"mimeType": "audio/pcm;rate=16000", "data": base64.b64encode(PCM).decode()}]},
            "media_chunks",
            [types.Blob(mime_type="audio/pcm;rate=16000", data=PCM)],
        ),
    ],
)
def test_realtime_input_kinds(msg: RealtimeInput, expected_wire: dict[str, Any], attr: str, expected: Any) -> None:
    wire, parsed = oracle_client(msg)
    assert wire == {"realtimeInput": expected_wire}
    assert getattr(parsed.realtime_input, attr) == expected


def test_tool_response_keeps_nulls_inside_response() -> None:
    msg = ToolResponse(
        function_responses=[FunctionResponse(id="call-1", name="get_weather", response={"temp_c": 21, "note": None})]
    )
    wire, parsed = oracle_client(msg)
    assert wire["toolResponse"]["functionResponses"][0]["response"] == {"temp_c": 21, "note": None}
    fr = parsed.tool_response.function_responses[0]  # type: ignore[union-attr,index]
    assert (fr.id, fr.name, fr.response) == ("call-1", "get_weather", {"temp_c": 21, "note": None})


@pytest.mark.parametrize(
    "build",
    [
        lambda: RealtimeInput(),
        lambda: RealtimeInput(text="a", audio_stream_end=True),
        lambda: Part(),
        lambda: Part(text="a", inline_data=Blob.pcm16(b"")),
        lambda: Setup(model="m", generaton_config=GenerationConfig()),  # type: ignore[call-arg]  # typo
        lambda: GenerationConfig(response_modalities=["SPEECH"]),  # type: ignore[list-item]
        lambda: ToolResponse(function_responses=[]),
        lambda: FunctionDeclaration(name="f", parameters={}, parameters_json_schema={}),
    ],
)
def test_invalid_client_messages_rejected_at_build_time(build: Any) -> None:
    with pytest.raises(ValidationError):
        build()


def test_dump_rejects_non_messages() -> None:
    with pytest.raises(TypeError):
        dump_client_message(Content.from_text("x"))  # type: ignore[arg-type]


SERVER_ENVELOPES: list[type[BaseModel]] = [*_server._Envelope.__subclasses__(), _server.UsageMetadataMessage]

# Our model -> the google-genai model with the same wire shape.
ALIAS_ORACLE: dict[type[BaseModel], type[BaseModel]] = {
    _client.Blob: types.Blob,
    _client.Part: types.Part,
    _client.Content: types.Content,
    _client.PrebuiltVoiceConfig: types.PrebuiltVoiceConfig,
    _client.VoiceConfig: types.VoiceConfig,
    _client.SpeechConfig: types.SpeechConfig,
    _client.ThinkingConfig: types.ThinkingConfig,
    _client.GenerationConfig: types.GenerationConfig,
    _client.FunctionDeclaration: types.FunctionDeclaration,
    _client.Tool: types.Tool,
    _client.AutomaticActivityDetection: types.AutomaticActivityDetection,
    _client.RealtimeInputConfig: types.RealtimeInputConfig,
    _client.SessionResumptionConfig: types.SessionResumptionConfig,
    _client.SlidingWindow: types.SlidingWindow,
    _client.ContextWindowCompressionConfig: types.ContextWindowCompressionConfig,
    _client.ProactivityConfig: types.ProactivityConfig,
    _client.Setup: types.LiveClientSetup,
    _client.ClientContent: types.LiveClientContent,
    _client.RealtimeInput: types.LiveClientRealtimeInput,
    _client.FunctionResponse: types.FunctionResponse,
    _client.ToolResponse: types.LiveClientToolResponse,
    _server.ReceivedBlob: types.Blob,
    _server.ReceivedPart: types.Part,
    _server.ReceivedContent: types.Content,
    _server.Transcription: types.Transcription,
    _server.ServerContent: types.LiveServerContent,
    _server.SetupComplete: types.LiveServerSetupComplete,
    _server.FunctionCall: types.FunctionCall,
    _server.ToolCall: types.LiveServerToolCall,
    _server.ToolCallCancellation: types.LiveServerToolCallCancellation,
    _server.GoAway: types.LiveServerGoAway,
    _server.SessionResumptionUpdate: types.LiveServerSessionResumptionUpdate,
    _server.ModalityTokenCount: types.ModalityTokenCount,
    _server.UsageMetadata: types.UsageMetadata,
    **{cls: types.LiveServerMessage for cls in SERVER_ENVELOPES},
}
# Fields the API takes that the installed google-genai type may not model.
KNOWN_ORACLE_GAPS = {(_client.Setup, "realtimeInputConfig")}


@pytest.mark.parametrize("ours", list(ALIAS_ORACLE), ids=lambda c: c.__name__)
def test_every_wire_name_is_known_to_google_genai(ours: type[BaseModel]) -> None:
    # Catches misspelt aliases even on fields no other test happens to set.
    oracle = ALIAS_ORACLE[ours]
    oracle_aliases = {f.alias or name for name, f in oracle.model_fields.items()}
    ours_aliases = {f.alias or name for name, f in ours.model_fields.items()}
    assert ours_aliases, ours
    missing = {a for a in ours_aliases - oracle_aliases if (ours, a) not in KNOWN_ORACLE_GAPS}
    assert not missing, f"{ours.__name__} wire names unknown to google-genai {oracle.__name__}: {missing}"


def test_all_six_envelopes_are_dispatched() -> None:
    assert len(_server._Envelope.__subclasses__()) == 6


# --- server messages -------------------------------------------------------


def assert_camel_case(node: Any, skip: frozenset[str] = frozenset({"args", "response"})) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            assert "_" not in key and key[:1].islower(), f"non-camelCase wire key {key!r}"
            if key not in skip:
                assert_camel_case(value, skip)
    elif isinstance(node, list):
        for item in node:
            assert_camel_case(item, skip)


def wire(msg: types.LiveServerMessage) -> bytes:
    """The frame as it arrives: UTF-8 JSON in a binary websocket frame."""
    data = msg.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert_camel_case(data)
    return json.dumps(data).encode()


def test_setup_complete() -> None:
    parsed = parse_server_message(wire(types.LiveServerMessage(setup_complete=types.LiveServerSetupComplete())))
    assert isinstance(parsed, SetupCompleteMessage) and parsed.setup_complete.session_id is None
    frame = wire(types.LiveServerMessage(setup_complete=types.LiveServerSetupComplete(session_id="s-9")))
    assert b'"sessionId"' in frame
    parsed = parse_server_message(frame)
    assert isinstance(parsed, SetupCompleteMessage) and parsed.setup_complete.session_id == "s-9"


def test_server_content_audio_and_flags() -> None:
    frame = wire(
        types.LiveServerMessage(
            server_content=types.LiveServerContent(
                model_turn=types.Content(
                    role="model",
                    parts=[types.Part(inline_data=types.Blob(data=PCM, mime_type="audio/pcm;rate=24000"))],
                ),
                generation_complete=True,
                turn_complete=True,
                interrupted=True,
                input_transcription=types.Transcription(text="hello", finished=True),
                output_transcription=types.Transcription(text="hi there"),
                turn_complete_reason=types.TurnCompleteReason.NEED_MORE_INPUT,
                waiting_for_input=True,
                grounding_metadata=types.GroundingMetadata(web_search_queries=["q"]),
            ),
            usage_metadata=types.UsageMetadata(total_token_count=7),
        )
    )
    assert b'"modelTurn"' in frame and b'"inlineData"' in frame and b'"mimeType"' in frame
    parsed = parse_server_message(frame)
    assert isinstance(parsed, ServerContentMessage)
    sc = parsed.server_content
    assert sc.model_turn is not None and sc.model_turn.role == "model"
    blob = sc.model_turn.parts[0].inline_data
    assert blob is not None and blob.mime_type == "audio/pcm;rate=24000"
    assert isinstance(blob.data, str) and blob.decode() == PCM  # google-genai sends URL-safe base64
    assert list(sc.iter_audio()) == [PCM]
    assert (sc.turn_complete, sc.generation_complete, sc.interrupted, sc.waiting_for_input) == (True,) * 4
    assert sc.input_transcription is not None and sc.input_transcription.text == "hello"
    assert sc.input_transcription.finished is True
    assert sc.output_transcription is not None and sc.output_transcription.text == "hi there"
    assert sc.turn_complete_reason == "NEED_MORE_INPUT"
    assert sc.grounding_metadata == {"webSearchQueries": ["q"]}
    assert parsed.usage_metadata is not None and parsed.usage_metadata.total_token_count == 7


def test_server_content_text_and_standard_base64() -> None:
    frame = json.dumps(
        {
            "serverContent": {
                "modelTurn": {
                    "parts": [
                        {"text": "thinking", "thought": True},
                        {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": base64.b64encode(PCM).decode()}},
                    ]
                }
            }
        }
    )
    parsed = parse_server_message(frame)
    assert isinstance(parsed, ServerContentMessage)
    parts = parsed.server_content.model_turn.parts  # type: ignore[union-attr]
    assert parts[0].text == "thinking" and parts[0].thought is True
    assert parts[1].inline_data.decode() == PCM  # type: ignore[union-attr]
    assert parsed.server_content.turn_complete is False


def test_tool_call_and_cancellation() -> None:
    calls = [
        types.FunctionCall(id="c1", name="get_weather", args={"city": "Oslo"}),
        types.FunctionCall(id="c2", name="hang_up"),
    ]
    frame = wire(types.LiveServerMessage(tool_call=types.LiveServerToolCall(function_calls=calls)))
    assert b'"functionCalls"' in frame
    parsed = parse_server_message(frame)
    assert isinstance(parsed, ToolCallMessage)
    got = [(c.id, c.name, c.args) for c in parsed.tool_call.function_calls]
    assert got == [("c1", "get_weather", {"city": "Oslo"}), ("c2", "hang_up", {})]

    frame = wire(types.LiveServerMessage(tool_call_cancellation=types.LiveServerToolCallCancellation(ids=["c1", "c2"])))
    parsed = parse_server_message(frame)
    assert isinstance(parsed, ToolCallCancellationMessage)
    assert parsed.tool_call_cancellation.ids == ["c1", "c2"]


def test_go_away() -> None:
    frame = wire(types.LiveServerMessage(go_away=types.LiveServerGoAway(time_left="10s")))
    assert b'"timeLeft"' in frame
    parsed = parse_server_message(frame)
    assert isinstance(parsed, GoAwayMessage)
    assert parsed.go_away.time_left == "10s" and parsed.go_away.time_left_seconds == 10.0
    parsed = parse_server_message('{"goAway": {"timeLeft": "1.500s"}}')
    assert isinstance(parsed, GoAwayMessage) and parsed.go_away.time_left_seconds == 1.5


def test_session_resumption_update() -> None:
    update = types.LiveServerSessionResumptionUpdate(
        new_handle="h-2", resumable=True, last_consumed_client_message_index=41
    )
    frame = wire(types.LiveServerMessage(session_resumption_update=update))
    assert b'"lastConsumedClientMessageIndex"' in frame and b'"newHandle"' in frame
    parsed = parse_server_message(frame)
    assert isinstance(parsed, SessionResumptionUpdateMessage)
    sru = parsed.session_resumption_update
    assert (sru.new_handle, sru.resumable, sru.last_consumed_client_message_index) == ("h-2", True, 41)
    # int64 in proto3-JSON may arrive as a decimal string.
    parsed = parse_server_message('{"sessionResumptionUpdate": {"lastConsumedClientMessageIndex": "42"}}')
    assert isinstance(parsed, SessionResumptionUpdateMessage)
    assert parsed.session_resumption_update.last_consumed_client_message_index == 42
    assert parsed.session_resumption_update.resumable is False


def test_usage_metadata_alone() -> None:
    usage = types.UsageMetadata(
        prompt_token_count=10,
        cached_content_token_count=1,
        response_token_count=20,
        tool_use_prompt_token_count=2,
        thoughts_token_count=3,
        total_token_count=36,
        prompt_tokens_details=[types.ModalityTokenCount(modality=types.MediaModality.AUDIO, token_count=10)],
        response_tokens_details=[types.ModalityTokenCount(modality=types.MediaModality.TEXT, token_count=20)],
    )
    frame = wire(types.LiveServerMessage(usage_metadata=usage))
    assert b'"promptTokensDetails"' in frame and b'"tokenCount"' in frame
    parsed = parse_server_message(frame)
    assert isinstance(parsed, UsageMetadataMessage)
    um = parsed.usage_metadata
    assert (um.prompt_token_count, um.cached_content_token_count, um.response_token_count) == (10, 1, 20)
    assert (um.tool_use_prompt_token_count, um.thoughts_token_count, um.total_token_count) == (2, 3, 36)
    assert [(d.modality, d.token_count) for d in um.prompt_tokens_details] == [("AUDIO", 10)]
    assert [(d.modality, d.token_count) for d in um.response_tokens_details] == [("TEXT", 20)]


SAMPLES = [
    '{"setupComplete": {}}',
    '{"serverContent": {"turnComplete": true}, "usageMetadata": {"totalTokenCount": 3}}',
    '{"toolCall": {"functionCalls": [{"id": "1", "name": "f", "args": {"a": 1}}]}}',
    '{"toolCallCancellation": {"ids": ["1"]}}',
    '{"goAway": {"timeLeft": "5s"}}',
    '{"sessionResumptionUpdate": {"newHandle": "h", "resumable": true}}',
    '{"usageMetadata": {"promptTokenCount": 1}}',
]


@pytest.mark.parametrize("frame", SAMPLES)
def test_parsed_messages_dump_back_to_valid_wire_json(frame: str) -> None:
    # Lets fakes/tests build server frames from our models.
    parsed = parse_server_message(frame.encode())
    dumped = parsed.model_dump(mode="json", by_alias=True, exclude_none=True)
    types.LiveServerMessage.model_validate(dumped)
    assert parse_server_message(json.dumps(dumped)) == parsed
    # Without proto3's omitted zero values it is the original frame again.
    assert parsed.model_dump(mode="json", by_alias=True, exclude_defaults=True) == json.loads(frame)


def test_unknown_message_types_are_not_errors() -> None:
    # Allowlisted only (google-genai), and not modelled here.
    raw = {"voiceActivityDetectionSignal": {"vadSignalType": "VAD_SIGNAL_TYPE_SOS"}, "usageMetadata": {}}
    parsed = parse_server_message(json.dumps(raw).encode())
    assert isinstance(parsed, UnknownServerMessage) and parsed.raw == raw
    assert parse_server_message(b"{}") == UnknownServerMessage(raw={})


def test_unknown_fields_are_tolerated_and_kept() -> None:
    frame = '{"serverContent": {"turnComplete": true, "brandNew": {"x": 1}}, "brandNewSibling": {}}'
    parsed = parse_server_message(frame)
    assert isinstance(parsed, ServerContentMessage) and parsed.server_content.turn_complete is True
    assert parsed.server_content.model_extra == {"brandNew": {"x": 1}}
    assert parsed.model_extra == {"brandNewSibling": {}}


# voiceActivity as live sessions show it: alone, or beside an (empty) serverContent.
VOICE_FRAMES = [
    '{"voiceActivity": {"type": "ACTIVITY_START", "audioOffset": "0.840s"}}',
    '{"serverContent": {}, "voiceActivity": {"type": "ACTIVITY_END", "audioOffset": "8.03s"}}',
    '{"serverContent": {"interrupted": true}, "voiceActivity": {"type": "ACTIVITY_START"}}',
    '{"voiceActivity": {"type": "ACTIVITY_END", "audioOffset": "2s"}, "usageMetadata": {"totalTokenCount": 4}}',
]


@pytest.mark.parametrize("frame", VOICE_FRAMES)
def test_voice_activity_is_read_as_google_genai_reads_it(frame: str) -> None:
    parsed = parse_server_message(frame)
    voice = parsed.voice_activity  # type: ignore[union-attr]
    assert voice is not None
    # The oracle: google-genai's own receive path (wire names -> its types).
    theirs = types.LiveServerMessage.model_validate(_live_converters._LiveServerMessage_from_mldev(json.loads(frame)))
    assert theirs.voice_activity is not None and theirs.voice_activity.voice_activity_type == voice.type
    assert theirs.voice_activity.audio_offset == voice.audio_offset
    assert isinstance(parsed, VoiceActivityMessage) is ("serverContent" not in frame)
    assert parsed.model_dump(mode="json", by_alias=True, exclude_defaults=True) == json.loads(frame)


def test_voice_activity_offsets_spellings_and_neighbours() -> None:
    start = parse_server_message('{"voiceActivity": {"type": "ACTIVITY_START", "audioOffset": "0.840s"}}')
    assert start.voice_activity.audio_offset_ms == 840  # type: ignore[union-attr]
    # The SDKs' name for the field, as a relay re-serialising their objects would send it.
    sdk = parse_server_message('{"voiceActivity": {"voiceActivityType": "ACTIVITY_END"}}')
    assert sdk.voice_activity.type == "ACTIVITY_END"  # type: ignore[union-attr]
    assert sdk.voice_activity.audio_offset_ms is None  # type: ignore[union-attr]
    # Beside a message type we do not model: the speech is kept, and so is the rest.
    beside = parse_server_message('{"brandNew": {"x": 1}, "voiceActivity": {"type": "ACTIVITY_START"}}')
    assert isinstance(beside, VoiceActivityMessage) and beside.model_extra == {"brandNew": {"x": 1}}
    for bad in ('{"voiceActivity": {"type": 1}}', '{"voiceActivity": {"audioOffset": "soon"}}',
                '{"voiceActivity": []}', '{"serverContent": {}, "voiceActivity": "ACTIVITY_START"}'):
        with pytest.raises(ProtocolError):
            parse_server_message(bad)


@pytest.mark.parametrize("frame", [b"", b"{not json", b'{"setupComplete": {}', b"\xff\xfe{}", b"[]", b"null", b'"x"'])
def test_malformed_frames_raise_protocol_error(frame: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_server_message(frame)


@pytest.mark.parametrize(
    "payload",
    [
        {"setupComplete": []},
        {"serverContent": None},
        {"serverContent": {"turnComplete": "yes"}},
        {"serverContent": {"modelTurn": {"parts": "audio"}}},
        {"serverContent": {"modelTurn": {"parts": [{"inlineData": {"data": 123}}]}}},
        {"serverContent": {"inputTranscription": {"text": 5}}},
        {"toolCall": {"functionCalls": [{"id": "1", "args": {}}]}},  # no name
        {"toolCall": {"functionCalls": [{"name": "f", "args": [1]}]}},
        {"toolCallCancellation": {"ids": "1"}},
        {"goAway": {"timeLeft": 10}},
        {"goAway": {"timeLeft": "soon"}},
        {"sessionResumptionUpdate": {"lastConsumedClientMessageIndex": "many"}},
        {"usageMetadata": {"totalTokenCount": "many"}},
        {"serverContent": {}, "toolCall": {}},  # two message types at once
    ],
)
def test_known_keys_with_invalid_values_raise_protocol_error(payload: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError) as excinfo:
        parse_server_message(json.dumps(payload))
    assert not isinstance(excinfo.value, ValidationError)


def test_bad_base64_raises_protocol_error_on_decode() -> None:
    parsed = parse_server_message('{"serverContent": {"modelTurn": {"parts": [{"inlineData": {"data": "a*b"}}]}}}')
    assert isinstance(parsed, ServerContentMessage)
    with pytest.raises(ProtocolError):
        parsed.server_content.model_turn.parts[0].inline_data.decode()  # type: ignore[union-attr]
