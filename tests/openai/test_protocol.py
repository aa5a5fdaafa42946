"""OpenAI Realtime wire models, checked against the official ``openai`` SDK types.

The SDK is a test-only oracle. Client side: every event kind we can send, in both
dialects, is dumped and validated against the SDK's ``*Param`` TypedDict and
its pydantic model, and must come back unchanged from both. Server side: a
sample of every event in the SDK's server union is generated from the SDK
model's own field types, dumped, and must parse into our model of the same
type with nothing left over and nothing lost.
"""

from __future__ import annotations

import json
import re
import types
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from turnstile.adapters.openai import _beta as B
from turnstile.adapters.openai import _ga as G
from turnstile.adapters.openai import _protocol as P

try:
    import openai.types.beta.realtime as obeta
    import openai.types.realtime as oga
    from openai.types.beta.realtime import conversation_item as obeta_item
    from openai.types.beta.realtime import transcription_session as obeta_ts
    from openai.types.realtime import (
        realtime_conversation_item_assistant_message as oga_assistant,
    )
    from openai.types.realtime import (
        realtime_conversation_item_user_message as oga_user,
    )
except ImportError:  # pragma: no cover - the oracle is a dev dependency
    oga = obeta = None  # type: ignore[assignment]

needs_openai = pytest.mark.skipif(oga is None, reason="the openai package (test oracle) is not installed")

UNIONS = {
    "ga": (G.GAClientEvent, G.GAServerEvent),
    "beta": (B.BetaClientEvent, B.BetaServerEvent),
}


def members(union: Any) -> tuple[Any, ...]:
    """The member classes of an Annotated[Union[...], ...] or plain Union."""
    if get_origin(union) is Annotated:
        union = get_args(union)[0]
    return get_args(union)


def literal_type(cls: Any) -> str:
    """The constant ``type`` of a pydantic model class or a TypedDict."""
    if isinstance(cls, type) and issubclass(cls, BaseModel):
        ann = cls.model_fields["type"].annotation
    else:
        ann = get_type_hints(cls, include_extras=True)["type"]
        while get_origin(ann) is not Literal:  # Required[Literal[...]]
            ann = get_args(ann)[0]
    (value,) = get_args(ann)
    return value


def drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


def materialize(value: Any) -> Any:
    # TypeAdapter validates Iterable[...] fields of the SDK TypedDicts lazily;
    # iterating runs the validation.
    if isinstance(value, dict):
        return {k: materialize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, Iterator)):
        return [materialize(v) for v in value]
    return value


def extras(model: Any, path: str = "") -> list[str]:
    """Paths of fields a model (tree) did not declare and kept as extras."""
    found: list[str] = []
    if isinstance(model, BaseModel):
        found += [f"{path}.{k}" for k in (model.model_extra or {})]
        for name in type(model).model_fields:
            found += extras(getattr(model, name), f"{path}.{name}")
    elif isinstance(model, (list, tuple)):
        for i, v in enumerate(model):
            found += extras(v, f"{path}[{i}]")
    return found


def mirrored_name(event_type: str) -> str:
    return "".join(w.capitalize() for w in re.split(r"[._]", event_type))


# ------------------------------------------------------------ client samples

PCM = b"\x00\x01\x02\x03" * 4
FN = G.FunctionTool(
    name="lookup_order",
    description="Find an order",
    parameters={
        "type": "object",
        "properties": {"id": {"type": "string", "default": None}},
        "required": ["id"],
    },
)
USER_TEXT = G.UserMessageItem(content=[G.InputTextPart(text="Where is my order?")])


def _shared_client_samples() -> dict[type, list[Any]]:
    return {
        P.InputAudioBufferAppend: [P.InputAudioBufferAppend.from_pcm(PCM, event_id="evt_1")],
        P.InputAudioBufferCommit: [P.InputAudioBufferCommit()],
        P.InputAudioBufferClear: [P.InputAudioBufferClear(event_id="evt_2")],
        P.ConversationItemTruncate: [
            P.ConversationItemTruncate(item_id="item_1", content_index=0, audio_end_ms=1500)
        ],
        P.ConversationItemDelete: [P.ConversationItemDelete(item_id="item_1")],
        P.ConversationItemRetrieve: [P.ConversationItemRetrieve(item_id="item_1")],
        P.ResponseCancel: [P.ResponseCancel(), P.ResponseCancel(response_id="resp_1")],
        P.OutputAudioBufferClear: [P.OutputAudioBufferClear()],
    }


GA_CLIENT_SAMPLES: dict[type, list[Any]] = {
    **_shared_client_samples(),
    G.SessionUpdate: [
        G.SessionUpdate(
            event_id="evt_s1",
            session=G.RealtimeSession(
                model="gpt-realtime",
                instructions="Be brief.",
                output_modalities=["audio"],
                audio=G.AudioConfig(
                    input=G.AudioInput(
                        format=G.AudioFormatPCM(),
                        transcription=G.AudioTranscription(
                            model="gpt-4o-transcribe", language="en", prompt="orders"
                        ),
                        noise_reduction=G.NoiseReduction(type="near_field"),
                        turn_detection=G.ServerVad(
                            threshold=0.6,
                            prefix_padding_ms=300,
                            silence_duration_ms=500,
                            create_response=True,
                            interrupt_response=True,
                            idle_timeout_ms=6000,
                        ),
                    ),
                    output=G.AudioOutput(format=G.AudioFormatPCM(), voice="marin", speed=1.1),
                ),
                tools=[
                    FN,
                    G.McpTool(server_label="crm", server_url="https://mcp.example", require_approval="never"),
                ],
                tool_choice=G.ToolChoiceFunction(name="lookup_order"),
                parallel_tool_calls=False,
                max_output_tokens="inf",
                include=["item.input_audio_transcription.logprobs"],
                tracing=G.TracingConfig(workflow_name="support"),
                truncation=G.RetentionRatioTruncation(retention_ratio=0.8),
                prompt=G.PromptRef(id="pmpt_1", version="2", variables={"name": "Ada"}),
                reasoning=G.Reasoning(effort="low"),
            ),
        ),
        G.SessionUpdate(  # explicit nulls switch features off
            session=G.RealtimeSession(
                audio=G.AudioConfig(
                    input=G.AudioInput(format=G.AudioFormatPCMU(), turn_detection=None),
                    output=G.AudioOutput(format=G.AudioFormatPCMA(), voice=G.VoiceRef(id="voice_123")),
                ),
                tool_choice="auto",
                tracing=None,
                prompt=None,
            )
        ),
        G.SessionUpdate(
            session=G.RealtimeSession(
                audio=G.AudioConfig(input=G.AudioInput(turn_detection=G.SemanticVad(eagerness="low"))),
                truncation="disabled",
                tracing="auto",
            )
        ),
        G.SessionUpdate(
            session=G.TranscriptionSession(
                audio=G.TranscriptionSessionAudio(
                    input=G.AudioInput(transcription=G.AudioTranscription(model="whisper-1"))
                )
            )
        ),
    ],
    G.ConversationItemCreate: [
        G.ConversationItemCreate(item=G.SystemMessageItem(content=[G.InputTextPart(text="Speak French.")])),
        G.ConversationItemCreate(
            previous_item_id="root",
            item=G.UserMessageItem(
                id="item_u1",
                content=[
                    G.InputTextPart(text="Look:"),
                    G.InputAudioPart(audio="AAAA"),
                    G.InputImagePart(image_url="data:image/png;base64,AAAA", detail="low"),
                ],
            ),
        ),
        G.ConversationItemCreate(
            item=G.AssistantMessageItem(
                content=[G.OutputTextPart(text="Hi."), G.OutputAudioPart(audio="AAAA", transcript="Hi.")]
            )
        ),
        G.ConversationItemCreate(
            item=G.FunctionCallItem(name="lookup_order", arguments='{"id":"1"}', call_id="c1")
        ),
        G.ConversationItemCreate(item=G.FunctionCallOutputItem(call_id="c1", output='{"status":"shipped"}')),
        G.ConversationItemCreate(
            item=G.McpApprovalResponseItem(id="ar_1", approval_request_id="apr_1", approve=False, reason="no")
        ),
    ],
    G.ResponseCreate: [
        G.ResponseCreate(),
        G.ResponseCreate(
            response=G.ResponseCreateParams(
                conversation="none",
                input=[USER_TEXT],
                instructions="Classify the intent.",
                output_modalities=["text"],
                audio=G.ResponseAudio(output=G.ResponseAudioOutput(format=G.AudioFormatPCM(), voice="cedar")),
                tools=[FN],
                tool_choice="required",
                max_output_tokens=200,
                metadata={"purpose": "classify"},
                reasoning=G.Reasoning(effort="minimal"),
            )
        ),
        G.ResponseCreate(response=G.ResponseCreateParams(metadata=None, prompt=None)),
    ],
}

# response.create with an item_reference input: only the SDK's "with references"
# Param admits it (its pydantic model does not), so it is checked separately.
GA_RESPONSE_WITH_REFERENCE = G.ResponseCreate(
    response=G.ResponseCreateParams(input=[G.ItemReference(id="item_u1"), USER_TEXT], conversation="none")
)

BETA_CLIENT_SAMPLES: dict[type, list[Any]] = {
    **_shared_client_samples(),
    B.BetaSessionUpdate: [
        B.BetaSessionUpdate(
            event_id="evt_b1",
            session=B.BetaSession(
                model="gpt-4o-realtime-preview",
                modalities=["audio", "text"],
                instructions="Be brief.",
                voice="alloy",
                speed=1.0,
                input_audio_format="pcm16",
                output_audio_format="g711_ulaw",
                input_audio_transcription=B.BetaInputAudioTranscription(model="whisper-1", language="en"),
                input_audio_noise_reduction=B.BetaNoiseReduction(type="far_field"),
                turn_detection=B.BetaTurnDetection(
                    type="server_vad",
                    threshold=0.5,
                    prefix_padding_ms=300,
                    silence_duration_ms=600,
                    create_response=False,
                    interrupt_response=True,
                ),
                tools=[FN],
                tool_choice="auto",
                temperature=0.7,
                max_response_output_tokens=4096,
                tracing=G.TracingConfig(group_id="g1", metadata={"k": "v"}),
            ),
        ),
        B.BetaSessionUpdate(
            session=B.BetaSession(
                turn_detection=None,
                input_audio_transcription=None,
                input_audio_noise_reduction=None,
                tracing="auto",
            )
        ),
        B.BetaSessionUpdate(
            session=B.BetaSession(turn_detection=B.BetaTurnDetection(type="semantic_vad", eagerness="high"))
        ),
    ],
    B.BetaTranscriptionSessionUpdate: [
        B.BetaTranscriptionSessionUpdate(
            session=B.BetaTranscriptionSession(
                input_audio_format="pcm16",
                input_audio_transcription=B.BetaInputAudioTranscription(
                    model="gpt-4o-transcribe", prompt="names"
                ),
                input_audio_noise_reduction=B.BetaNoiseReduction(type="near_field"),
                turn_detection=B.BetaTurnDetection(silence_duration_ms=400),
                include=["item.input_audio_transcription.logprobs"],
                modalities=["text"],
                client_secret={"expires_at": {"anchor": "created_at", "seconds": 600}},
            )
        )
    ],
    B.BetaConversationItemCreate: [
        B.BetaConversationItemCreate(
            item=G.SystemMessageItem(content=[G.InputTextPart(text="Speak French.")])
        ),
        B.BetaConversationItemCreate(
            previous_item_id="item_0",
            item=B.BetaUserMessageItem(content=[G.InputTextPart(text="Hi"), G.InputAudioPart(audio="AAAA")]),
        ),
        B.BetaConversationItemCreate(
            item=B.BetaAssistantMessageItem(content=[B.BetaTextPart(text="Hello.")])
        ),
        B.BetaConversationItemCreate(item=G.FunctionCallItem(name="f", arguments="{}", call_id="c1")),
        B.BetaConversationItemCreate(item=G.FunctionCallOutputItem(call_id="c1", output="42")),
    ],
    B.BetaResponseCreate: [
        B.BetaResponseCreate(),
        B.BetaResponseCreate(
            response=B.BetaResponseParams(
                conversation="none",
                input=[
                    G.ItemReference(id="item_1"),
                    B.BetaUserMessageItem(content=[G.InputTextPart(text="Hi")]),
                ],
                instructions="Summarise.",
                modalities=["text"],
                voice="verse",
                output_audio_format="pcm16",
                tools=[FN],
                tool_choice="none",
                temperature=0.8,
                max_response_output_tokens="inf",
                metadata={"topic": "summary"},
            )
        ),
        B.BetaResponseCreate(response=B.BetaResponseParams(metadata=None)),
    ],
}

CLIENT_SAMPLES = {"ga": GA_CLIENT_SAMPLES, "beta": BETA_CLIENT_SAMPLES}


def _client_cases() -> list[Any]:
    return [
        pytest.param(dialect, event, id=f"{dialect}-{literal_type(type(event))}-{i}")
        for dialect, samples in CLIENT_SAMPLES.items()
        for kind, events in samples.items()
        for i, event in enumerate(events)
    ]


def official_client_types(dialect: str) -> tuple[dict[str, Any], dict[str, Any]]:
    pkg = oga if dialect == "ga" else obeta
    models = {literal_type(m): m for m in members(pkg.RealtimeClientEvent)}
    params = {literal_type(t): t for t in members(pkg.RealtimeClientEventParam)}
    return models, params


@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_every_client_event_kind_has_samples(dialect: str) -> None:
    ours = set(members(UNIONS[dialect][0]))
    assert set(CLIENT_SAMPLES[dialect]) == ours


@needs_openai
@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_client_event_kinds_match_the_sdk(dialect: str) -> None:
    ours = {literal_type(m) for m in members(UNIONS[dialect][0])}
    models, params = official_client_types(dialect)
    assert ours == set(models) == set(params)


def check_against_sdk(wire: dict[str, Any], model: type[BaseModel] | None, param: Any) -> None:
    # The Param TypedDict drops keys it does not declare, so equality catches
    # misnamed fields as well as wrong types. It has no null for fields whose
    # docs say null switches them off, hence drop_nulls on this side only.
    sent = drop_nulls(wire)
    assert materialize(TypeAdapter(param).validate_python(sent)) == sent
    if model is None:
        return
    official = model.model_validate(wire)
    assert extras(official) == []  # the SDK model declares every field we send
    assert official.model_dump(mode="json", exclude_unset=True) == wire
    if wire == drop_nulls(wire):  # exclude_none also prunes nulls inside free-form dicts
        assert official.model_dump(mode="json", exclude_none=True) == wire


@needs_openai
@pytest.mark.parametrize(("dialect", "event"), _client_cases())
def test_client_event_matches_sdk(dialect: str, event: Any) -> None:
    text = P.dump_client_event(event)
    wire = json.loads(text)
    assert wire == event.model_dump(mode="json", exclude_none=True)
    assert wire["type"] == literal_type(type(event))
    models, params = official_client_types(dialect)
    check_against_sdk(wire, models[wire["type"]], params[wire["type"]])
    # And our own model reads its own output back unchanged.
    assert type(event).model_validate(wire) == event


@needs_openai
def test_response_create_with_item_reference_matches_sdk() -> None:
    wire = json.loads(P.dump_client_event(GA_RESPONSE_WITH_REFERENCE))
    assert wire["response"]["input"][0] == {"type": "item_reference", "id": "item_u1"}
    check_against_sdk(wire, None, oga.ResponseCreateEventWithReferencesParam)


def test_client_dump_exact_wire_form() -> None:
    event = G.SessionUpdate(
        session=G.RealtimeSession(
            instructions=None,  # None on an ordinary field: omitted
            audio=G.AudioConfig(input=G.AudioInput(turn_detection=None)),  # nullable: sent as null
        )
    )
    assert json.loads(P.dump_client_event(event)) == {
        "type": "session.update",
        "session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}},
    }
    append = P.InputAudioBufferAppend.from_pcm(b"\x01\x02\x03")
    assert P.dump_client_event(append) == '{"type":"input_audio_buffer.append","audio":"AQID"}'
    beta = B.BetaSessionUpdate(session=B.BetaSession(voice="alloy", turn_detection=None))
    assert json.loads(P.dump_client_event(beta)) == {
        "type": "session.update",
        "session": {"voice": "alloy", "turn_detection": None},
    }


def test_client_models_reject_unknown_fields_and_tags() -> None:
    with pytest.raises(ValidationError, match="trancription"):
        G.AudioInput(trancription=G.AudioTranscription())  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="unsupported type tag"):
        G.ConversationItemCreate.model_validate({"item": {"type": "mesage", "role": "user", "content": []}})
    with pytest.raises(ValidationError):
        G.AudioFormatPCM(rate=16000)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        P.dump_client_event(G.SessionCreated(session=G.RealtimeSession()))  # type: ignore[arg-type]


# ------------------------------------------------------------ server samples

Overrides = dict[Any, Callable[[], Any]]


def _overrides() -> Overrides:
    # Generated samples fill every field, which for "one class with every part
    # field optional" SDK shapes gives a part that is text, audio and image at
    # once. These give such shapes a coherent value instead.
    if oga is None:
        return {}
    return {
        oga_user.Content: lambda: {"type": "input_audio", "audio": "AAAA", "transcript": "hello"},
        oga_assistant.Content: lambda: {"type": "output_audio", "audio": "AAAA", "transcript": "hi"},
        obeta_item.ConversationItem: lambda: {
            "id": "item_1", "object": "realtime.item", "type": "message", "role": "user",
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": "hello"}, {"type": "input_text", "text": "hi"}],
        },
        # The SDK types these two as plain str on the server side only.
        obeta_ts.TranscriptionSession: lambda: {
            **{n: sample(f.annotation, n) for n, f in obeta_ts.TranscriptionSession.model_fields.items()},
            "input_audio_format": "pcm16",
        },
        obeta_ts.TurnDetection: lambda: {
            "type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 200,
        },
    }  # fmt: skip


def sample(tp: Any, name: str = "x", prefer: frozenset[Any] = frozenset()) -> Any:
    """A JSON value for type ``tp`` with every optional field filled in.

    For unions, the first member (or the first one in ``prefer``) is used.
    """
    origin = get_origin(tp)
    if origin is Annotated:
        return sample(get_args(tp)[0], name, prefer)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(tp) if a is not type(None)]
        chosen = [a for a in options if (get_args(a)[0] if get_origin(a) is Annotated else a) in prefer]
        return sample((chosen or options)[0], name, prefer)
    if origin is Literal:
        return get_args(tp)[0]
    if origin in (list, tuple) or (
        origin is not None and getattr(origin, "__name__", "") in {"Sequence", "Iterable"}
    ):
        return [sample(get_args(tp)[0], name, prefer)]
    if origin is dict:
        return {"key": sample(get_args(tp)[1], name, prefer)}
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if tp in _overrides():
            return _overrides()[tp]()
        return {f.alias or n: sample(f.annotation, n, prefer) for n, f in tp.model_fields.items()}
    scalars: dict[Any, Any] = {str: f"{name}-1", bool: True, int: 7, float: 0.5, object: {"any": [1, "x"]}}
    if tp in scalars:
        return scalars[tp]
    raise TypeError(f"no sample for {tp!r}")


def official_server_events(dialect: str) -> list[type[BaseModel]]:
    return list(members((oga if dialect == "ga" else obeta).RealtimeServerEvent))


def _server_cases() -> list[Any]:
    if oga is None:
        return []
    return [
        pytest.param(d, cls, id=f"{d}-{literal_type(cls)}")
        for d in ("ga", "beta")
        for cls in official_server_events(d)
    ]


def check_server_parse(dialect: str, official: BaseModel) -> Any:
    raw = official.model_dump_json(exclude_unset=True)
    ours = P.parse_server_event(raw, dialect)  # type: ignore[call-overload]
    assert not isinstance(ours, P.UnknownServerEvent)
    assert ours.type == literal_type(type(official))
    assert extras(ours) == []  # every field the SDK knows, we model
    assert ours.model_dump(mode="json", exclude_unset=True) == json.loads(raw)  # and no value is lost
    return ours


@needs_openai
@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_server_event_kinds_match_the_sdk(dialect: str) -> None:
    theirs = {literal_type(cls) for cls in official_server_events(dialect)}
    assert set(P.server_event_types(dialect)) == theirs  # type: ignore[arg-type]


@needs_openai
@pytest.mark.parametrize(("dialect", "official_cls"), _server_cases())
def test_server_event_parses_sdk_sample(dialect: str, official_cls: type[BaseModel]) -> None:
    official = official_cls.model_validate(sample(official_cls))
    ours = check_server_parse(dialect, official)
    expected = mirrored_name(ours.type)
    if type(ours).__module__ == B.__name__:
        expected = "Beta" + expected
    assert type(ours).__name__ == ("ErrorEvent" if ours.type == "error" else expected)
    assert type(ours) is P.server_event_types(dialect)[ours.type]  # type: ignore[arg-type]


def _ga_variants() -> list[Any]:
    # (outer SDK event, preferred union member, our class expected at ``pick``)
    if oga is None:
        return []
    ri = oga.realtime_conversation_item_function_call_output
    item_classes = {
        oga.RealtimeConversationItemSystemMessage: G.SystemMessageItem,
        oga.RealtimeConversationItemUserMessage: G.UserMessageItem,
        oga.RealtimeConversationItemAssistantMessage: G.AssistantMessageItem,
        oga.RealtimeConversationItemFunctionCall: G.FunctionCallItem,
        ri.RealtimeConversationItemFunctionCallOutput: G.FunctionCallOutputItem,
        oga.RealtimeMcpApprovalRequest: G.McpApprovalRequestItem,
        oga.RealtimeMcpApprovalResponse: G.McpApprovalResponseItem,
        oga.RealtimeMcpListTools: G.McpListToolsItem,
        oga.RealtimeMcpToolCall: G.McpCallItem,
    }
    cases = [
        pytest.param(oga.ConversationItemAdded, sdk, lambda e: e.item, ours, id=f"item-{ours.__name__}")
        for sdk, ours in item_classes.items()
    ]
    from openai.types.realtime import (
        realtime_audio_formats as fmt,
    )
    from openai.types.realtime import (
        realtime_audio_input_turn_detection as td,
    )
    from openai.types.realtime import (
        realtime_tools_config_union as tools,
    )
    from openai.types.realtime.conversation_item_input_audio_transcription_completed_event import (
        UsageTranscriptTextUsageDuration,
    )

    def session(e: Any) -> Any:
        return e.session

    cases += [
        pytest.param(oga.SessionUpdatedEvent, oga.RealtimeTranscriptionSessionCreateRequest, session,
                     G.TranscriptionSession, id="transcription-session"),
        pytest.param(oga.SessionUpdatedEvent, td.SemanticVad, lambda e: e.session.audio.input.turn_detection,
                     G.SemanticVad, id="semantic-vad"),
        pytest.param(oga.SessionUpdatedEvent, fmt.AudioPCMU, lambda e: e.session.audio.output.format,
                     G.AudioFormatPCMU, id="pcmu"),
        pytest.param(oga.SessionUpdatedEvent, tools.Mcp, lambda e: e.session.tools[0], G.McpTool,
                     id="mcp-tool"),
        pytest.param(oga.ConversationItemInputAudioTranscriptionCompletedEvent,
                     UsageTranscriptTextUsageDuration,
                     lambda e: e.usage, P.TranscriptionUsageDuration, id="usage-duration"),
    ]  # fmt: skip
    return cases


@needs_openai
@pytest.mark.parametrize(("outer", "prefer", "pick", "expected"), _ga_variants())
def test_ga_union_variants_parse(outer: Any, prefer: Any, pick: Callable[[Any], Any], expected: type) -> None:
    official = outer.model_validate(sample(outer, prefer=frozenset({prefer})))
    ours = check_server_parse("ga", official)
    assert type(pick(ours)) is expected


BETA_ITEMS = [
    ({"type": "message", "role": "system", "content": [{"type": "input_text", "text": "Be nice"}]},
     G.SystemMessageItem),
    ({"type": "message", "role": "assistant", "status": "in_progress",
      "content": [{"type": "audio", "transcript": "Hi"}, {"type": "text", "text": "Hi"}]},
     B.BetaAssistantMessageItem),
    ({"type": "function_call", "name": "f", "call_id": "c1", "arguments": "{}"}, G.FunctionCallItem),
    ({"type": "function_call_output", "call_id": "c1", "output": "42"}, G.FunctionCallOutputItem),
]  # fmt: skip


@needs_openai
@pytest.mark.parametrize(("item", "expected"), BETA_ITEMS)
def test_beta_item_kinds_parse(item: dict[str, Any], expected: type) -> None:
    event = {
        "type": "conversation.item.created",
        "event_id": "e1",
        "previous_item_id": "p",
        "item": {"id": "i", **item},
    }
    official = obeta.ConversationItemCreatedEvent.model_validate(event)
    ours = check_server_parse("beta", official)
    assert type(ours.item) is expected


# ------------------------------------------------------- realistic server frames


def test_ga_response_done_usage() -> None:
    frame = {
        "type": "response.done", "event_id": "event_9",
        "response": {
            "object": "realtime.response", "id": "resp_1", "status": "completed", "status_details": None,
            "conversation_id": "conv_1", "output_modalities": ["audio"], "max_output_tokens": "inf",
            "audio": {"output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"}},
            "output": [{
                "id": "item_2", "type": "message", "status": "completed", "role": "assistant",
                "object": "realtime.item",
                "content": [{"type": "output_audio", "transcript": "Your order shipped."}],
            }],
            "usage": {
                "total_tokens": 253, "input_tokens": 132, "output_tokens": 121,
                "input_token_details": {"text_tokens": 119, "audio_tokens": 13, "image_tokens": 0,
                                        "cached_tokens": 64,
                                        "cached_tokens_details": {"text_tokens": 64, "audio_tokens": 0}},
                "output_token_details": {"text_tokens": 30, "audio_tokens": 91},
            },
            "metadata": None,
        },
    }  # fmt: skip
    event = P.parse_server_event(json.dumps(frame).encode())
    assert isinstance(event, G.ResponseDone)
    usage = event.response.usage
    assert (
        usage is not None and usage.input_token_details is not None and usage.output_token_details is not None
    )
    assert (usage.total_tokens, usage.input_tokens, usage.output_tokens) == (253, 132, 121)
    assert usage.input_token_details.cached_tokens == 64
    assert usage.input_token_details.audio_tokens == 13
    assert usage.output_token_details.audio_tokens == 91
    item = event.response.output[0]  # type: ignore[index]
    assert isinstance(item, G.AssistantMessageItem)
    assert (
        isinstance(item.content[0], G.OutputAudioPart) and item.content[0].transcript == "Your order shipped."
    )
    assert event.response.audio.output.voice == "marin"  # type: ignore[union-attr]


def test_ga_session_created_as_servers_send_it() -> None:
    # Shape of a live GA session.created: server-only fields (id, object,
    # expires_at) and explicit nulls for features that are off.
    frame = {
        "type": "session.created", "event_id": "event_1",
        "session": {
            "type": "realtime", "object": "realtime.session", "id": "sess_1", "expires_at": 1756324625,
            "model": "gpt-realtime", "output_modalities": ["audio"], "instructions": "Be brief.",
            "tools": [], "tool_choice": "auto", "max_output_tokens": "inf", "tracing": None,
            "truncation": "auto", "prompt": None, "include": None,
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000}, "transcription": None,
                    "noise_reduction": None,
                    "turn_detection": {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
                                       "silence_duration_ms": 200, "idle_timeout_ms": None,
                                       "create_response": True, "interrupt_response": True},
                },
                "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin", "speed": 1},
            },
        },
    }  # fmt: skip
    event = P.parse_server_event(json.dumps(frame))
    assert isinstance(event, G.SessionCreated)
    session = event.session
    assert isinstance(session, G.RealtimeSession)
    assert session.model_extra == {"object": "realtime.session", "id": "sess_1", "expires_at": 1756324625}
    assert session.audio is not None and session.audio.input is not None and session.audio.output is not None
    vad = session.audio.input.turn_detection
    assert isinstance(vad, G.ServerVad) and vad.silence_duration_ms == 200 and vad.idle_timeout_ms is None
    assert session.audio.output.voice == "marin" and session.audio.output.speed == 1.0
    # Dumped again, the explicit nulls survive where they mean "off".
    echoed = session.model_dump(mode="json")
    assert echoed["tracing"] is None and echoed["prompt"] is None and "include" not in echoed
    assert echoed["audio"]["input"]["transcription"] is None
    assert echoed["audio"]["input"]["turn_detection"]["idle_timeout_ms"] is None


def test_audio_delta_and_dialect_specific_names() -> None:
    body = {"event_id": "e", "response_id": "r", "item_id": "i", "output_index": 0, "content_index": 0}
    ga = P.parse_server_event(json.dumps({"type": "response.output_audio.delta", **body, "delta": "AAEC"}))
    assert isinstance(ga, G.ResponseOutputAudioDelta)
    assert ga.delta == "AAEC" and ga.delta_bytes() == b"\x00\x01\x02"
    beta_frame = json.dumps({"type": "response.audio.delta", **body, "delta": "AAEC"})
    beta = P.parse_server_event(beta_frame, "beta")
    assert isinstance(beta, B.BetaResponseAudioDelta) and beta.delta_bytes() == b"\x00\x01\x02"
    # Each dialect's names are unknown to the other.
    assert isinstance(P.parse_server_event(beta_frame, "ga"), P.UnknownServerEvent)
    added = json.dumps(
        {"type": "conversation.item.added", "item": {"type": "function_call", "name": "f", "arguments": ""}}
    )
    assert isinstance(P.parse_server_event(added, "beta"), P.UnknownServerEvent)
    assert isinstance(P.parse_server_event(added, "ga").item, G.FunctionCallItem)  # type: ignore[union-attr]


def test_type_first_and_type_last_frames_parse_alike() -> None:
    # parse_server_event has a fast path for frames whose first key is "type".
    body = {"type": "conversation.item.added", "event_id": "e", "previous_item_id": None,
            "item": {"type": "function_call", "name": "f", "arguments": "{}", "call_id": "c"}}  # fmt: skip
    first = json.dumps(body)
    last = json.dumps(dict(reversed(list(body.items()))))  # nested "type" now comes first
    escaped = first.replace('"conversation.item.added"', '"conversation.item.\\u0061dded"')
    parsed = [P.parse_server_event(frame) for frame in (first, first.encode(), last, escaped)]
    assert all(isinstance(e, G.ConversationItemAdded) for e in parsed)
    assert all(e == parsed[0] for e in parsed)
    assert isinstance(parsed[0].item, G.FunctionCallItem) and parsed[0].item.call_id == "c"  # type: ignore[union-attr]


def test_speech_started_shared_by_both_dialects() -> None:
    frame = (
        '{"type":"input_audio_buffer.speech_started","event_id":"e","item_id":"item_7","audio_start_ms":1234}'
    )
    for dialect in ("ga", "beta"):
        event = P.parse_server_event(frame, dialect)  # type: ignore[call-overload]
        assert isinstance(event, P.InputAudioBufferSpeechStarted)
        assert (event.item_id, event.audio_start_ms) == ("item_7", 1234)


def test_unknown_type_is_returned_not_raised() -> None:
    event = P.parse_server_event('{"type":"response.telepathy.delta","event_id":"e1","x":[1]}')
    raw = {"type": "response.telepathy.delta", "event_id": "e1", "x": [1]}
    assert event == P.UnknownServerEvent(type="response.telepathy.delta", raw=raw)


def test_server_additions_are_tolerated_and_kept() -> None:
    frame = {
        "type": "conversation.item.done", "event_id": "e", "brand_new": {"a": 1},
        "item": {"id": "i", "type": "message", "role": "user", "future_field": 3,
                 "content": [{"type": "input_audio", "transcript": None, "lang": "fr"},
                             {"type": "input_video", "url": "x"}]},
    }  # fmt: skip
    event = P.parse_server_event(json.dumps(frame))
    assert isinstance(event, G.ConversationItemDone)
    assert event.model_extra == {"brand_new": {"a": 1}}
    assert isinstance(event.item, G.UserMessageItem) and event.item.model_extra == {"future_field": 3}
    audio, video = event.item.content
    assert isinstance(audio, G.InputAudioPart) and audio.model_extra == {"lang": "fr"}
    assert (
        isinstance(video, P.Unrecognized)
        and video.type == "input_video"
        and video.model_extra == {"url": "x"}
    )
    unknown_item = P.parse_server_event(
        '{"type":"conversation.item.added","item":{"type":"web_search_call","q":"x"}}'
    )
    assert isinstance(unknown_item.item, P.Unrecognized)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "frame",
    [
        b'{"type": "session.created", ',  # truncated
        b"\xff\xfe\x00garbage",  # not UTF-8 JSON
        "[1, 2]",  # JSON, not an object
        '{"event_id": "e1"}',  # no type
        '{"type": 7}',  # type not a string
    ],
)
def test_malformed_frames_raise_protocol_error(frame: str | bytes) -> None:
    with pytest.raises(P.ProtocolError):
        P.parse_server_event(frame)


@pytest.mark.parametrize(
    ("dialect", "frame"),
    [
        ("ga", {"type": "input_audio_buffer.speech_started", "item_id": "i", "audio_start_ms": "soon"}),
        ("ga", {"type": "response.output_audio.delta", "response_id": "r", "item_id": "i", "output_index": 0,
                "content_index": 0, "delta": 12345}),
        ("ga", {"type": "response.done", "response": {"usage": {"total_tokens": "many"}}}),
        ("ga", {"type": "conversation.item.added",
                "item": {"type": "message", "role": "user", "content": "hi"}}),
        ("ga", {"type": "session.updated", "session": {"type": "realtime", "audio": {"input": {
            "format": {"type": "audio/pcm", "rate": 16000}}}}}),
        ("ga", {"type": "error"}),  # required field missing
        ("beta", {"type": "response.text.delta", "response_id": "r", "item_id": "i", "output_index": "first",
                  "content_index": 0, "delta": "x"}),
    ],
)  # fmt: skip
def test_known_type_with_invalid_fields_raises_protocol_error(dialect: str, frame: dict[str, Any]) -> None:
    with pytest.raises(P.ProtocolError) as info:
        P.parse_server_event(json.dumps(frame), dialect)  # type: ignore[call-overload]
    assert info.value.event_type == frame["type"]
    assert isinstance(info.value.__cause__, ValidationError)


def test_audio_helpers() -> None:
    assert P.decode_audio(P.encode_audio(PCM)) == PCM
    with pytest.raises(P.ProtocolError):
        P.decode_audio("AA*A")
    append = P.InputAudioBufferAppend.from_pcm(PCM)
    assert P.decode_audio(append.audio) == PCM


def test_unknown_dialect_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="dialect"):
        P.parse_server_event('{"type":"error"}', "v3")  # type: ignore[call-overload]
