"""Start-up cost: ``import turnstile.machine`` and ``turnstile --help``, each in a fresh process.

``python -m benchmarks._importtime [--runs N] [--json FILE]``

Each figure is the best of N runs: a shared machine only ever adds time, so the minimum is
the closest to what the code itself costs. The import figure is what ``python -X importtime``
reports for the package (cumulative, interpreter start-up excluded); ``turnstile --help`` is
wall time from exec to exit, so it includes the interpreter's own start (reported beside it
as ``python -c pass``). Which heavy packages the core import pulls in is listed too: a user
of Gemini or OpenAI alone must not load LiveKit's native library or numpy.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["GOAL_MS", "StartupResult", "import_ms", "measure", "wall_ms"]

GOAL_MS = 150.0
"""Issue 12's goal, on the 2-core bench machine, for both figures."""
HEAVY = ("livekit.rtc", "numpy", "aiohttp", "pydantic", "statemachine", "asyncio")
"""Packages worth naming when the core import loads them (each costs tens of ms)."""


@dataclass
class StartupResult:
    runs: int
    import_machine_ms: float
    """``import turnstile.machine``: its cumulative -X importtime, best of ``runs``."""
    heavy_loaded: list[str] = field(default_factory=list)
    """Which of ``HEAVY`` that import loads."""
    top_children_ms: dict[str, float] = field(default_factory=dict)
    """The costliest modules imported directly by turnstile.machine's submodules (best run)."""
    python_pass_ms: float = 0.0
    """``python -c pass``, wall: the interpreter start-up every command pays."""
    cli_help_ms: float | None = None
    """``turnstile --help``, wall, best of ``runs``; None when the script is not installed."""
    goal_ms: float = GOAL_MS

    def lines(self) -> list[str]:
        def verdict(ms: float) -> str:
            return "within" if ms <= self.goal_ms else "OVER"

        out = [
            f"Start-up (best of {self.runs} fresh processes; goal {self.goal_ms:.0f} ms):",
            f"  import turnstile.machine  {self.import_machine_ms:7.1f} ms"
            f"  ({verdict(self.import_machine_ms)} the goal; -X importtime, cumulative)",
        ]
        if self.cli_help_ms is not None:
            out.append(
                f"  turnstile --help          {self.cli_help_ms:7.1f} ms"
                f"  ({verdict(self.cli_help_ms)} the goal; wall, with"
                f" {self.python_pass_ms:.0f} ms of interpreter start-up)"
            )
        heavy = ", ".join(self.heavy_loaded) or "none of " + ", ".join(HEAVY)
        out.append(f"  loaded by the core import: {heavy}")
        costly = ", ".join(f"{k} {v:.1f} ms" for k, v in self.top_children_ms.items())
        out.append(f"  costliest imports under it: {costly}")
        return out


def _importtime(module: str) -> dict[str, tuple[int, float]]:
    """Module -> (nesting level, cumulative ms) from one fresh ``-X importtime`` run."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True, text=True, check=True,
    )
    out: dict[str, tuple[int, float]] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|", 2)
        if not cumulative.strip().isdigit():
            continue  # the header line
        level = (len(name) - len(name.lstrip(" "))) // 2
        out[name.strip()] = (level, int(cumulative) / 1000)
    return out


def import_ms(module: str = "turnstile.machine", runs: int = 10) -> tuple[float, dict[str, tuple[int, float]]]:
    """The best cumulative import time of ``module`` over ``runs``, and that run's table."""
    best: tuple[float, dict[str, tuple[int, float]]] | None = None
    for _ in range(runs):
        table = _importtime(module)
        ms = table[module][1]
        if best is None or ms < best[0]:
            best = (ms, table)
    assert best is not None
    return best


def wall_ms(argv: list[str], runs: int = 10) -> float:
    """The best wall time of running ``argv`` to completion (output discarded)."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        best = min(best, (time.perf_counter() - started) * 1000)
    return best


def _costliest(table: dict[str, tuple[int, float]], top: int = 5) -> dict[str, float]:
    # -X importtime prints a module after its children; a child of a turnstile module is
    # the first line at a deeper level above it. Only third-party and stdlib roots count.
    lines = list(table.items())
    found: dict[str, float] = {}
    for i, (name, (level, _)) in enumerate(lines):
        if not name.startswith("turnstile.machine"):
            continue
        for child, (child_level, ms) in reversed(lines[:i]):
            if child_level <= level:
                break
            if child_level == level + 1 and not child.startswith("turnstile"):
                found[child] = max(found.get(child, 0.0), ms)
    return dict(sorted(found.items(), key=lambda kv: -kv[1])[:top])


def measure(runs: int = 10) -> StartupResult:
    ms, table = import_ms("turnstile.machine", runs)
    result = StartupResult(
        runs=runs,
        import_machine_ms=round(ms, 1),
        heavy_loaded=[m for m in HEAVY if m in table],
        top_children_ms={k: round(v, 1) for k, v in _costliest(table).items()},
        python_pass_ms=round(wall_ms([sys.executable, "-c", "pass"], runs), 1),
    )
    script = Path(sys.executable).with_name("turnstile")
    exe = str(script) if script.exists() else shutil.which("turnstile")
    if exe is not None:
        result.cli_help_ms = round(wall_ms([exe, "--help"], runs), 1)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks._importtime", description=__doc__)
    p.add_argument("--runs", type=int, default=10, help="fresh processes per figure (10)")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error("--runs must be >= 1")
    result = measure(args.runs)
    print("\n".join(result.lines()))
    if args.json is not None:
        args.json.write_text(json.dumps(asdict(result), indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
