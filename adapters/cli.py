"""The turnstile command: draw the chart, run the offline demo, serve a loopback model,
check scenarios, join a LiveKit room.

Every failure is one line on stderr and a non-zero exit (see ``_cli_errors``).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._cli_errors import CliError, OneLineParser, os_reason, port, run_guarded
from ._cli_inputs import load_chart, load_scenario_file, read_trace

if TYPE_CHECKING:
    from .scenario import Scenario

__all__ = ["main"]

_DESCRIPTION = (
    "Turnstile: realtime voice agents whose behaviour is a declared statechart. "
    "Draw the chart, run an offline demo call, serve a loopback model, check scenarios, "
    "or join a LiveKit room."
)


def _diagram(args: argparse.Namespace) -> int:
    from turnstile import diagrams

    if args.write_committed:
        for path in diagrams.write_committed():
            print(f"wrote {path}")
        return 0
    if args.check:
        drifted = diagrams.check_committed()
        if drifted:
            raise CliError(f"{', '.join(drifted)} no longer match the chart; run make diagrams")
        return 0
    if args.output is None and args.format in ("svg", "png"):
        raise CliError(f"--format {args.format} needs -o FILE", 2)
    chart = load_chart(args.chart)
    trace = read_trace(args.trace) if args.trace else None
    if trace is not None and (unknown := diagrams.states_not_in_chart(chart, trace)):
        # Not fatal (the rest of the trace is drawn), but a drawing that silently leaves
        # out part of the trace would mislead.
        print(
            f"turnstile diagram: warning: {args.trace} names states {chart.__name__} does not "
            f"declare ({', '.join(unknown)}); their records are not drawn",
            file=sys.stderr,
        )
    if args.output is None:
        if args.format == "mermaid":
            print(diagrams.chart_mermaid(chart, trace))
        else:
            print(diagrams.chart_dot(chart, trace).source)
        return 0
    try:
        path = diagrams.render(args.output, chart=chart, trace=trace, format=args.format)
    except ValueError as exc:  # a file name and a format that disagree
        raise CliError(str(exc), 2) from None
    print(f"wrote {path}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    import asyncio  # here, not at the top: `turnstile --help` should not pay for it

    from .demo import run_demo

    scenario = load_scenario_file(args.scenario)
    return asyncio.run(
        run_demo(
            trace_path=Path(args.trace),
            diagram_path=Path(args.diagram),
            wav_path=Path(args.wav),
            scenario=scenario,
            url=args.url,
            provider_name=args.provider,
            inspect=args.inspect,
        )
    )


async def _until_stopped() -> None:
    import asyncio

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Installed explicitly: a process started in the background inherits SIGINT
        # ignored, and Ctrl-C / kill must still stop the server cleanly.
        with contextlib.suppress(NotImplementedError):  # Windows: KeyboardInterrupt instead
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def _serve_scenario(args: argparse.Namespace, scenario: Scenario) -> None:
    server: Any
    if args.provider == "gemini":
        from .gemini._loopback import GeminiLiveServer

        server = GeminiLiveServer(scenario, host=args.host, port=args.port, pace=args.pace)
    else:
        from .openai._server import OpenAIRealtimeServer

        server = OpenAIRealtimeServer(scenario, host=args.host, port=args.port, pace=args.pace)
    async with contextlib.AsyncExitStack() as stack:
        try:
            await stack.enter_async_context(server)
        except OSError as exc:  # the port is taken, the host is not this machine's
            raise CliError(f"cannot listen on {args.host}:{args.port}: {os_reason(exc)}") from None
        if args.provider == "gemini":
            print(f"Gemini Live loopback ({scenario.name}): {server.url}", flush=True)
            print(f"  key: ?key=... or 'x-goog-api-key'; Vertex AI: {server.vertex_url}", flush=True)
        else:
            print(f"OpenAI Realtime loopback ({scenario.name}): {server.url}", flush=True)
            print(f"  beta: same URL with 'OpenAI-Beta: realtime=v1'; Azure: {server.azure_url}", flush=True)
        await _until_stopped()


def _serve(args: argparse.Namespace) -> int:
    import asyncio

    scenario = load_scenario_file(args.scenario)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_scenario(args, scenario))
    return 0


def _scenario(args: argparse.Namespace) -> int:
    import json

    from .scenario import scenario_json_schema

    if args.schema:
        print(json.dumps(scenario_json_schema(), indent=2))
        return 0
    scenario = load_scenario_file(args.file)  # validates it
    print(scenario.model_dump_json(indent=2))
    return 0


def _run(args: argparse.Namespace) -> int:
    from .livekit import LiveKitSettings, join_and_run, make_provider

    try:
        settings = LiveKitSettings.from_env()
        provider = make_provider(args.provider)
    except ValueError as exc:  # a SettingsError, or a provider without its API key
        print(f"turnstile run: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("turnstile").setLevel(logging.INFO)
    logging.getLogger("livekit").setLevel(logging.ERROR)  # its connect retries, line by line

    import asyncio

    async def run() -> None:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await join_and_run(
            settings, room_name=args.room, provider=provider,
            participant=args.participant, identity=args.identity, stop=stop,
        )

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    except (ConnectionError, ValueError) as exc:  # could not join, or a bad room name
        print(f"turnstile run: {exc}", file=sys.stderr)
        return 1
    return 0


def _worker(args: argparse.Namespace) -> int:
    from .livekit import make_provider
    from .livekit._room import PARTICIPANT_ENV, PROVIDER_ENV

    try:
        from livekit.agents import cli as agents_cli

        from .livekit import worker_server

        server = worker_server(agent_name=args.agent_name, executor=args.executor)
    except ImportError as exc:
        print(
            f"turnstile worker: livekit-agents is not available ({exc}); "
            "pip install 'turnstile-agents[worker]'",
            file=sys.stderr,
        )
        return 2
    try:
        make_provider(args.provider)  # fail here, once, rather than in every job
    except ValueError as exc:
        print(f"turnstile worker: {exc}", file=sys.stderr)
        return 2
    # The job processes inherit the environment: that is how they learn what to run.
    os.environ[PROVIDER_ENV] = args.provider
    if args.participant:
        os.environ[PARTICIPANT_ENV] = args.participant
    sys.argv = ["turnstile worker", *args.agent_args]  # livekit-agents' CLI reads sys.argv
    agents_cli.run_app(server)
    return 0


def _inspect(args: argparse.Namespace) -> int:
    import asyncio

    from .inspector._cli import serve_inspector

    chart = load_chart(args.chart) if args.chart else None
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_inspector(args.host, args.port, until=_until_stopped, chart=chart))
    return 0


def _add_inspect(sub: Any) -> None:
    i = sub.add_parser("inspect", help="serve the inspector: watch agents move through their chart, in a browser")
    i.add_argument("--host", default="127.0.0.1", help="default: %(default)s; any other address asks for a token")
    i.add_argument("--port", type=port, default=8765, help="default: %(default)s; 0: any free port")
    i.add_argument("--chart", help="module:Class the trace files opened in the page are drawn over")
    i.set_defaults(func=_inspect)


def _replay(args: argparse.Namespace) -> int:
    from .recording._cli import run_replay

    return run_replay(args.recording, speed=args.speed, tolerance_ms=args.tolerance_ms, chart=load_chart(args.chart),
                      record_to=args.record_to)  # fmt: skip


def _add_replay(sub: Any) -> None:
    p = sub.add_parser("replay", help="replay a recorded session against its recorded server side; "
                       "exit 1 if the agent now behaves differently")  # fmt: skip
    p.add_argument("recording", help="a recording (JSONL) written by a Recorder or TURNSTILE_RECORD")
    p.add_argument("--speed", default="1",
                   help="play the recorded pauses faster (the agent's audio still plays in real time); "
                   "inf: no pauses (default: %(default)s)")  # fmt: skip
    p.add_argument("--tolerance-ms", type=int, default=40,
                   help="how far a truncation's audio_end_ms may move (default: %(default)s)")  # fmt: skip
    p.add_argument("--chart", help="module:Class of the AgentChart subclass the session ran")
    p.add_argument("--record-to", metavar="FILE",
                   help="record the replay itself: after a fix, the new recording to keep")  # fmt: skip
    p.set_defaults(func=_replay)


class _VersionAction(argparse.Action):
    """``--version``, looked up only when asked for."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        print(f"turnstile {_version()}")
        parser.exit()


def _version() -> str:
    from importlib import metadata  # only for --version: about 40 ms of start-up

    try:
        return metadata.version("turnstile-agents")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _add_diagram(sub: Any) -> None:
    d = sub.add_parser(
        "diagram", help="draw the agent chart (and a trace over it)",
        description="Draw the agent chart, and a trace over it, as DOT, Mermaid, SVG or PNG.",
    )  # fmt: skip
    d.add_argument("-o", "--output", help="the file to write (.svg .png .dot .gv .mmd); default: DOT on stdout")
    d.add_argument("--format", choices=["svg", "png", "dot", "mermaid"],
                   help="default: from the file's suffix; must agree with it")  # fmt: skip
    d.add_argument("--trace", help="a trace JSONL file (turnstile demo writes one) to lay over the chart")
    d.add_argument("--chart", help="module:Class of an AgentChart subclass; the current directory is searched")
    d.add_argument("--write-committed", action="store_true",
                   help="regenerate the drawings kept in diagrams/ (in a source checkout)")  # fmt: skip
    d.add_argument("--check", action="store_true", help="fail if the drawings in diagrams/ no longer match the chart")
    d.set_defaults(func=_diagram)


def _add_demo(sub: Any) -> None:
    m = sub.add_parser("demo", help="a simulated call through the real adapter, offline",
                       description="A simulated caller talks to the agent through the real provider "
                       "adapter and a loopback model, offline. Prints the call as it happens and a "
                       "summary; writes the trace, the chart with the trace over it, and a WAV.")  # fmt: skip
    m.add_argument("--trace", default="out/demo-trace.jsonl", help="where to write the trace (default: %(default)s)")
    m.add_argument("--diagram", default="out/demo-chart.svg",
                   help="where to draw the chart with the trace over it; the .dot and .mmd "
                   "are written beside it (default: %(default)s)")  # fmt: skip
    m.add_argument("--wav", default="out/demo-conversation.wav",
                   help="the call as a stereo WAV, caller left, agent right (default: %(default)s)")  # fmt: skip
    m.add_argument("--scenario", help="a scenario JSON file (default: the bundled demo)")
    m.add_argument("--provider", choices=["openai", "gemini"], default="openai",
                   help="the protocol to speak (default: %(default)s)")  # fmt: skip
    m.add_argument("--url", help="an endpoint speaking the protocol, instead of the built-in loopback "
                   "server; a key comes from OPENAI_API_KEY or GOOGLE_API_KEY, needed only off this "
                   "machine (default: the loopback server)")  # fmt: skip
    m.add_argument("--inspect", nargs="?", const="", metavar="URL",
                   help="watch the call in the inspector: alone, serves one here and prints its URL "
                   "(the call starts when the page is open); with a URL, publishes to that one")  # fmt: skip
    _add_observers(m, inspect=False)  # the demo's --inspect serves a page of its own
    m.set_defaults(func=_demo)


def _add_servers(sub: Any) -> None:
    v = sub.add_parser("serve", help="a loopback realtime server that plays a scenario, until Ctrl-C")
    v.add_argument("--provider", choices=["openai", "gemini"], default="openai",
                   help="the protocol to speak (default: %(default)s)")  # fmt: skip
    v.add_argument("--host", default="127.0.0.1", help="default: %(default)s")
    v.add_argument("--port", type=port, default=0, help="default: any free port")
    v.add_argument("--scenario", help="a scenario JSON file (default: the bundled demo)")
    v.add_argument("--pace", type=float, default=4.0, help="reply speed; 1.0 is real time (default: %(default)s)")
    v.set_defaults(func=_serve)

    c = sub.add_parser("scenario", help="check a scenario file, or print the scenario JSON schema")
    c.add_argument("file", nargs="?", help="a scenario JSON file (default: the bundled demo)")
    c.add_argument("--schema", action="store_true", help="print the JSON schema of scenario files")
    c.set_defaults(func=_scenario)


def _add_livekit(sub: Any) -> None:
    r = sub.add_parser("run", help="join a LiveKit room (LIVEKIT_URL, LIVEKIT_API_KEY/SECRET) and talk")
    r.add_argument("--provider", choices=["openai", "gemini"], default="openai",
                   help="the model to talk through (default: %(default)s)")  # fmt: skip
    r.add_argument("--room", required=True, help="the room to join")
    r.add_argument("--participant", help="the identity to talk to (default: the first to join)")
    r.add_argument("--identity", help="the agent's identity (default: turnstile-agent-<random>)")
    _add_observers(r, inspect=True)
    r.set_defaults(func=_run)

    w = sub.add_parser("worker", help="run the agent under livekit-agents' worker ([worker] extra)")
    w.add_argument("--provider", choices=["openai", "gemini"], default="openai",
                   help="the model to talk through (default: %(default)s)")  # fmt: skip
    w.add_argument("--participant", help="the identity to talk to (default: the first to join)")
    w.add_argument("--agent-name", default="", help="for explicit dispatch (default: automatic)")
    w.add_argument("--executor", choices=["process", "thread"], default="process",
                   help="a process per call, or every call a thread of one process: denser, but "
                   "one call's crash or leak reaches all (default: %(default)s)")  # fmt: skip
    _add_observers(w, inspect=True)
    w.add_argument("agent_args", nargs=argparse.REMAINDER, help="livekit-agents' command: start, dev, ...")
    w.set_defaults(func=_worker)


def _add_observers(p: argparse.ArgumentParser, *, inspect: bool) -> None:
    p.add_argument("--record", metavar="DIR", help="record each session into DIR, one file per "
                   "session, for turnstile replay (as TURNSTILE_RECORD=DIR)")  # fmt: skip
    if inspect:
        p.add_argument("--inspect", metavar="URL", help="publish each session to the inspector at "
                       "URL (turnstile inspect prints it; as TURNSTILE_INSPECT=URL)")  # fmt: skip


def _export_observers(args: argparse.Namespace) -> None:
    # Through the environment, so that every agent the command makes (a worker's jobs, in
    # processes of their own, too) records and publishes without being told twice.
    if getattr(args, "record", None):
        os.environ["TURNSTILE_RECORD"] = args.record
    if args.command in ("run", "worker") and getattr(args, "inspect", None):
        os.environ["TURNSTILE_INSPECT"] = args.inspect


def parser() -> argparse.ArgumentParser:
    top = OneLineParser(prog="turnstile", description=_DESCRIPTION)
    top.add_argument("--version", action=_VersionAction)
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_diagram(sub)
    _add_demo(sub)
    _add_servers(sub)
    _add_livekit(sub)
    _add_inspect(sub)
    _add_replay(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    _export_observers(args)
    return run_guarded(f"turnstile {args.command}", lambda: int(args.func(args)))


if __name__ == "__main__":
    raise SystemExit(main())
