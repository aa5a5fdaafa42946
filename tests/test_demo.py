"""``turnstile demo`` as a user runs it: the console script, in a fresh folder.

One full call (about 14 s) is shared by the module's tests, run without Graphviz (no
``dot`` on PATH, no pygraphviz): what pip users have.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from turnstile.adapters.openai._server import OpenAIRealtimeServer
from turnstile.adapters.scenario import load_scenario
from turnstile.machine import Trace

from ._cli_run import TURNSTILE, run_cli, stderr_lines, without_graphviz

LINE = re.compile(r"^\[\s*(\d+\.\d+)s\] (.*)$")
TRANSITION = re.compile(r"^\s*(\w+) --(\S+)--> (\S+)$")
OUT = ("--trace", "out/t.jsonl", "--diagram", "out/chart.svg", "--wav", "out/call.wav")


@dataclass
class Run:
    folder: Path
    returncode: int
    stdout: str
    stderr: list[str]

    def timeline(self) -> list[tuple[float, str]]:
        return [(float(m[1]), m[2]) for m in map(LINE.match, self.stdout.splitlines()) if m]

    def first(self, text: str) -> float:
        return next(t for t, line in self.timeline() if text in line)


@pytest.fixture(scope="module")
def call(tmp_path_factory: pytest.TempPathFactory) -> Run:
    folder = tmp_path_factory.mktemp("demo")
    result = run_cli("demo", *OUT, cwd=folder, env=without_graphviz(folder), timeout=120)
    return Run(folder, result.returncode, result.stdout, stderr_lines(result))


def test_without_graphviz_the_demo_ends_with_its_summary_and_the_text_drawings(call: Run) -> None:
    assert call.returncode == 0, call.stderr
    [line] = call.stderr  # the one thing it could not do, and how to get it
    assert "cannot draw out/chart.svg" in line and "apt install graphviz" in line
    out = call.folder / "out"
    assert (out / "chart.dot").read_text().startswith("digraph")
    assert (out / "chart.mmd").read_text().startswith("stateDiagram-v2")
    assert not (out / "chart.svg").exists()
    assert "diagram: out/chart.dot, out/chart.mmd" in call.stdout


def test_the_summary_counts_the_call(call: Run) -> None:
    summary = call.stdout.split("\nthe call ended: ", 1)[1]
    assert summary.startswith("2 caller turns, 3 agent turns (1 cut off)")
    # The bundled scenario's caller cuts in on the second reply.
    [barge_in] = [line for line in summary.splitlines() if line.startswith("  barge-in")]
    assert re.search(r"barge-in at \d+\.\d\ds, \d+\.\d\ds into the agent's reply", barge_in)
    assert 'the agent was heard up to "' in barge_in and barge_in.endswith('..."')
    assert 'tool calls: get_weather({"city": "Paris"})' in summary
    assert "errors: none; warnings: 1" in summary
    assert "model latency to first audio" in summary and "loopback model answers at once" in summary
    for path in ("out/t.jsonl", "out/call.wav"):
        assert path in summary


def test_the_timeline_and_the_trace_share_one_clock_and_name_leaf_states(call: Run) -> None:
    trace = Trace.read_jsonl(call.folder / "out" / "t.jsonl")
    printed = [(t, m.groups()) for t, line in call.timeline() if (m := TRANSITION.match(line))]
    # The turn region's transitions are the main lines; the other regions' are indented,
    # named, and each is one record of its region.
    recorded = [r for r in trace.records if r.region == "turn"]
    others = [line for _, line in call.timeline() if re.match(r"^\s+(user|response|tools): ", line)]
    assert len(others) == len(trace.records) - len(recorded) > 0
    assert len(printed) == len(recorded)
    for (t, (source, event, target)), record in zip(printed, recorded, strict=True):
        assert source == record.source  # a leaf: never the compound ``active``
        assert event == (record.event or "(auto)")
        assert target in (record.target, "(stays)")
        assert abs(t - record.t) <= 0.01, (t, record)
    assert printed[-1][1] == ("listening", "close", "closed")


def _hold_ends(trace: Trace) -> list[tuple[str | None, str, object]]:
    """How each hold ended: (event, target, the transcript it carried)."""
    return [(r.event, r.target, r.data.get("text")) for r in trace.records
            if r.region == "turn" and r.source == "holding" and r.target != "holding"]  # fmt: skip


def test_the_timeline_says_which_hold_was_which(call: Run) -> None:
    trace = Trace.read_jsonl(call.folder / "out" / "t.jsonl")
    # The barge-in lasted min_interruption_s; the cough brought no words; the mm-hmm a backchannel.
    assert _hold_ends(trace) == [
        ("interruption_confirmed", "interrupted", None),
        ("user_transcript", "speaking", ""),
        ("user_transcript", "speaking", "mm-hmm"),
    ]
    lines = [line for _, line in call.timeline()]
    told = [
        lines[i + 1].strip() for i, line in enumerate(lines) if re.match(r"^\s*holding --\S+--> (?!\(stays\))", line)
    ]
    assert told == [
        "(the caller kept talking: a real barge-in, cut where the pause began)",
        "(no words (a cough, a noise): a false interruption, the agent plays on where it paused)",
        '(a backchannel ("mm-hmm"): the agent talks over it, playing on where it paused)',
    ]
    assert sum("caller coughs" in line for line in lines) == 1
    # Neither the cough nor the mm-hmm is a caller turn, and neither was answered: the reply
    # they were said over was heard whole.
    heard = [line for line in lines if line.startswith("model heard the caller")]
    assert len(heard) == 2
    [last] = [line for line in lines if line.startswith("agent said: ")][-1:]
    assert last.endswith('and a warm coat for the walk home."')
    summary = call.stdout.split("\nthe call ended: ", 1)[1]
    assert 'held 3 times: played on through 2 (no words; a backchannel ("mm-hmm")), 1 became a barge-in' in summary


def test_the_wav_shows_each_pause_and_its_resume(call: Run) -> None:
    with wave.open(str(call.folder / "out" / "call.wav")) as w:
        agent = np.frombuffer(w.readframes(w.getnframes()), np.int16).reshape(-1, 2)[:, 1]
    turn = [r for r in Trace.read_jsonl(call.folder / "out" / "t.jsonl").records if r.region == "turn"]
    held = [r.t for r in turn if r.target == "holding" and r.source != "holding"]
    ended = [(r.t, r.target) for r in turn if r.source == "holding" and r.target != "holding"]

    def loudest(start: float, end: float) -> int:
        return int(np.abs(agent[round(start * 24000) : round(end * 24000)]).max())

    assert len(held) == len(ended) == 3
    for start, (end, target) in zip(held, ended, strict=True):
        assert loudest(start - 0.25, start) > 3000  # the agent was talking
        # Silent through the hold (the WAV and the trace agree to a few frames of the speaker's).
        assert end - start > 0.15 and loudest(start + 0.05, end - 0.05) == 0
        if target == "speaking":
            assert loudest(end, end + 0.3) > 3000  # and it plays on where it paused


def test_on_gemini_the_service_cuts_at_the_cough_and_the_call_still_ends(tmp_path: Path) -> None:
    # Gemini's default activity handling stops the answer at the first sound: nothing to hold,
    # the cough is a barge-in, and the mm-hmm meant for that answer is said to a listening agent.
    result = run_cli("demo", "--provider", "gemini", *OUT, cwd=tmp_path, env=without_graphviz(tmp_path), timeout=120)
    assert result.returncode == 0, result.stderr
    summary = result.stdout.split("\nthe call ended: ", 1)[1]
    assert summary.startswith("2 caller turns, 3 agent turns (2 cut off)")
    assert "held" not in summary and "holding" not in result.stdout
    lines = result.stdout.splitlines()
    cough = next(i for i, line in enumerate(lines) if "caller coughs" in line)
    # Cut by the service's speech start (voiceActivity) or its interrupted, whichever came first.
    assert any(re.search(r"--(interrupt|user_speech_started)--> interrupted", line) for line in lines[cough:])


def test_warnings_during_the_call_are_on_the_timeline(call: Run) -> None:
    warnings = [line for line in call.stdout.splitlines() if "the model answered in text" in line]
    assert warnings and all(LINE.match(line) for line in warnings)
    assert not any("answered in text" in line for line in call.stderr)


def _onsets(samples: np.ndarray, threshold: int = 300) -> list[float]:
    """Where sound starts after silence, in seconds, in 10 ms windows."""
    windows = len(samples) // 240
    loud = np.abs(samples[: windows * 240]).reshape(windows, 240).max(axis=1) > threshold
    return [i / 100 for i in np.flatnonzero(np.diff(loud.astype(int)) == 1) + 1]


def test_the_wav_shares_the_clock(call: Run) -> None:
    with wave.open(str(call.folder / "out" / "call.wav")) as w:
        assert w.getframerate() == 24000
        stereo = np.frombuffer(w.readframes(w.getnframes()), np.int16).reshape(-1, 2)
    caller, agent = _onsets(stereo[:, 0]), _onsets(stereo[:, 1])
    assert abs(caller[0] - call.first("caller says")) <= 0.03
    records = Trace.read_jsonl(call.folder / "out" / "t.jsonl").records
    first_audio = next(r.t for r in records if r.event == "audio_started")
    assert abs(agent[0] - first_audio) <= 0.1  # the speaker's own short queue


@dataclass
class Live:
    proc: asyncio.subprocess.Process
    lines: list[str]

    async def until(self, text: str) -> None:
        assert self.proc.stdout is not None
        async with asyncio.timeout(60):
            while not any(text in line for line in self.lines):
                line = await self.proc.stdout.readline()
                assert line, f"the demo ended before printing {text!r}: {self.lines}"
                self.lines.append(line.decode())

    async def interrupt(self) -> tuple[int, str, str]:
        self.proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(60):
            out, err = await self.proc.communicate()
        return self.proc.returncode or 0, "".join(self.lines) + out.decode(), err.decode()


@contextlib.asynccontextmanager
async def demo(folder: Path, *args: str, env: dict[str, str] | None = None) -> AsyncIterator[Live]:
    proc = await asyncio.create_subprocess_exec(
        str(TURNSTILE), "demo", *OUT, *args, cwd=folder, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        yield Live(proc, [])
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_ctrl_c_writes_what_was_recorded(tmp_path: Path) -> None:
    async with demo(tmp_path) as live:
        await live.until("caller says")
        code, stdout, stderr = await live.interrupt()
    assert code == 130, stderr
    assert "Traceback" not in stderr and "Traceback" not in stdout
    assert "interrupted: writing what was recorded" in stdout
    assert re.search(r"\ninterrupted at \d+\.\d\ds: ", stdout)
    out = tmp_path / "out"
    trace = Trace.read_jsonl(out / "t.jsonl")
    assert trace.records[0].event == "session_ready" and trace.final_state == "closed"
    assert (out / "chart.dot").read_text().startswith("digraph")
    with wave.open(str(out / "call.wav")) as w:
        # The call up to the interrupt: the first reply and the caller's first words.
        assert w.getnframes() / w.getframerate() >= trace.records[-1].t - 0.5


async def test_a_loopback_url_needs_no_api_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    async with (
        OpenAIRealtimeServer(load_scenario(None)) as server,
        demo(tmp_path, "--url", server.url, env=env) as live,
    ):
        await live.until("--session_ready--> listening")
        code, stdout, stderr = await live.interrupt()
    assert code == 130 and not stderr_lines(stderr), stderr
    assert "loopback" not in stdout.split("\n")[0]  # no built-in server was started
