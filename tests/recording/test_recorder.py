"""The Recorder: what reaches the file (never a key; audio stripped to its length; private
fields redacted), and what it does when the agent outpaces it or the disk fails it."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from turnstile.adapters.local import LocalRoom
from turnstile.adapters.openai import OpenAIRealtime
from turnstile.adapters.openai._server import OpenAIRealtimeServer
from turnstile.adapters.recording import RECORD_ENV, Recorder, Recording, recorder_from_env
from turnstile.adapters.recording._format import REDACTED, restore_audio, scrub_frame
from turnstile.adapters.recording._replay_server import silence_b64
from turnstile.adapters.scenario import load_scenario
from turnstile.machine import RealtimeAgent

from ._calls import GEMINI_KEY, OPENAI_KEY


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_no_recording_holds_a_credential(ga_recording: Path, beta_recording: Path, gemini_recording: Path) -> None:
    for path in (ga_recording, beta_recording, gemini_recording):
        text = path.read_text(encoding="utf-8")
        assert OPENAI_KEY not in text and GEMINI_KEY not in text and "SECRET" not in text
        assert "Authorization" not in text and "x-goog-api-key" not in text and "Bearer" not in text
        assert Recording.load(path).complete  # and it is whole: the end line was written


def test_stripped_audio_keeps_only_its_length(ga_recording: Path) -> None:
    text = ga_recording.read_text(encoding="utf-8")
    assert not re.search(r"[A-Za-z0-9+/]{400}", text)  # no base64 audio left anywhere
    rec = Recording.load(ga_recording)
    deltas = [json.loads(f["text"]) for f in rec.frames("server") if "output_audio.delta" in f["text"]]
    appends = [json.loads(f["text"]) for f in rec.frames("client") if "input_audio_buffer.append" in f["text"]]
    assert deltas and appends
    assert all(re.fullmatch(r"<audio stripped: \d+ bytes>", d["delta"]) for d in deltas)
    assert {a["audio"] for a in appends} == {"<audio stripped: 4800 bytes>"}  # 100 ms at 24 kHz


def test_a_stripped_payload_comes_back_as_audio_of_its_length() -> None:
    pcm = bytes(range(256)) * 19  # 4864 bytes: base64 with padding
    frame = json.dumps({"type": "response.output_audio.delta", "delta": base64.b64encode(pcm).decode()})
    stripped = scrub_frame(frame, strip_audio=True, redact=())
    assert json.loads(stripped)["delta"] == "<audio stripped: 4864 bytes>"
    back = json.loads(restore_audio(stripped, silence_b64))["delta"]
    assert len(base64.b64decode(back)) == 4864
    blob = {"data": base64.b64encode(pcm[:10]).decode(), "mimeType": "audio/pcm"}
    gemini = json.dumps({"serverContent": {"modelTurn": {"parts": [{"inlineData": blob}]}}})
    assert "<audio stripped: 10 bytes>" in scrub_frame(gemini, strip_audio=True, redact=())
    assert scrub_frame(gemini, strip_audio=False, redact=()) == gemini  # kept as it went over the wire


def test_named_fields_are_redacted_in_every_frame(beta_recording: Path) -> None:
    rec = Recording.load(beta_recording)
    assert rec.header["redacted"] == ["item.output"]
    outputs = [json.loads(f["text"])["item"]["output"] for f in rec.frames() if '"function_call_output"' in f["text"]]
    assert outputs and set(outputs) == {REDACTED}  # what the agent sent and the server's echoes


async def test_a_full_queue_drops_frames_counts_them_and_marks_where(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "r.jsonl", max_queue=5)
    recorder.start({"provider": "openai"})
    recorder.tap("open", "")
    for i in range(20):  # all before the writer task gets a turn: the queue fills
        recorder.tap("server", f'{{"type":"frame-{i}"}}')
    recorder.fact("room", fact="started")
    await recorder.aclose()
    lines = _lines(tmp_path / "r.jsonl")
    frames = [x for x in lines if x["kind"] == "frame"]
    dropped = [x for x in lines if x["kind"] == "dropped"]
    assert recorder.dropped == 20 - len(frames) > 0
    assert dropped == [{"kind": "dropped", "count": recorder.dropped}]
    assert lines.index(dropped[0]) == lines.index(frames[-1]) + 1  # where they were lost
    assert lines[-1]["kind"] == "end" and lines[-1]["dropped"] == recorder.dropped


async def test_past_max_bytes_frames_stop_but_the_tail_is_written(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "r.jsonl", max_bytes=3000)
    recorder.start({"provider": "openai"})
    for i in range(10):
        recorder.tap("server", json.dumps({"type": "x", "n": i, "pad": "p" * 400}))
    recorder.finish([{"event": "close", "source": "listening", "target": "closed"}], [{"role": "user", "text": "hi"}])
    await recorder.aclose()
    kinds = [x["kind"] for x in _lines(tmp_path / "r.jsonl")]
    assert "truncated" in kinds and 0 < kinds.count("frame") < 10
    assert kinds[-3:] == ["trace", "chat", "end"] and recorder.truncated


async def test_a_disk_that_fails_ends_the_recording_not_the_caller(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "a-file").write_text("")
    recorder = Recorder(tmp_path / "a-file" / "r.jsonl")  # its directory cannot be made
    recorder.start({"provider": "openai"})
    recorder.tap("server", "{}")
    await recorder.aclose()
    assert recorder.failed is not None and "recording" in caplog.text and "stopped" in caplog.text


def test_turnstile_record_names_a_directory_with_a_file_per_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(RECORD_ENV, str(tmp_path))
    first, second = recorder_from_env(audio="strip"), recorder_from_env()
    assert first is not None and second is not None and first.audio == "strip"
    first.start({"provider": "gemini"})
    second.start({"provider": "gemini"})
    assert first.path is not None and first.path.parent == tmp_path and first.path.suffix == ".jsonl"
    assert first.path != second.path
    monkeypatch.delenv(RECORD_ENV)
    assert recorder_from_env() is None


async def test_a_tap_that_raises_is_detached_and_the_call_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    async with OpenAIRealtimeServer(load_scenario()) as server:
        provider = OpenAIRealtime(api_key="sk-x", url=server.url)
        room = LocalRoom()
        agent = RealtimeAgent(provider)
        try:
            await agent.start(room)
            await agent.wait_for_state("listening", timeout=10)
            session = provider.sessions[-1]

            def broken(direction: str, data: str | bytes) -> None:
                raise RuntimeError("recorder bug")

            session.frame_tap = broken
            agent.generate_reply()
            await agent.wait_for_state("speaking", timeout=10)  # the reply came regardless
            assert session.frame_tap is None
            assert "the frame tap failed (RuntimeError: recorder bug); it is detached" in caplog.text
        finally:
            await agent.aclose()
            await room.aclose()


def test_bad_recorder_options_are_refused() -> None:
    with pytest.raises(ValueError, match="audio='raw'"):
        Recorder("x.jsonl", audio="raw")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dotted path"):
        Recorder("x.jsonl", redact=("item..output",))
    with pytest.raises(ValueError, match="positive"):
        Recorder("x.jsonl", max_bytes=0)




async def test_a_binary_frame_is_kept_as_base64_and_read_back_as_its_text(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "r.jsonl", audio="strip")
    recorder.start({"provider": "gemini"})
    recorder.tap("open", "")
    recorder.tap("server", b'{"setupComplete":{}}')  # Gemini's service sends JSON in binary frames
    await recorder.aclose()
    frame = next(x for x in _lines(tmp_path / "r.jsonl") if x["kind"] == "frame")
    assert "text" not in frame and base64.b64decode(str(frame["binary"])) == b'{"setupComplete":{}}'
    rec = Recording.load(tmp_path / "r.jsonl")
    assert [f["text"] for f in rec.frames("server")] == ['{"setupComplete":{}}']
