"""The sessions bench's printed table: every half's rows, the notes, and Turnstile's ratios."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._sessions_inspector import inspector_lines

__all__ = ["GOAL_BARGE_IN_P99_MS", "GOAL_FLOOR_RATIO", "GOAL_PEER_RATIO", "LIMIT_MS", "format_sessions"]

LIMIT_MS = 20.0
GOAL_PEER_RATIO = 5.0  # Turnstile's sessions per core over every peer's, as users run it
GOAL_FLOOR_RATIO = 1.3  # Turnstile's CPU per session-minute over the floor's
GOAL_BARGE_IN_P99_MS = 1.0  # speech started to playout cleared, p99, at 100 sessions
PEER_LABELS = {
    "livekit-agents": "livekit-agents",
    "pipecat": "Pipecat",
    "openai-agents": "OpenAI Agents SDK",
    "livekit-agents-session": "livekit-agents-session (lower bound)",
}

Row = dict[str, Any]
# (header, width, digits, value of a result row): the table's columns, in order.
_COLUMNS: list[tuple[str, int, int, Callable[[Row], float | None]]] = [
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
    ("truncs", 7, 0, lambda row: row.get("truncations_total")),
    ("trunc p99", 10, 2, lambda row: row.get("truncate_ms", {}).get("p99")),
    ("err p50", 8, 0, lambda row: row.get("truncation_error_ms", {}).get("p50")),
    ("err max", 8, 0, lambda row: row.get("truncation_error_ms", {}).get("max")),
    ("GC max ms", 10, 1, lambda row: row["gc_pauses"]["max_ms"]),
    ("GC objs k", 10, 0, lambda row: row["gc_pauses"].get("tracked_objects", 0) / 1000),
    ("MB idle", 8, 0, lambda row: row.get("rss_mb_idle")),
    ("MB/sess", 8, 2, lambda row: row.get("rss_mb_per_session")),
    ("audio s/min", 12, 1, lambda row: row["agent_audio_s_per_session_minute"]),
    ("server CPU", 11, 3, lambda row: row["server_cpu_s_per_session_minute"]),
]

_NOTES = """\
  mic ms: the microphone frame length the framework asks the room for (rtc.AudioStream's frame_size_ms: Turnstile
  and the floor their 100 ms chunk, livekit-agents RoomIO's 50 ms, Pipecat's LiveKit transport and the Agents SDK
  app 10 ms); CPU-s/sess-min: the child process's CPU (process_time, all threads) per session-minute;
  net: minus the same N rooms alone, reading frames of the same length;
  machine p99: a bare 10 ms clock in a third process over the same window (what the machine imposed);
  gaps: playout ran dry mid-speech; cuts: output clears; cut p50/p99: ms from the framework's speech-started
  event to playout cleared; truncs: conversation.item.truncate sent in the window; trunc p99: from the same event
  to the truncate on the wire (written to the socket; livekit-agents: queued by its session, which is earlier);
  err p50/max: the truncate's audio_end_ms minus the audio the room played of that reply before the clear (ms;
  negative: the model is told less was heard than was); GC max: the longest collector pause in the window;
  GC objs: objects the collector tracks; MB idle: the process's RSS with the framework imported, no session;
  MB/sess: RSS growth per session after the window; server CPU: the loopback server's CPU-s per session-minute"""


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
                lines.append(f"{name:<{nw}}{row['n']:>4}  failed: {row['error'].splitlines()[-1][:110]}")
            else:
                cells = "".join(_num(value(row), w, d) for _, w, d, value in _COLUMNS)
                lines.append(f"{name:<{nw}}{row['n']:>4}{cells}")
    lines.append(_NOTES)
    if versions := r.get("versions"):
        lines.append("  versions: " + ", ".join(f"{name} {v}" for name, v in versions.items()))
    for name, why in r.get("skipped", {}).items():
        lines.append(f"  {name} skipped: {why}")
    lines += _checks(r)
    for name, s in r["summary"].items():
        floor = " (every N tested passed: a lower bound)" if s["all_passed"] else ""
        lines.append(
            f"  {name}: largest N with p99 < {LIMIT_MS:.0f} ms: {s['largest_n_p99_under_limit']}{floor}; "
            f"sessions per core at that N (60 / CPU-s per session-minute): {_num(s['sessions_per_core'], 0, 0)} total, "
            f"{_num(s['sessions_per_core_net'], 0, 0)} net of the room"
        )
    for peer, label in PEER_LABELS.items():
        lines += _ratios_against(r, peer, label)
    lines += _floor_ratios(r) + inspector_lines(r) + _goals(r)
    return "\n".join(lines)


def _num(x: float | None, width: int, digits: int) -> str:
    return f"{'-':>{width}}" if x is None else f"{x:>{width}.{digits}f}"


def _checks(r: dict[str, Any]) -> list[str]:
    failed = [
        f"  CHECK FAILED: {name} N={row['n']}: {problem}"
        for name, rows in r["runs"].items()
        for row in rows
        for problem in row.get("check_failures", ())
    ]
    return failed or ["  checks: every half played its replies, honoured its barge-ins and sent its truncates"]


def _ratios_against(r: dict[str, Any], peer_name: str, label_peer: str) -> list[str]:
    s = r["summary"]
    if "turnstile" not in s or peer_name not in s:
        return []
    lines = []
    for key, label in (("sessions_per_core", "total"), ("sessions_per_core_net", "net")):
        t, p = s["turnstile"][key], s[peer_name][key]
        if t and p:
            lines.append(f"  ratio, sessions per core ({label}), Turnstile / {label_peer}: {t / p:.2f}")
    for row, peer in _pairs(r, peer_name):
        total = peer["cpu_s_per_session_minute"] / row["cpu_s_per_session_minute"]
        tn, pn = row.get("net_cpu_s_per_session_minute"), peer.get("net_cpu_s_per_session_minute")
        net = f", net {pn / tn:.2f}" if tn and pn and tn > 0 else ""
        lines.append(f"  N={row['n']}: CPU-s per session-minute, {label_peer} / Turnstile: total {total:.2f}{net}")
    return lines


def _pairs(r: dict[str, Any], other: str) -> list[tuple[Row, Row]]:
    """Turnstile's rows beside ``other``'s at the same N, both runs whole."""
    by_n = {row["n"]: row for row in r["runs"].get(other, []) if "error" not in row}
    return [(row, by_n[row["n"]]) for row in r["runs"].get("turnstile", []) if "error" not in row and row["n"] in by_n]


def _floor_ratios(r: dict[str, Any]) -> list[str]:
    lines = []
    for row, floor in _pairs(r, "floor"):
        total = row["cpu_s_per_session_minute"] / floor["cpu_s_per_session_minute"]
        tn, fn = row.get("net_cpu_s_per_session_minute"), floor.get("net_cpu_s_per_session_minute")
        net = f", net {tn / fn:.2f}" if tn and fn else ""
        lines.append(f"  N={row['n']}: CPU-s per session-minute, Turnstile / floor: total {total:.2f}{net}")
    return lines


def _goals(r: dict[str, Any]) -> list[str]:
    s, lines = r["summary"], []
    if "turnstile" in s and (t := s["turnstile"]["sessions_per_core"]):
        for peer in ("livekit-agents", "pipecat", "openai-agents"):
            if peer in s and (p := s[peer]["sessions_per_core"]):
                lines.append(_goal(f"sessions per core, Turnstile / {PEER_LABELS[peer]}", t / p, GOAL_PEER_RATIO, ">="))
    if pairs := _pairs(r, "floor"):
        row, floor = pairs[-1]
        ratio = row["cpu_s_per_session_minute"] / floor["cpu_s_per_session_minute"]
        lines.append(_goal(f"CPU per session-minute at N={row['n']}, Turnstile / floor", ratio, GOAL_FLOOR_RATIO, "<="))
    for name in ("turnstile", "turnstile+inspector", "turnstile-gemini"):
        rows = [row for row in r["runs"].get(name, []) if "error" not in row and row["barge_in_ms"]["p99"] is not None]
        if rows:
            row = max(rows, key=lambda x: x["n"])
            label = f"{name}: barge-in to playout cleared, p99 at N={row['n']} (ms)"
            line = _goal(label, row["barge_in_ms"]["p99"], GOAL_BARGE_IN_P99_MS, "<")
            if (cpu := row.get("barge_in_cpu_ms", {})).get("p99") is not None:
                # Wall time less CPU time is what the machine imposed (preempted by others).
                line += f"; in the process's CPU time, p50/p99 {cpu['p50']:.2f}/{cpu['p99']:.2f} ms"
            lines.append(line)
    return lines


def _goal(label: str, value: float, target: float, op: str) -> str:
    met = {">=": value >= target, "<=": value <= target, "<": value < target}[op]
    return f"  goal, {label}: {value:.2f} ({op} {target:g}: {'met' if met else 'NOT met'})"
