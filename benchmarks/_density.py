"""Deployment density: what a process costs under livekit-agents' worker, and sessions per GB and core.

A LiveKit deployment runs agents under the worker (``turnstile worker``, or a livekit-agents
``AgentServer``), one process per job by default: processes, not coroutines, are what a
deployment pays for. Two parts:

* **Idle job processes, measured** (``python -m benchmarks._density --measure``, from the
  venv with livekit-agents): the real ``AgentServer`` is started as ``turnstile worker``
  builds it (the same entrypoint, ``rtc_session(worker_entrypoint)``), and one whose job
  module is a livekit-agents ``AgentSession`` agent (``_density_agent``), each in production
  mode without registering (no LiveKit server here), pre-warming 2 job processes as it does
  on this machine (one per core) from its forkserver. Each idle process's memory is read from
  ``/proc/PID/smaps_rollup``: RSS, PSS (shared pages split among sharers: what a fleet pays)
  and USS (private). With the thread executor, jobs are threads of the worker process: its
  RSS is read instead.
* **Per session, from the sessions bench** (same load, same frameworks): the RSS growth per
  session and the CPU per session-minute at N=1 (a process per call) and at the largest N
  whose p99 playout lateness stayed under 20 ms (several calls per process).

What is left out: a real job's room connection (the livekit FFI's native threads and
buffers, the same for both), and the worker's own process (one per machine, not per call).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["format_density", "run_density"]

ROOT = Path(__file__).resolve().parent.parent
IDLE = 2  # the worker's production default here: one pre-warmed process per core
_TURNSTILE = "turnstile.adapters.livekit._room:worker_entrypoint"
_PRELOAD = ["turnstile.machine", "turnstile.adapters.livekit", "turnstile.adapters.openai"]
DEPLOYMENTS: dict[str, tuple[str, str, list[str]]] = {
    # name: (the job's entrypoint "module:function", executor, AgentServer's preload_modules)
    "turnstile worker": (_TURNSTILE, "process", []),
    "livekit-agents worker": ("benchmarks._density_agent:entrypoint", "process", []),
    # livekit-agents preloads its registered plugins in the forkserver, so the plugin's
    # pages are shared by every job process; Turnstile registers none: its modules are
    # imported by each job after the fork, unless named in preload_modules.
    "turnstile worker, preloaded": (_TURNSTILE, "process", _PRELOAD),
    "turnstile worker, thread executor": (_TURNSTILE, "thread", []),
    "livekit-agents worker, thread executor": ("benchmarks._density_agent:entrypoint", "thread", []),
}
FRAMEWORK = {"turnstile worker": "turnstile", "turnstile worker, preloaded": "turnstile",
             "livekit-agents worker": "livekit-agents"}  # fmt: skip
"""The process-per-job deployments, and whose per-session figures go with each."""
_THREADED = {
    "turnstile": "turnstile worker, thread executor",
    "livekit-agents": "livekit-agents worker, thread executor",
}


def _memory_mb(pid: int) -> dict[str, float]:
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, _, rest = line.partition(":")
        fields[key] = int(rest.split()[0]) / 1000  # kB -> MB
    private = fields.get("Private_Clean", 0.0) + fields.get("Private_Dirty", 0.0)
    return {"rss_mb": round(fields["Rss"], 1), "pss_mb": round(fields["Pss"], 1), "uss_mb": round(private, 1)}


async def _measure(entry: str, executor: str, preload: list[str]) -> dict[str, Any]:
    import importlib

    from livekit.agents import AgentServer, JobExecutorType

    module, _, name = entry.partition(":")
    server = AgentServer(
        job_executor_type=JobExecutorType.THREAD if executor == "thread" else JobExecutorType.PROCESS,
        num_idle_processes=IDLE,
        port=0,  # its health-check server: any free port
        preload_modules=preload or None,
    )
    server.rtc_session(getattr(importlib.import_module(module), name))
    started = asyncio.Event()
    # Emitted once its process pool has started, which waits for the idle processes to warm up.
    server.on("worker_started", lambda *_: started.set())
    run = asyncio.get_running_loop().create_task(server.run(devmode=False, unregistered=True))
    try:
        waiter = asyncio.ensure_future(started.wait())
        await asyncio.wait([run, waiter], timeout=120, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if not started.is_set():
            raise RuntimeError(f"the worker did not start: {run.exception() if run.done() else 'timed out'}")
        await asyncio.sleep(1.0)  # let the processes settle after initialising
        pids = [p.pid for p in server._proc_pool.processes if getattr(p, "pid", None)]
        worker = _memory_mb(os.getpid())
        out: dict[str, Any] = {"executor": executor, "entry": entry, "idle": IDLE, "worker": worker}
        if pids:
            procs = [_memory_mb(pid) for pid in pids]
            out["job_processes"] = procs
            out["job_process"] = {k: round(sum(p[k] for p in procs) / len(procs), 1) for k in procs[0]}
        return out
    finally:
        await server.aclose()
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)


def _child(name: str) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(asyncio.run(_measure(*DEPLOYMENTS[name]))), flush=True)


def run_density(sessions: dict[str, Any] | None, progress: Any = None) -> dict[str, Any]:
    """Measure each deployment's idle processes (one fresh worker each), then combine."""
    from ._sessions_venvs import python_for

    python, where = python_for("livekit-agents")
    out: dict[str, Any] = {"deployments": {}, "python": where}
    if python is None:
        out["skipped"] = where
        return out
    for name in DEPLOYMENTS:
        if progress is not None:
            progress(f"density: {name}, {IDLE} idle jobs")
        done = subprocess.run([python, "-m", "benchmarks._density", "--measure", name],
                              capture_output=True, text=True, check=False, cwd=ROOT, timeout=300)  # fmt: skip
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            tail = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
            out["deployments"][name] = {"error": tail[0]}
        else:
            out["deployments"][name] = json.loads(lines[-1])
    out["rows"] = _combine(out["deployments"], sessions) if sessions else []
    return out


def _combine(deployments: dict[str, Any], sessions: dict[str, Any]) -> list[dict[str, Any]]:
    """Memory and CPU per session for each framework, deployed one call per process or several."""
    rows = []
    for name, framework in FRAMEWORK.items():
        runs = [r for r in sessions["runs"].get(framework, []) if "error" not in r]
        one = next((r for r in runs if r["n"] == 1), None)
        job = deployments.get(name, {}).get("job_process")
        if one is not None and job is not None:
            # What one more call costs: its process's private pages, and the session's own.
            mb = job["uss_mb"] + max(0.0, one["rss_mb_per_session"])
            cpu = one["cpu_s_per_session_minute"]
            rows.append(_row(framework, f"{name}: a process per call", 1, mb, cpu))
    for framework, name in _THREADED.items():
        runs = [r for r in sessions["runs"].get(framework, []) if "error" not in r]
        best_n = sessions["summary"].get(framework, {}).get("largest_n_p99_under_limit")
        many = next((r for r in runs if r["n"] == best_n and best_n > 1), None)
        worker = deployments.get(name, {}).get("worker")
        if many is not None and worker is not None:
            mb = max(0.0, many["rss_mb_per_session"]) + worker["rss_mb"] / many["n"]
            rows.append(_row(framework, f"{many['n']} calls in one process ({name})", many["n"], mb,
                             many["cpu_s_per_session_minute"]))  # fmt: skip
    return rows


def _row(framework: str, how: str, n: int, mb: float, cpu: float) -> dict[str, Any]:
    return {"framework": framework, "deployment": how, "sessions_per_process": n, "mb_per_session": round(mb, 2),
            "sessions_per_gb": round(1000 / mb, 1), "sessions_per_core": round(60 / cpu, 1)}  # fmt: skip


def format_density(d: dict[str, Any]) -> str:
    title = "Deployment density under livekit-agents' worker (memory in MB; PSS: shared pages split among sharers)"
    lines = ["", title]
    if "skipped" in d:
        return "\n".join([*lines, f"  skipped: {d['skipped']}"])
    lines.append(f"  {'deployment':<40}{'worker RSS':>11}{'job RSS':>9}{'job PSS':>9}{'job USS':>9}")
    for name, m in d["deployments"].items():
        if "error" in m:
            lines.append(f"  {name:<40}  failed: {m['error'][:80]}")
            continue
        job = m.get("job_process") or {}
        cells = "".join(f"{job.get(k, '-'):>9}" for k in ("rss_mb", "pss_mb", "uss_mb"))
        lines.append(f"  {name:<40}{m['worker']['rss_mb']:>11}{cells}")
    if d.get("rows"):
        head = f"  {'framework':<16}{'deployment':<66}{'MB/session':>11}{'sessions/GB':>12}{'sessions/core':>14}"
        lines.append(head)
        for r in d["rows"]:
            lines.append(f"  {r['framework']:<16}{r['deployment']:<66}{r['mb_per_session']:>11.1f}"
                         f"{r['sessions_per_gb']:>12.1f}{r['sessions_per_core']:>14.1f}")  # fmt: skip
        lines.append(
            "  one call per job process: the idle job process's USS (its private pages: what one more process\n"
            "  costs) plus one session's RSS growth (sessions bench, N=1), and the CPU of one session alone;\n"
            "  several in one process: the thread executor's worker RSS shared out plus each session's RSS growth,\n"
            "  at the largest N the sessions bench ran with p99 lateness under 20 ms"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks._density", description=__doc__)
    p.add_argument("--measure", choices=list(DEPLOYMENTS), help="(child) measure one deployment's idle processes")
    args = p.parse_args(argv)
    if args.measure:
        _child(args.measure)
        return 0
    print(format_density(run_density(None, progress=lambda m: print(f"  ... {m}", file=sys.stderr))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
