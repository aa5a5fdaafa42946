"""The chaos run's table: runs, faults by kind, outcomes, escapes, losses, RSS growth."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ._chaos_faults import PROXY_KINDS, SCENARIO_KINDS
from ._chaos_run import RunResult

__all__ = ["Campaign", "format_report", "write_json"]


@dataclass
class Campaign:
    seed: int
    results: list[RunResult]
    seconds: float
    rss_mb: dict[str, float]  # "start", "first"/"last" (medians over the first/last tenth of runs), "end"
    unattributed: list[str] = field(default_factory=list)
    """Escapes no conversation's task could be blamed for (callbacks, futures)."""
    warnings: Counter[str] = field(default_factory=Counter)
    """Loop reports that are not exceptions: unclosed sessions, pending tasks destroyed."""
    command: str = ""

    @property
    def failed(self) -> bool:
        return any(r.failed for r in self.results) or bool(self.unattributed)


def _row(name: str, rs: Sequence[RunResult]) -> str:
    count = Counter(r.outcome for r in rs)
    cells = [
        name, len(rs), sum(len(r.injected) for r in rs), count["survived"], count["closed"], count["stuck"],
        sum(len(r.escaped) for r in rs), sum(len(r.tool_lost) for r in rs), sum(len(r.lost) for r in rs),
        sum(len(r.duplicated) for r in rs),
    ]  # fmt: skip
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{k} {n}" for k, n in counter.most_common()) or "none"


def format_report(c: Campaign) -> str:
    rs = c.results
    minutes, seconds = divmod(round(c.seconds), 60)
    lines = [
        f"Chaos run: {len(rs)} conversations, seed {c.seed}, {minutes}m{seconds:02d}s"
        + (f"  (`{c.command}`)" if c.command else ""),
        "",
        "| dialect | runs | faults | survived | closed | stuck | escaped | tool results lost | items lost"
        " | items duplicated |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for dialect in ("ga", "beta", "gemini"):
        part = [r for r in rs if r.dialect == dialect]
        if part:
            lines.append(_row(f"OpenAI {dialect}" if dialect != "gemini" else "Gemini", part))
    lines.append(_row("**all**", rs))
    kinds = Counter(k.split(":")[0] for r in rs for k in r.injected)
    variants = Counter(k.split(":")[1] for r in rs for k in r.injected if ":" in k)
    proxy = ", ".join(f"{k} {kinds[k]}" for k in PROXY_KINDS)
    scenario = ", ".join(f"{k} {kinds[k]}" for k in SCENARIO_KINDS)
    stuck = Counter(r.stuck_state or "" for r in rs if r.outcome == "stuck")
    rss = c.rss_mb
    errors: Counter[str] = Counter()
    for r in rs:
        errors.update(r.errors)
    growth = rss["last"] - rss["first"]
    per_100 = growth / max(1, len(rs) * 0.9) * 100
    lines += [
        "",
        f"Faults injected by the proxy: {proxy}.",
        f"Malformed frames: {_counts(variants)}.",
        f"Loopback scenario faults planned onto a reply: {scenario}.",
        f"Stuck, by state: {_counts(stuck)}.",
        f"RSS: {rss['start']:.1f} MB before the first conversation; {rss['first']:.1f} MB over the first tenth,"
        f" {rss['last']:.1f} MB over the last ({growth:+.1f} MB, {per_100:+.2f} MB per 100 conversations);"
        f" {rss['end']:.1f} MB at the end.",
        f"Agent errors reported: {_counts(errors)}.",
    ]
    if c.warnings:
        lines.append(f"Loop warnings (not exceptions): {_counts(c.warnings)}.")
    if c.unattributed:
        lines.append(f"Escapes no conversation could be blamed for: {len(c.unattributed)}: {c.unattributed[:3]}")
    failing = [r for r in rs if r.failed]
    if failing:
        lines += ["", f"Failing conversations ({len(failing)}; replay one with --only INDEX --seed {c.seed}):"]
        for r in failing[:40]:
            lines.append("  " + describe(r))
        if len(failing) > 40:
            lines.append(f"  ... and {len(failing) - 40} more (--json has them all)")
    return "\n".join(lines)


def describe(r: RunResult, *, verbose: bool = False) -> str:
    what = [r.outcome + (f" in {r.stuck_state}" if r.stuck_state else "")]
    what += [f"escaped: {e}" for e in r.escaped[:2]]
    what += [f"tool result lost: {c}" for c in r.tool_lost[:2]]
    what += [f"lost: {x}" for x in r.lost[:2]] + [f"dup: {x}" for x in r.duplicated[:2]]
    if r.note:
        what.append(r.note.strip().splitlines()[-1])
    if verbose:
        what.append(f"errors {dict(r.errors)}, {r.connects} connects, path {' '.join(r.path)}")
    return f"#{r.index} {r.dialect} faults [{', '.join(r.planned)}]: " + "; ".join(what)


def write_json(c: Campaign, path: Path) -> None:
    data = {
        "seed": c.seed, "seconds": c.seconds, "rss_mb": c.rss_mb, "unattributed": c.unattributed,
        "warnings": dict(c.warnings), "runs": [asdict(r) for r in c.results],
    }  # fmt: skip
    path.write_text(json.dumps(data, indent=1, default=str))
