"""Concurrent duplex sessions: Turnstile beside livekit-agents, same load, same measures.

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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from turnstile.adapters.voice import RATE, voice

__all__ = ["format_sessions", "run_sessions"]

ROOT = Path(__file__).resolve().parent.parent
CALLER_LINE = "And when does it close?"
REPLY_LINE = "Sure, it opens at nine and it closes at six."
VAD_SILENCE_S = 0.5  # both halves configure server VAD with silence_duration_ms=500
TURNS_PER_CYCLE = 3  # the last turn of each cycle is barged in on
BARGE_IN_AFTER_S = 0.8
PACE = 4.0  # the server streams replies 4x faster than real time, as the real API runs ahead
LIMIT_MS = 20.0
FRAMEWORKS = {
    "turnstile": "benchmarks._sessions_turnstile",
    # What a livekit-agents user runs: AgentSession + Agent(llm=RealtimeModel), I/O as RoomIO wires it.
    "livekit-agents": "benchmarks._sessions_peer_agent",
    # The plugin's RealtimeSession driven by hand, without AgentSession: a lower bound.
    "livekit-agents-session": "benchmarks._sessions_peer",
}
PEERS = ("livekit-agents", "livekit-agents-session")
"""The halves run with the peer venv's python (livekit-agents pins an older livekit)."""
GEMINI = {"turnstile-gemini": "benchmarks._sessions_gemini"}
"""The same load through Turnstile's Gemini adapter (``--gemini``); it has no peer here."""
BASELINE = "benchmarks._sessions_load"  # the rooms alone: what both frameworks' figures include
BASELINE_S = 5.0  # the room's cost does not follow the caller cycle: a short window is enough


def _timeline() -> tuple[bytes, float]:
    """One cycle of the caller's microphone (PCM16 mono 24 kHz), and its length in seconds."""
    speech = voice(CALLER_LINE, pitch=140)
    reply_s = len(voice(REPLY_LINE, pitch=220)) / 2 / RATE  # what the server will speak
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


def peer_python() -> tuple[str | None, str]:
    """The interpreter that has livekit-agents, or None and why not."""
    env = os.environ.get("TURNSTILE_PEER_PYTHON")
    candidates = [env] if env else [str(ROOT / ".venv-peer" / "bin" / "python"), sys.executable]
    probe = ["-c", "import livekit.agents, livekit.plugins.openai"]
    for python in candidates:
        if (
            Path(python).exists()
            and subprocess.run([python, *probe], capture_output=True, check=False, cwd=ROOT).returncode == 0
        ):
            return python, python
    return None, (
        "livekit-agents not found (looked for TURNSTILE_PEER_PYTHON, .venv-peer, this venv); create it with: "
        "python -m venv .venv-peer && .venv-peer/bin/pip install 'livekit-agents==1.8.9' "
        "'livekit-plugins-openai==1.8.9'"
    )


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
        child = subprocess.run(
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
    peer, peer_note = peer_python()
    frameworks = {**FRAMEWORKS, **(GEMINI if gemini else {})}
    if only:
        # A subset, to find one framework's ceiling without re-running the others.
        frameworks = {name: module for name, module in frameworks.items() if name in only}
    pythons = {name: peer if name in PEERS else sys.executable for name in frameworks}
    out: dict[str, Any] = {
        "cycle_s": round(cycle_s, 3), "window_s": seconds, "pace": PACE, "cores": os.cpu_count(),
        "peer_python": peer_note, "peer_found": peer is not None,
        "runs": {name: [] for name in frameworks}, "baseline": [],
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
                    continue
                if progress is not None:
                    progress(f"sessions: {name}, N={n}, {seconds:.0f} s window")
                out["runs"][name].append(_run_one(python, module, n, seconds, timeline, scenario))
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


# (header, width, digits, value of a result row): the table's columns, in order.
_COLUMNS: list[tuple[str, int, int, Callable[[dict[str, Any]], float | None]]] = [
    ("mic ms", 7, 0, lambda row: row.get("mic_frame_ms")),
    ("CPU-s/sess-min", 15, 3, lambda row: row["cpu_s_per_session_minute"]),
    ("net", 7, 3, lambda row: row.get("net_cpu_s_per_session_minute")),
    ("cores", 6, 2, lambda row: row["cores_used"]),
    ("p50 ms", 8, 2, lambda row: row["lateness_ms"]["p50"]),
    ("p99 ms", 8, 2, lambda row: row["lateness_ms"]["p99"]),
    ("max ms", 8, 1, lambda row: row["lateness_ms"]["max"]),
    ("machine p99", 12, 2, lambda row: (row.get("machine_lateness_ms") or {}).get("p99")),
    ("gaps", 5, 0, lambda row: row["playout_gaps_total"]),
    ("cuts", 5, 0, lambda row: row["playout_clears_total"]),
    ("cut p50", 8, 2, lambda row: row.get("barge_in_ms", {}).get("p50")),
    ("cut p99", 8, 2, lambda row: row.get("barge_in_ms", {}).get("p99")),
    ("trunc p99", 10, 2, lambda row: row.get("truncate_ms", {}).get("p99")),
    ("GC max ms", 10, 1, lambda row: row["gc_pauses"]["max_ms"]),
    ("GC objs k", 10, 0, lambda row: row["gc_pauses"].get("tracked_objects", 0) / 1000),
    ("audio s/min", 12, 1, lambda row: row["agent_audio_s_per_session_minute"]),
    ("server CPU", 11, 3, lambda row: row["server_cpu_s_per_session_minute"]),
]


def format_sessions(r: dict[str, Any]) -> str:
    nw = max(15, *(len(name) + 1 for name in r["runs"]))  # the framework column fits the longest name
    lines = [
        "",
        (
            f"Concurrent duplex sessions, one process per framework and N, loopback server in its own process "
            f"({r['cores']} cores; window {r['window_s']:.1f} s = whole {r['cycle_s']:.1f} s caller cycles; "
            f"replies streamed at {r['pace']:g}x)"
        ),
        f"{'framework':<{nw}}{'N':>4}" + "".join(f"{h:>{w}}" for h, w, _, _ in _COLUMNS),
    ]
    bases = {f"room only, {ms} ms": [b for b in r["baseline"] if b.get("mic_frame_ms") == ms]
             for ms in sorted({b.get("mic_frame_ms") for b in r["baseline"] if b.get("mic_frame_ms")})}  # fmt: skip
    for name, rows in [*r["runs"].items(), *bases.items()]:
        for row in rows:
            if "error" in row:
                lines.append(f"{name:<{nw}}{row['n']:>4}  failed: {row['error'].splitlines()[-1][:90]}")
            else:
                cells = "".join(_num(value(row), w, d) for _, w, d, value in _COLUMNS)
                lines.append(f"{name:<{nw}}{row['n']:>4}{cells}")
    lines.append(
        "  mic ms: the microphone frame length the framework asks the room for (rtc.AudioStream's frame_size_ms: "
        "Turnstile its 100 ms chunk,\n  livekit-agents RoomIO's default 50 ms);"
        " CPU-s/sess-min: the child process's CPU (process_time, all threads) per session-minute;\n  net: minus the "
        "same N rooms alone, reading frames of the same length;\n  machine p99: a bare 10 ms clock in a third process over the same window (what the "
        "machine imposed); gaps: playout ran dry mid-speech;\n  cuts: barge-ins silenced; cut p50/p99: ms from the "
        "framework's speech-started event to playout cleared;\n  trunc p99: from the same event to the truncate "
        "on the wire (Turnstile: written to the socket; livekit-agents: queued by its\n  session, which is earlier); server CPU: the loopback "
        "server's CPU-s per session-minute;\n  GC max: the longest collector pause in the window; GC objs: objects the "
        "collector tracks (a full collection walks them all)"
    )
    if "livekit-agents-session" in r["runs"]:
        lines.append(
            "  livekit-agents: AgentSession + Agent(llm=RealtimeModel), I/O wired as RoomIO would; "
            "livekit-agents-session: the plugin's RealtimeSession only, driven by hand (a lower bound)"
        )
    if not r.get("peer_found", True):
        lines.append(f"  livekit-agents halves skipped: {r['peer_python']}")
    for name, s in r["summary"].items():
        floor = " (every N tested passed: a floor)" if s["all_passed"] else ""
        lines.append(
            f"  {name}: largest N with p99 < {LIMIT_MS:.0f} ms: {s['largest_n_p99_under_limit']}{floor}; "
            f"sessions per core at that N (60 / CPU-s per session-minute): {_num(s['sessions_per_core'], 0, 0)} total, "
            f"{_num(s['sessions_per_core_net'], 0, 0)} net of the room"
        )
    lines += _ratios(r)
    return "\n".join(lines)


def _num(x: float | None, width: int, digits: int) -> str:
    return f"{'-':>{width}}" if x is None else f"{x:>{width}.{digits}f}"


def _ratios(r: dict[str, Any]) -> list[str]:
    lines = _ratios_against(r, "livekit-agents", "livekit-agents")
    return lines + _ratios_against(r, "livekit-agents-session", "livekit-agents-session (lower bound)")


def _ratios_against(r: dict[str, Any], peer_name: str, label_peer: str) -> list[str]:
    s = r["summary"]
    if "turnstile" not in s or peer_name not in s:
        return []
    lines = []
    for key, label in (("sessions_per_core", "total"), ("sessions_per_core_net", "net")):
        t, p = s["turnstile"][key], s[peer_name][key]
        if t and p:
            lines.append(f"  ratio, sessions per core ({label}), Turnstile / {label_peer}: {t / p:.2f}")
    by_n = {row["n"]: row for row in r["runs"][peer_name] if "error" not in row}
    for row in r["runs"]["turnstile"]:
        peer = by_n.get(row["n"])
        if peer is None or "error" in row:
            continue
        total = peer["cpu_s_per_session_minute"] / row["cpu_s_per_session_minute"]
        tn, pn = row.get("net_cpu_s_per_session_minute"), peer.get("net_cpu_s_per_session_minute")
        net = f", net {pn / tn:.2f}" if tn and pn and tn > 0 else ""
        lines.append(f"  N={row['n']}: CPU-s per session-minute, {label_peer} / Turnstile: total {total:.2f}{net}")
    return lines


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
