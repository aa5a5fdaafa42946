"""The sessions bench's inspected half, parent's side: the inspector process, what it received.

``turnstile+inspector`` runs the Turnstile half's sessions with every agent publishing to
one inspector (``turnstile inspect``, in a process of its own, as users run it beside their
workers). Its row is checked for the inspector's side of the work: every session arrived,
ended, and every barge-in the window measured reached it (a half that silently published
nothing would look free). The figures printed: the agents' extra CPU against the Turnstile
half at the same N, the inspector process's own CPU, and barge-in latency with and without.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

__all__ = ["GOAL_EXTRA_CPU_PCT", "INSPECTED", "InspectorProcess", "check_inspector", "inspector_lines"]

ROOT = Path(__file__).resolve().parent.parent
INSPECTED = {"turnstile+inspector": "benchmarks._sessions_turnstile_inspector"}
GOAL_EXTRA_CPU_PCT = 5.0  # the agents' extra CPU with an inspector on every session (issue 13)
_SETTLE_S = 15.0  # for the inspector to read the last frames after the sessions' process exits


class InspectorProcess:
    """``turnstile inspect`` on ``port``: ``args`` for the child, ``received()`` once it is done."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> InspectorProcess:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "turnstile.adapters.cli", "inspect", "--port", str(self.port)],
            stdout=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip
        assert self._proc.stdout is not None
        if not self._proc.stdout.readline():  # "Turnstile inspector: open URL": it listens
            raise RuntimeError(f"the inspector did not start (exit {self._proc.wait(10)})")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)

    @property
    def args(self) -> tuple[str, ...]:
        assert self._proc is not None
        url = f"ws://127.0.0.1:{self.port}/publish"
        return ("--inspector-url", url, "--inspector-pid", str(self._proc.pid))

    def _get(self, path: str) -> bytes:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=30) as response:
            return bytes(response.read())

    def received(self, n: int) -> dict[str, Any]:
        """What the inspector holds of the run: sessions, messages by type, drops reported."""
        deadline = time.monotonic() + _SETTLE_S
        while True:  # the publishers' last frames may still be in its sockets: read until all ended
            sessions = json.loads(self._get("/api/sessions"))
            if (len(sessions) >= n and not any(s["live"] for s in sessions)) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        types: Counter[str] = Counter()
        for s in sessions:
            lines = self._get(f"/api/sessions/{s['id']}/recording.jsonl").decode().splitlines()
            types.update(str(json.loads(line).get("type")) for line in lines[1:])  # the first: its hello, again
        return {
            "sessions": len(sessions),
            "live": sum(bool(s["live"]) for s in sessions),
            "messages": sum(int(s["messages"]) for s in sessions),
            "dropped": sum(int(s["dropped"]) for s in sessions),
            "by_type": dict(types),
        }


def check_inspector(row: dict[str, Any]) -> None:
    """The inspector got every session, saw each end, and every barge-in measured in the window."""
    got = row.get("inspector")
    if "error" in row or got is None:
        return
    failures = row.setdefault("check_failures", [])
    if got["sessions"] != row["n"] or got["live"]:
        failures.append(
            f"the inspector got {got['sessions']} sessions ({got['live']} never ended), expected {row['n']}"
        )
    barge_ins = got["by_type"].get("barge_in", 0)
    if barge_ins < row["barge_in_ms"]["n"]:
        failures.append(f"the inspector got {barge_ins} barge-ins, fewer than the {row['barge_in_ms']['n']} silenced")


def _pct(a: float, b: float) -> str:
    return f"{(a - b) / b * 100:+.1f}%"


def _cut(row: dict[str, Any]) -> str:
    return f"{row['barge_in_ms']['p50']:.2f}/{row['barge_in_ms']['p99']:.2f} ms"


def inspector_lines(r: dict[str, Any]) -> list[str]:
    """Each N run with and without: the agents' extra CPU, the inspector's, barge-in latency."""
    lines: list[str] = []
    plain = {row["n"]: row for row in r["runs"].get("turnstile", []) if "error" not in row}
    for name in INSPECTED:
        for row in r["runs"].get(name, []):
            base = plain.get(row["n"])
            if "error" in row or base is None:
                continue
            with_, without = row["cpu_s_per_session_minute"], base["cpu_s_per_session_minute"]
            insp = row.get("inspector_cpu_s_per_session_minute") or 0.0
            got = row.get("inspector") or {}
            lines.append(
                f"  N={row['n']}: {name} / turnstile: CPU-s per session-minute {with_:.4f} / {without:.4f} "
                f"({_pct(with_, without)} in the agents' process; {_pct(with_ + insp, without)} with the inspector "
                f"process's {insp:.4f}); barge-in to playout cleared p50/p99 {_cut(row)} / {_cut(base)}; the inspector "
                f"received {got.get('sessions', 0)} sessions, {got.get('messages', 0)} messages "
                f"({got.get('by_type', {}).get('barge_in', 0)} barge-ins), {got.get('dropped', 0)} dropped"
            )
            if row is r["runs"][name][-1]:
                extra = (with_ - without) / without * 100
                met = "met" if extra < GOAL_EXTRA_CPU_PCT else "NOT met"
                lines.append(f"  goal, {name}: the agents' extra CPU at N={row['n']}: {extra:+.1f}% "
                             f"(< {GOAL_EXTRA_CPU_PCT:g}%: {met})")  # fmt: skip
    return lines
