"""Mutation check: does the test suite catch deliberate one-line bugs?

    python -m tests.mutants            # or: make mutants
    python -m tests.mutants --list     # the mutants, and whether each still applies
    python -m tests.mutants -k a,b     # some of them
    python -m tests.mutants --every    # every test that kills each mutant (slower: no -x)

Each mutant is one replacement of exact text in one file. The working tree (tracked and
untracked files, as git sees them) is copied to a temporary directory once; the package is
imported from that copy (``PYTHONPATH`` ahead of the editable install), so the live tree,
which others may be editing, is never touched. The test subset runs once unmutated (it must
pass), then once per mutant with the mutant applied.

The property test runs without shrinking (``TURNSTILE_NO_SHRINK``: a failing example is
all a kill needs) and with a fixed hypothesis seed (``--seed``, default 0), so a run is
repeatable.

A mutant whose old text is no longer in its file (or is there more than once) is reported
``stale``: the code moved on and the list must follow it. Exit status: 0 when every mutant
was killed, 1 when any survived or is stale, 2 when the unmutated subset fails.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = {"machine": "machine", "adapters": "adapters", "diagrams": "diagrams"}
"""turnstile.<name> -> folder, as pyproject.toml maps them."""

SUBSET = [
    # Fast, targeted tests first: with -x the first failure ends a mutant's run.
    "tests/test_invariants_playout.py",
    "tests/test_invariants_replies.py",
    "tests/test_invariants_history.py",
    "tests/test_player.py",
    "tests/test_playout_and_state.py",
    "tests/test_tools_and_recovery.py",
    "tests/test_response_timeout.py",
    "tests/test_nothing_lost.py",
    "tests/test_liveness.py",
    "tests/test_chart_paths.py",
    "tests/test_properties.py",
    "tests/test_engine.py",
]
TIMEOUT_S = 300


@dataclass(frozen=True)
class Mutant:
    key: str
    bug: str
    path: str
    old: str
    new: str


MUTANTS = [
    # The five the suite used to let through (issue 9, "Tests that can fail").
    Mutant("a", "heard position not clamped to the audio received", "machine/_playout.py",
           "return max(0, min(heard, handle.received_samples))", "return max(0, heard)"),
    Mutant("b", "a dropped session keeps the dead responses", "machine/_chart.py",
           'expected, requested, cancel_on_arrival, streaming, cancelling, on="forget_responses"',
           "expected, requested, cancel_on_arrival, streaming, cancelling"),
    Mutant("c", "response.created does not disarm the response deadline", "machine/_inbound.py",
           "        self.response_deadline.disarm()\n        self.stream_deadline.touch()",
           "        self.stream_deadline.touch()"),
    Mutant("d", "response.done does not end the playout input", "machine/_inbound.py",
           "                    self.player.end_input(handle)", "                    pass"),
    Mutant("e", "history replay drops tool outputs", "adapters/openai/_mapping.py",
           'elif m.role == "tool" and m.tool_call_id:', "elif False:"),
    # Playout and barge-in.
    Mutant("f", "audio still queued in the room counts as heard", "machine/_playout.py",
           "            heard -= self._output.queued_samples", "            pass"),
    Mutant("g", "a barge-in does not clear the room's queue", "machine/_playout.py",
           "        self._output.clear()\n        self.paused = False\n", "        self.paused = False\n"),
    Mutant("h", "a barge-in with nothing heard truncates at 0 ms", "machine/_runtime.py",
           "            if heard_ms > 0:", "            if heard_ms >= 0:"),
    Mutant("i", "the chart's barge-in leaves the speech playing", "machine/_chart.py",
           'interrupted, cond="interruption_allowed", on="barge_in"',
           'interrupted, cond="interruption_allowed"'),
    Mutant("j", "audio of a cancelled response starts a new item", "machine/_inbound.py",
           "            if key in self._refused or ev.response_id in self._dropped_responses:",
           "            if key in self._refused:"),
    Mutant("k", "a barge-in before the response begins does not cancel it", "machine/_chart.py",
           'cancel_on_arrival.to(cancelling, on="cancel_arrived_response")', "cancel_on_arrival.to(cancelling)"),
    Mutant("k2", "a response cancelled on arrival is not marked cancelled", "machine/_runtime.py",
           "        if response is not None:\n            response.cancelled = True\n"
           "            self._dropped_responses.add(response.id)\n",
           "        if response is not None:\n            pass\n"),
    Mutant("l", "a played item's late audio plays it again", "machine/_runtime.py",
           "            self._refused.add(key)  # played", "            pass  # played"),
    # Replies owed: the response and tools regions of the chart.
    Mutant("m", "a response that begins while requested still counts as requested", "machine/_chart.py",
           "                no_response, expected, requested, cancelling\n",
           "                no_response, expected, cancelling\n"),
    Mutant("n", "a response that begins does not answer the outputs sent (settle_outputs)", "machine/_runtime.py",
           "        self.unanswered_outputs = 0  # a response began", "        pass  # a response began"),
    Mutant("o", "leaving reply_owed never asks for the reply", "machine/_chart.py",
           'on="request_response",', 'on="settle_outputs",'),
    Mutant("p", "a tool's outputs owe no reply", "machine/_tool_runs.py",
           "            self.unanswered_outputs += len(outputs)", "            pass"),
    Mutant("q", "thinking ends with a response while a tool still runs", "machine/_chart.py",
           "cond=\"responses_settled and In('no_tools') and not In('requested') and not In('expected')\"",
           "cond=\"responses_settled and not In('requested') and not In('expected')\""),
    Mutant("r", "a reply lost in a drop is not asked for again", "machine/_chart.py",
           "cond=\"In('requested') or reply_lost\"", "cond=\"In('requested')\""),
    Mutant("z", "a tool's reply is asked for during playout (the reply transition's cond weakened)",
           "machine/_chart.py",
           "cond=\"(In('listening') or In('thinking')) and In('no_response')\"", "cond=\"In('no_response')\""),
    # Sessions, deadlines, tools, history.
    Mutant("s", "a dropped session keeps forwarding the microphone", "machine/_runtime.py",
           "    def recover_session(self) -> None:\n        self.set_forwarding(False)",
           "    def recover_session(self) -> None:\n        pass"),
    Mutant("t", "the response deadline fires on a response under way", "machine/_chart.py",
           "cond=\"not In('streaming') and not In('cancelling') and not In('running')\"",
           "cond=\"not In('cancelling') and not In('running')\""),
    Mutant("u", "a touched deadline fires at its first due time", "machine/_deadline.py",
           "        if self._loop.time() < self._due:", "        if False:"),
    Mutant("v", "a tool call joins the conversation only when it returns", "machine/_tool_runs.py",
           "        for call in calls:\n            self.chat_ctx.messages.append(",
           "        for call in ():\n            self.chat_ctx.messages.append("),
    Mutant("w", "a withdrawn tool call is not cancelled", "machine/_inbound.py",
           "            if task is not None:\n                task.cancel()",
           "            if task is not None:\n                pass"),
    Mutant("x", "an unknown tool is called anyway", "machine/_tools.py",
           "        if tool is None:", "        if False:"),
    Mutant("y", "history replay drops tool calls", "adapters/openai/_mapping.py",
           'elif m.role == "assistant" and m.tool_call_id:', "elif False:"),
    # Found by hypothesis: an answer still owed after the user talked over thinking.
    Mutant("aa", "the user falls silent with an answer owed and the turn only listens", "machine/_chart.py",
           "| listening.to(thinking, cond=\"In('expected')\")", "| listening.to(thinking, cond=\"In('requested')\")"),
    # The engine's plans, shared by every instance of a chart class.
    Mutant("ab", "an exit plan is reused whatever the configuration", "machine/_engine.py",
           "key = (transitions, self._config_key())", "key = (transitions, ())"),
    Mutant("ac", "exited states are another instance's", "machine/_engine.py",
           "[StateTransition(transition=t, state=instance(v)) for t, v in plan[0]]",
           "[StateTransition(transition=t, state=self.sm.states_map[v]) for t, v in plan[0]]"),
]


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None,
        timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, timeout=timeout, capture_output=True, text=True, check=False)


def snapshot(into: Path) -> tuple[Path, dict[str, str]]:
    """Copy the working tree as git sees it; return the copy and the env importing it."""
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], REPO)
    src = into / "src"
    for rel in sorted(set(filter(None, listed.stdout.split("\0")))):
        origin = REPO / rel
        if origin.is_file():  # listed in the index but deleted in the tree: skip it
            target = src / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target)
    # A namespace package "turnstile" whose parts are the copy's folders; found on
    # PYTHONPATH before the editable install's finder, which would load the live tree.
    ns = into / "importroot" / "turnstile"
    ns.mkdir(parents=True)
    for name, folder in PACKAGES.items():
        (ns / name).symlink_to(src / folder, target_is_directory=True)
    env = dict(os.environ, PYTHONPATH=str(into / "importroot"), PYTHONDONTWRITEBYTECODE="1",
               TURNSTILE_NO_SHRINK="1")
    probe = run([sys.executable, "-c", "import turnstile.machine as m; print(m.__file__)"], src, env)
    if not probe.stdout.strip().startswith(str(into)):
        sys.exit(f"the copy is not what gets imported: {probe.stdout or probe.stderr}")
    return src, env


def status_of(m: Mutant, src: Path) -> str:
    path = src / m.path
    if not path.is_file():
        return "stale: file gone"
    count = path.read_text().count(m.old)
    if count == 0:
        return "stale: old text not found"
    if count > 1:
        return f"stale: old text found {count} times"
    return "ok"


def pytest(src: Path, env: dict[str, str], subset: list[str], seed: int,
           every: bool = False) -> tuple[str, str, float]:
    """Run the subset; returns (outcome, the failing test(s) or reason, seconds)."""
    present = [p for p in subset if (src / p.split("::")[0]).exists()]
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
           f"--hypothesis-seed={seed}", *([] if every else ["-x"]), *present]
    start = time.monotonic()
    try:
        done = run(cmd, src, env, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return "killed", f"timeout after {TIMEOUT_S} s", time.monotonic() - start
    seconds = time.monotonic() - start
    if done.returncode == 0:
        return "survived", "", seconds
    # pytest's summary lines ("FAILED tests/x.py::test - why"), not captured log lines.
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+\.py(?:::.+?)?)(?: - .*)?$", done.stdout, re.MULTILINE)
    why = ", ".join(failed) if failed else "".join((done.stdout + done.stderr).strip().splitlines()[-1:])
    errors = [line for line in done.stdout.splitlines() if re.match(r"\s*(\| )*E\s", line)]
    return "killed", why + ("\n" + "\n".join(errors[:12]) if errors else ""), seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-k", "--keys", help="comma-separated mutant keys to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutants and whether they apply")
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed (default 0: repeatable)")
    parser.add_argument("--subset", nargs="*", default=SUBSET, help="test files (or node ids) to run")
    parser.add_argument("-v", "--verbose", action="store_true", help="show each kill's assertion")
    parser.add_argument("--every", action="store_true",
                        help="run the whole subset for each mutant (not -x): list every test that kills it")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTANTS if not args.keys or m.key in args.keys.split(",")]
    with tempfile.TemporaryDirectory(prefix="turnstile-mutants-") as tmp:
        src, env = snapshot(Path(tmp))
        statuses = {m.key: status_of(m, src) for m in chosen}
        if args.list:
            for m in chosen:
                print(f"{m.key:>3}  {statuses[m.key]:<28} {m.path}: {m.bug}")
            return 0
        print(f"copied the working tree to {src}; tests: {' '.join(args.subset)}", flush=True)
        outcome, why, seconds = pytest(src, env, args.subset, args.seed)
        if outcome != "survived":
            print(f"the unmutated tree fails the subset: {why}\nfix that first", file=sys.stderr)
            return 2
        print(f"unmutated: passed in {seconds:.0f} s", flush=True)
        rows: list[tuple[Mutant, str, str]] = []
        for m in chosen:
            detail = ""
            if statuses[m.key] != "ok":
                rows.append((m, statuses[m.key], ""))
            else:
                path = src / m.path
                original = path.read_text()
                path.write_text(original.replace(m.old, m.new, 1))
                try:
                    outcome, why, seconds = pytest(src, env, args.subset, args.seed, args.every)
                finally:
                    path.write_text(original)
                why, _, detail = why.partition("\n")
                rows.append((m, outcome, f"{why} ({seconds:.0f} s)"))
            print(f"{m.key:>3}  {rows[-1][1]:<28} {m.bug}  {rows[-1][2]}", flush=True)
            if detail and args.verbose:
                print(detail, flush=True)
    print()
    print("| mutant | bug | file | result | killed by |")
    print("|---|---|---|---|---|")
    for m, outcome, why in rows:
        print(f"| {m.key} | {m.bug} | {m.path} | {outcome} | {why} |")
    bad = [m.key for m, outcome, _ in rows if outcome != "killed"]
    print(f"\n{len(rows) - len(bad)} of {len(rows)} killed" + (f"; not killed: {', '.join(bad)}" if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
