"""Loopback calls recorded, then replayed: the same transitions and the same control
messages; an edited recording is caught."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from turnstile.adapters.cli import main
from turnstile.adapters.recording import Recording, replay


def _client_types(rec: Recording) -> list[str]:
    return [json.loads(f["text"]).get("type", next(iter(json.loads(f["text"])))) for f in rec.frames("client")]


async def test_openai_ga_replays_the_same_from_inside_an_async_test(ga_recording: Path) -> None:
    rec = Recording.load(ga_recording)
    sent = _client_types(rec)
    # What the replay has to reproduce: a tool output, a barge-in's truncation, a text reply's recovery.
    assert "conversation.item.truncate" in sent and "conversation.item.delete" in sent
    assert any(e.get("fact") == "stopped" and e.get("interrupted") for e in rec.events)
    result = replay(ga_recording).assert_same()  # synchronous, called inside a running loop
    assert result.same and result.transitions == len(rec.trace) > 20 and result.controls >= 6


async def test_openai_beta_replays_the_same(beta_recording: Path) -> None:
    rec = Recording.load(beta_recording)
    assert rec.header["dialect"] == "beta"
    result = await replay(beta_recording).check()
    assert result.same, result.report()


async def test_gemini_replays_the_same(gemini_recording: Path) -> None:
    rec = Recording.load(gemini_recording)
    assert rec.provider == "gemini" and "toolResponse" in _client_types(rec)
    assert any(e.get("fact") == "stopped" and e.get("interrupted") for e in rec.events)  # the barge-in
    result = await replay(gemini_recording).check()
    assert result.same, result.report()


def _without_barge_in(src: Path, dst: Path) -> None:
    """The recording with the server's second speech_started gone: the caller never barged in."""
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if "input_audio_buffer.speech_started" in line]
    del lines[starts[1]]
    dst.write_text("".join(lines), encoding="utf-8")


def test_an_edited_recording_diverges_and_the_command_says_how(
    ga_recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edited, kept = tmp_path / "edited.jsonl", tmp_path / "kept.jsonl"
    _without_barge_in(ga_recording, edited)
    assert main(["replay", str(edited), "--speed", "inf", "--record-to", str(kept)]) == 1
    out = capsys.readouterr().out
    assert "DIVERGED" in out
    transitions, controls = out.split("control messages")
    # No barge-in: the chart did not take the recorded one (its audio stalled out instead)...
    assert "differ" in transitions and "- user_speech_started" in transitions
    # ...and the agent never sent the cancel the recording holds, nor what followed it.
    assert "- [1] response.cancel" in controls and "- [1] conversation.item.delete" in controls
    # The replay, recorded, is the new expectation: it replays the same (from synchronous code).
    result = replay(kept, speed=math.inf).assert_same()
    assert result.trace.final_state == "closed" and "response_stalled" in result.trace.events


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no such file"),
        ("not json\n", "line 1: not JSON"),
        ('{"kind":"frame"}\n', "expected the header line first"),
        ('{"kind":"header","format":99,"provider":"openai"}\n', "format 99 is newer"),
        ('{"kind":"header","format":1,"provider":"openai"}\n{"kind":"frame","dir":"up"}\n', "line 2: a frame's dir"),
    ],
)
def test_a_missing_or_malformed_recording_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, expected: str
) -> None:
    path = tmp_path / "rec.jsonl"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert main(["replay", str(path)]) == 1
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_barge_in_lands_where_the_audio_was_heard_not_when_its_frame_came(ga_recording: Path, tmp_path: Path) -> None:
    # The frame that caused the barge-in arrived half a second later than the heard
    # position says (a slow network, a busy loop): the replay cuts the audio where the
    # listener was, which is what the recorded truncation says.
    lines = ga_recording.read_text(encoding="utf-8").splitlines(keepends=True)
    barge_in = [i for i, line in enumerate(lines) if "input_audio_buffer.speech_started" in line][1]
    frame = json.loads(lines[barge_in])
    frame["t"] += 0.5
    lines[barge_in] = json.dumps(frame) + "\n"
    late = tmp_path / "late.jsonl"
    late.write_text("".join(lines), encoding="utf-8")
    replay(late, speed=math.inf).assert_same()
