"""Concurrent duplex sessions: Turnstile beside every peer and the floor, same load, same measures.

The halves: Turnstile (and its Gemini adapter), the floor (no framework), livekit-agents
(``AgentSession``, and its plugin's session alone as a lower bound), Pipecat and the OpenAI
Agents SDK, each peer from a venv of its own (``_sessions_venvs``). Each run is checked for
the work its callers asked for (``check_work``): a half that silently did nothing is flagged.

``python -m benchmarks._sessions --sessions 1,5,10,20 [--cycles 2] [--json FILE]``

For each N, each framework runs N sessions in one child process (measured), against the
OpenAI loopback server in another process (a fresh one per run). Every session is a full
duplex call in a PacedRoom (see ``_pacedroom``): the caller's microphone streams 24 kHz
speech then silence in real time, the server's VAD ends each caller turn and the scripted
model answers it with ~3 s of audio, played in real time; every third caller turn starts
0.8 s into the answer: a barge-in, which the server cancels and the client must silence
and truncate. Callers are spread evenly over the cycle, and the window is a whole number
of cycles, so every session is measured over the same mix of talk, listening and barge-in.

Measured in the child, over the window only:
* CPU-seconds per session-minute: ``time.process_time()`` (all the process's threads),
  and net of the rooms (a run of the same N rooms with no session, subtracted);
* playout lateness: when each 10 ms frame of agent audio played minus when it was due,
  beside the lateness a bare clock in a third process saw (the machine's own stalls);
* playout gaps, barge-ins silenced, collector pauses, and the server's CPU.

Sessions per core is 60 / (CPU-s per session-minute) at the largest N whose p99 lateness
stayed under 20 ms, which is also N / cores used at that N. LocalRoom is not used: its
livekit AudioStreams fan every frame out to every stream in the process (python-sdks
issue 812), so 20 idle LocalRoom agents already saturate a core here.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from turnstile.adapters.voice import RATE, voice

from ._sessions_format import LIMIT_MS, format_sessions
from ._sessions_inspector import INSPECTED, InspectorProcess, check_inspector
from ._sessions_venvs import python_for

__all__ = ["format_sessions", "run_sessions"]

ROOT = Path(__file__).resolve().parent.parent
CALLER_LINE = "And when does it close?"
REPLY_LINE = "Sure, it opens at nine and it closes at six."
VAD_SILENCE_S = 0.5  # both halves configure server VAD with silence_duration_ms=500
TURNS_PER_CYCLE = 3  # the last turn of each cycle is barged in on
BARGE_IN_AFTER_S = 0.8
PACE = 4.0  # the server streams replies 4x faster than real time, as the real API runs ahead
FRAMEWORKS = {
    "turnstile": "benchmarks._sessions_turnstile",
    # No framework: the least any Python program must do for the same load.
    "floor": "benchmarks._sessions_floor",
    # What a livekit-agents user runs: AgentSession + Agent(llm=RealtimeModel), I/O as RoomIO wires it.
    "livekit-agents": "benchmarks._sessions_peer_agent",
    # A Pipecat pipeline: transport in -> context aggregator -> OpenAIRealtimeLLMService -> transport out.
    "pipecat": "benchmarks._sessions_peer_pipecat",
    # The OpenAI Agents SDK: RealtimeAgent + RealtimeRunner over its websocket model.
    "openai-agents": "benchmarks._sessions_peer_oai_agents",
    # The plugin's RealtimeSession driven by hand, without AgentSession: a lower bound.
    "livekit-agents-session": "benchmarks._sessions_peer",
    # Turnstile's sessions, every agent publishing to one inspector in a process of its own.
    **INSPECTED,
}
PEERS = ("livekit-agents", "pipecat", "openai-agents")
"""The frameworks users pick, run as their users run them: Turnstile's ratios are against these."""
GEMINI = {"turnstile-gemini": "benchmarks._sessions_gemini"}
"""The same load through Turnstile's Gemini adapter (``--gemini``); it has no peer here."""
BASELINE = "benchmarks._sessions_load"  # the rooms alone: what both frameworks' figures include
BASELINE_S = 5.0  # the room's cost does not follow the caller cycle: a short window is enough


def _reply_s() -> float:
    """How long the server's reply is, in seconds."""
    return len(voice(REPLY_LINE, pitch=220)) / 2 / RATE


def _timeline() -> tuple[bytes, float]:
    """One cycle of the caller's microphone (PCM16 mono 24 kHz), and its length in seconds."""
    speech = voice(CALLER_LINE, pitch=140)
    reply_s = _reply_s()  # what the server will speak
    wait = VAD_SILENCE_S + reply_s + 0.7  # the answer ends, then a pause before the next turn
    barge = VAD_SILENCE_S + 0.1 + BARGE_IN_AFTER_S  # the next turn starts inside the answer
    pcm = b""
    for turn in range(TURNS_PER_CYCLE):
        pause = barge if turn == TURNS_PER_CYCLE - 1 else wait
        pcm += speech + bytes(int(pause * RATE) * 2)
    return pcm, len(pcm) / 2 / RATE


def _scenario(path: Path, replies: int) -> None:
    steps = [{"role": "model", "transcript": REPLY_LINE} for _ in range(replies)]
    path.write_text(json.dumps({"name": "sessions", "steps": steps}))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_one(
    python: str, module: str, n: int, seconds: float, timeline: Path, scenario: Path, extra: tuple[str, ...] = ()
) -> dict[str, Any]:
    from turnstile.adapters.gemini._config import GEMINI_PATH

    port = _free_port()
    provider = "gemini" if module in GEMINI.values() else "openai"
    path = GEMINI_PATH if provider == "gemini" else "/v1/realtime"
    server = subprocess.Popen(
        [sys.executable, "-m", "turnstile.adapters.cli", "serve", "--provider", provider, "--port", str(port),
         "--pace", str(PACE), "--scenario", str(scenario)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        server.stdout.readline()  # the URL line: the server is up
        child = _child(
            [python, "-m", module, "--url", f"ws://127.0.0.1:{port}{path}", "--n", str(n),
             "--seconds", str(seconds), "--warmup", "2", "--timeline", str(timeline),
             "--server-pid", str(server.pid), *extra],
            capture_output=True, text=True, check=False, cwd=ROOT, timeout=seconds + 60 + n,
        )  # fmt: skip
    finally:
        server.terminate()
        server.wait(10)
    lines = child.stdout.strip().splitlines()
    if child.returncode != 0 or not lines:
        tail = "\n".join(child.stderr.strip().splitlines()[-15:])
        return {"n": n, "error": f"exit {child.returncode}: {tail}"}
    return dict(json.loads(lines[-1]))


NO_TRUNCATION = ("turnstile-gemini",)
"""Halves whose provider has no truncation (Gemini interrupts server-side)."""
DISTRIBUTIONS = {"turnstile": "turnstile-agents", "turnstile-gemini": "turnstile-agents", "floor": "aiohttp",
                 "turnstile+inspector": "turnstile-agents",
                 "livekit-agents": "livekit-agents", "livekit-agents-session": "livekit-agents",
                 "pipecat": "pipecat-ai", "openai-agents": "openai-agents"}  # fmt: skip


def _version(python: str, name: str) -> str:
    code = f"from importlib.metadata import version; print(version({DISTRIBUTIONS.get(name, name)!r}))"
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False, cwd=ROOT)
    return done.stdout.strip() or "?"


def check_work(row: dict[str, Any], r: dict[str, Any], *, truncates: bool = True) -> None:
    """Did the half do the work? Replies played, barge-ins honoured, truncates sent.

    A half that silently did nothing would look cheap: each run is held to what its callers
    asked of it in the window (``cycles`` cycles of 2 full replies and 1 barge-in per
    session), with a margin for the turns the window's edges cut.
    """
    if "error" in row:
        return
    failures = []
    barge_ins = int(0.8 * row["n"] * r["cycles"])
    # Two whole replies a cycle (the third is cut): audio played per session-minute.
    audio = 0.8 * 2 * r["reply_s"] * 60 / r["cycle_s"]
    if row["agent_audio_s_per_session_minute"] < audio:
        failures.append(f"{row['agent_audio_s_per_session_minute']:.1f} s of replies played per session-minute, "
                        f"expected >= {audio:.1f}")  # fmt: skip
    if row["barge_in_ms"]["n"] < barge_ins:
        failures.append(f"{row['barge_in_ms']['n']} barge-ins silenced, expected >= {barge_ins}")
    if truncates and row["truncations_total"] < barge_ins:
        failures.append(f"{row['truncations_total']} truncates sent, expected >= {barge_ins}")
    row["check_failures"] = failures


def _child(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a half; one that outlasts its time is a failed run, not a failed bench."""
    try:
        return subprocess.run(argv, **kwargs)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        return subprocess.CompletedProcess(argv, -9, out, f"timed out after {exc.timeout:.0f} s")


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in rows if "error" not in r]
    passing = [r for r in ok if r["lateness_ms"]["p99"] is not None and r["lateness_ms"]["p99"] < LIMIT_MS]
    best = max(passing, key=lambda r: r["n"]) if passing else None
    net = best.get("net_cpu_s_per_session_minute") if best else None
    return {
        "largest_n_p99_under_limit": best["n"] if best else 0,
        "all_passed": bool(ok) and len(passing) == len(ok),
        # 60 / (CPU-s per session-minute) at that N, which is also N / cores used at that N.
        "sessions_per_core": round(60 / best["cpu_s_per_session_minute"], 1) if best else None,
        "sessions_per_core_net": round(60 / net, 1) if net else None,
    }


def run_sessions(
    ns: list[int], cycles: int = 1, progress: Any = None, gemini: bool = True, only: list[str] | None = None
) -> dict[str, Any]:
    timeline_pcm, cycle_s = _timeline()
    seconds = round(cycles * cycle_s, 3)
    frameworks = {**FRAMEWORKS, **(GEMINI if gemini else {})}
    if only:
        # A subset, to find one framework's ceiling without re-running the others.
        frameworks = {name: module for name, module in frameworks.items() if name in only}
    found = {name: python_for(name) for name in frameworks}
    pythons = {name: python for name, (python, _) in found.items()}
    out: dict[str, Any] = {
        "cycle_s": round(cycle_s, 3), "window_s": seconds, "pace": PACE, "cores": os.cpu_count(),
        "cycles": cycles, "replies_per_cycle": TURNS_PER_CYCLE, "reply_s": round(_reply_s(), 3),
        "pythons": {name: where for name, (_, where) in found.items()},
        "skipped": {name: where for name, (python, where) in found.items() if python is None},
        "versions": {name: _version(python, name) for name, python in pythons.items() if python},
        "runs": {name: [] for name in frameworks if pythons[name] is not None}, "baseline": [],
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        timeline, scenario = Path(tmp) / "caller.pcm", Path(tmp) / "scenario.json"
        timeline.write_bytes(timeline_pcm)
        # Enough replies for every turn of the run (each connection replays from the start).
        _scenario(scenario, replies=int((seconds + 30) / cycle_s + 2) * TURNS_PER_CYCLE)
        for n in ns:
            # Interleaved per N, so that drift on the machine falls on both alike.
            for name, module in frameworks.items():
                python = pythons[name]
                if python is None:
                    continue  # said once, in the table's notes
                if progress is not None:
                    progress(f"sessions: {name}, N={n}, {seconds:.0f} s window")
                if name in INSPECTED:
                    with InspectorProcess(_free_port()) as inspector:
                        row = _run_one(python, module, n, seconds, timeline, scenario, inspector.args)
                        if "error" not in row:
                            row["inspector"] = inspector.received(n)
                else:
                    row = _run_one(python, module, n, seconds, timeline, scenario)
                out["runs"][name].append(row)
                time.sleep(0.5)  # let the previous server's port and CPU settle
            # The room's cost depends on the microphone frame length each framework reads
            # (as rtc.AudioStream's frame_size_ms): one baseline per length, each framework
            # netted against the rooms at its own.
            latest = [rows[-1] for rows in out["runs"].values() if rows and rows[-1]["n"] == n]
            for frame_ms in sorted({_mic_ms(row) for row in latest if "error" not in row}):
                if progress is not None:
                    progress(f"sessions: room only (baseline), N={n}, {frame_ms} ms microphone frames")
                base = _run_one(
                    sys.executable, BASELINE, n, BASELINE_S, timeline, scenario, ("--frame-ms", str(frame_ms))
                )
                base["mic_frame_ms"] = frame_ms
                out["baseline"].append(base)
                for row in latest:
                    if _mic_ms(row) == frame_ms:
                        _net(row, base)
    for name, rows in out["runs"].items():
        for row in rows:
            check_work(row, out, truncates=name not in NO_TRUNCATION)
            check_inspector(row)
    out["summary"] = {name: _summary(rows) for name, rows in out["runs"].items() if rows}
    return out


def _mic_ms(row: dict[str, Any]) -> int:
    """The microphone frame length a run read; 10 ms where the framework asked for none."""
    return int(row.get("mic_frame_ms") or 10)


def _net(row: dict[str, Any], base: dict[str, Any]) -> None:
    """The framework's own CPU: the run's cores used minus the same rooms' alone, per session."""
    if "error" in row or "error" in base:
        row["net_cpu_s_per_session_minute"] = None
        return
    net = (row["cpu_s"] / row["window_s"] - base["cpu_s"] / base["window_s"]) * 60 / row["n"]
    # At small N the room's share is a few ms of CPU, within the machine's noise: a
    # difference that comes out negative says nothing, and is not reported.
    row["net_cpu_s_per_session_minute"] = round(net, 4) if net > 0 else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks._sessions", description=__doc__)
    p.add_argument("--sessions", default="1,5,10,20", help="comma-separated N (1,5,10,20)")
    p.add_argument("--cycles", type=int, default=2, help="caller cycles per measurement window (2)")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    names = ", ".join([*FRAMEWORKS, *GEMINI])
    p.add_argument("--frameworks", help=f"comma-separated subset of: {names} (all)")
    args = p.parse_args(argv)
    ns = [int(x) for x in args.sessions.split(",") if x.strip()]
    only = [x.strip() for x in args.frameworks.split(",")] if args.frameworks else None
    if only and (unknown := set(only) - {*FRAMEWORKS, *GEMINI}):
        p.error(f"unknown framework(s): {', '.join(sorted(unknown))}; choose from {names}")
    result = run_sessions(
        ns, args.cycles, progress=lambda m: print(f"  ... {m}", file=sys.stderr, flush=True), only=only
    )
    print(format_sessions(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
