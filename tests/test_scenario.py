"""The scenario format's caller steps: speech, a cough, a backchannel, push-to-talk turns; what
each sounds like to the server's VAD; and the demo's runner playing a push-to-talk scenario
over both loopback servers (the runner opens and commits each turn, no VAD)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from turnstile.adapters.demo import run_demo
from turnstile.adapters.gemini._client import RealtimeInput
from turnstile.adapters.gemini._loopback import GeminiLiveServer
from turnstile.adapters.openai._server import OpenAIRealtimeServer
from turnstile.adapters.openai._vad import EnergyVad, SpeechStarted, SpeechStopped, VadSettings
from turnstile.adapters.scenario import CallerTurn, Scenario, load_scenario, scenario_json_schema
from turnstile.machine import AgentOptions, Trace

RATE = 24000


def test_a_cough_has_no_words_and_a_backchannel_says_mm_hmm() -> None:
    assert CallerTurn(kind="cough").transcript == ""
    assert CallerTurn(kind="backchannel").transcript == "mm-hmm"
    assert CallerTurn(kind="backchannel", transcript="yeah").transcript == "yeah"
    with pytest.raises(ValidationError, match="a cough has no words"):
        CallerTurn(kind="cough", transcript="ahem")
    with pytest.raises(ValidationError, match="needs a transcript"):
        CallerTurn()  # speech, of nothing
    with pytest.raises(ValidationError):
        CallerTurn(kind="sneeze")  # type: ignore[arg-type]
    assert [t.answered for t in (CallerTurn(transcript="hi"), CallerTurn(kind="cough"),
                                 CallerTurn(kind="backchannel"))] == [True, False, False]  # fmt: skip
    schema = scenario_json_schema()["$defs"]["CallerTurn"]["properties"]
    assert schema["kind"]["enum"] == ["speech", "cough", "backchannel"] and "push_to_talk" in schema


def test_the_server_vad_hears_a_cough_as_speech_shorter_than_a_barge_in() -> None:
    audio = np.frombuffer(CallerTurn(kind="cough").audio(), np.int16)
    quiet = np.zeros(RATE // 2, np.int16)  # before it: room for the VAD's prefix padding
    events = EnergyVad(VadSettings(silence_duration_ms=200)).feed(np.concatenate([quiet, audio, quiet, quiet]))
    assert [type(e) for e in events] == [SpeechStarted, SpeechStopped]
    start, stop = events
    assert isinstance(start, SpeechStarted) and isinstance(stop, SpeechStopped)
    # From the start the VAD reports (its prefix padding taken off) to the stop it reports
    # after its silence: what the agent times, under the default min_interruption_s.
    onset_ms = start.audio_start_ms + VadSettings().prefix_padding_ms
    assert stop.audio_end_ms - onset_ms < AgentOptions().min_interruption_s * 1000 - 100
    mm = np.frombuffer(CallerTurn(kind="backchannel").audio(), np.int16)
    assert len(mm) < RATE * 3 // 10  # an acknowledgement: under 0.3 s


def test_push_to_talk_and_detected_turns_do_not_mix(tmp_path: Path) -> None:
    ptt = {"role": "caller", "transcript": "Hello?", "push_to_talk": True}
    with pytest.raises(ValidationError, match="cannot be mixed"):
        Scenario.model_validate({"steps": [ptt, {"role": "caller", "transcript": "And?"}]})
    mixed_noise = Scenario.model_validate({"steps": [ptt, {"role": "caller", "kind": "cough"}]})
    assert mixed_noise.push_to_talk  # a cough is no turn: it mixes with either
    assert not load_scenario().push_to_talk
    # An old file, without kind or push_to_talk, loads as it did.
    (tmp_path / "old.json").write_text(
        json.dumps(
            {
                "steps": [
                    {"role": "caller", "transcript": "hi", "barge_in_after_ms": 5},
                    {"role": "model", "transcript": "Hello."},
                ]
            }
        )
    )
    [old] = load_scenario(tmp_path / "old.json").caller_turns
    assert (old.kind, old.push_to_talk, old.barge_in_after_ms, old.answered) == ("speech", False, 5, True)


PUSH_TO_TALK = Scenario.model_validate({"steps": [
    {"role": "model", "transcript": "Hello, press the button to talk."},
    {"role": "caller", "transcript": "What time is it?", "push_to_talk": True},
    {"role": "model", "transcript": "It is noon."},
    {"role": "caller", "transcript": "Thanks!", "push_to_talk": True},
    {"role": "model", "transcript": "You are welcome."},
]})  # fmt: skip


async def _demo(tmp_path: Path, url: str, provider: str) -> Trace:
    files = {"trace_path": tmp_path / "t.jsonl", "diagram_path": tmp_path / "c.dot", "wav_path": tmp_path / "c.wav"}
    code = await run_demo(**files, scenario=PUSH_TO_TALK, url=url, provider_name=provider)
    assert code == 0
    return Trace.read_jsonl(tmp_path / "t.jsonl")


async def test_the_demo_runner_opens_and_commits_push_to_talk_turns_on_openai(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with OpenAIRealtimeServer(PUSH_TO_TALK) as server:
        trace = await _demo(tmp_path, server.url, "openai")
        received = server.received[-1]
    update = received[0].model_dump(mode="json")["session"]
    assert update["audio"]["input"]["turn_detection"] is None  # manual turns: no VAD
    types = [e.type for e in received]
    # Each turn: cleared when the button is pressed, committed when it is let go, then answered.
    turns = [t for t in types if t in ("input_audio_buffer.clear", "input_audio_buffer.commit", "response.create")]
    greeting = turns.index("response.create") + 1  # generate_reply: see the xfail below
    assert turns[greeting:] == ["input_audio_buffer.clear", "input_audio_buffer.commit", "response.create"] * 2
    # Each committed turn holds all of its words (and the moment before the button came up).
    said_ms = [len(t.audio()) * 1000 / 2 / RATE for t in PUSH_TO_TALK.caller_turns]
    committed_ms = list(server.connections[-1].user_audio_ms.values())
    assert len(committed_ms) == 2 and all(c >= s for c, s in zip(committed_ms, said_ms, strict=True))
    out = capsys.readouterr().out
    assert out.count("(push-to-talk)") == 2 and '"You are welcome."' in out
    assert trace.final_state == "closed"


async def test_the_agent_speaking_first_under_manual_turns_commits_nothing(tmp_path: Path) -> None:
    async with OpenAIRealtimeServer(PUSH_TO_TALK) as server:
        await _demo(tmp_path, server.url, "openai")
        types = [e.type for e in server.received[-1]]
    assert types[1] == "response.create"  # the greeting: nothing to commit before it


async def test_the_demo_runner_opens_and_ends_push_to_talk_activity_on_gemini(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with GeminiLiveServer(PUSH_TO_TALK) as server:
        await _demo(tmp_path, server.url, "gemini")
        record = server.connections[-1]
    assert record.setup is not None and record.setup.realtime_input_config is not None
    delimits = [m for m in record.received if isinstance(m, RealtimeInput)]
    kinds = [("start" if m.activity_start else "end") for m in delimits if m.activity_start or m.activity_end]
    assert kinds == ["start", "end"] * 2
    assert record.caller_turns == ["What time is it?", "Thanks!"]
    assert '"You are welcome."' in capsys.readouterr().out
