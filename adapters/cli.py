"""The ``turnstile`` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import os
import signal
import sys
from pathlib import Path

__all__ = ["main"]


def _load_chart(spec: str | None) -> type:
    """``package.module:ClassName`` -> the chart class (default: the built-in chart)."""
    from turnstile.machine import AgentChart

    if not spec:
        return AgentChart
    module, _, name = spec.partition(":")
    chart = getattr(importlib.import_module(module), name or "AgentChart")
    if not (isinstance(chart, type) and issubclass(chart, AgentChart)):
        raise SystemExit(f"turnstile: {spec} is not an AgentChart subclass")
    return chart


def _diagram(args: argparse.Namespace) -> int:
    from turnstile import diagrams
    from turnstile.machine import Trace

    if args.write_committed:
        for path in diagrams.write_committed():
            print(f"wrote {path}")
        return 0
    if args.check:
        drifted = diagrams.check_committed()
        for name in drifted:
            print(f"{name} no longer matches the chart; run `make diagrams`", file=sys.stderr)
        return 1 if drifted else 0
    chart = _load_chart(args.chart)
    trace = Trace.read_jsonl(args.trace) if args.trace else None
    if args.output is None:
        fmt = args.format or "dot"
        if fmt == "dot":
            print(diagrams.chart_dot(chart, trace).source)
        elif fmt == "mermaid":
            print(diagrams.chart_mermaid(chart, trace))
        else:
            raise SystemExit(f"turnstile: --format {fmt} needs -o FILE")
        return 0
    path = diagrams.render(args.output, chart=chart, trace=trace, format=args.format)
    print(f"wrote {path}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return asyncio.run(
        run_demo(
            trace_path=Path(args.trace),
            diagram_path=Path(args.diagram),
            wav_path=Path(args.wav),
            scenario_path=Path(args.scenario) if args.scenario else None,
            url=args.url,
            provider_name=args.provider,
        )
    )


def _serve(args: argparse.Namespace) -> int:
    from .openai._server import OpenAIRealtimeServer
    from .scenario import load_scenario

    scenario = load_scenario(args.scenario)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            # Installed explicitly: a process started in the background inherits SIGINT
            # ignored, and Ctrl-C / kill must still stop the server cleanly.
            with contextlib.suppress(NotImplementedError):  # Windows: KeyboardInterrupt below
                loop.add_signal_handler(sig, stop.set)
        if args.provider == "gemini":
            from .gemini._loopback import GeminiLiveServer

            async with GeminiLiveServer(scenario, host=args.host, port=args.port, pace=args.pace) as gemini:
                print(f"Gemini Live loopback ({scenario.name}): {gemini.url}", flush=True)
                print(f"  key: ?key=... or 'x-goog-api-key'; Vertex AI: {gemini.vertex_url}", flush=True)
                await stop.wait()
            return
        async with OpenAIRealtimeServer(scenario, host=args.host, port=args.port, pace=args.pace) as srv:
            print(f"OpenAI Realtime loopback ({scenario.name}): {srv.url}", flush=True)
            print(f"  beta: same URL with 'OpenAI-Beta: realtime=v1'; Azure: {srv.azure_url}", flush=True)
            await stop.wait()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass
    return 0


def _scenario(args: argparse.Namespace) -> int:
    import json

    from .scenario import load_scenario, scenario_json_schema

    if args.schema:
        print(json.dumps(scenario_json_schema(), indent=2))
        return 0
    scenario = load_scenario(args.file)  # validates it
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

        server = worker_server(agent_name=args.agent_name)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="turnstile", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    d = sub.add_parser("diagram", help="render the agent chart (and a trace over it)")
    d.add_argument("-o", "--output", help="file to write (.svg .png .dot .mmd); default: stdout")
    d.add_argument("--format", choices=["svg", "png", "dot", "mermaid"])
    d.add_argument("--trace", help="a trace JSONL file to lay over the chart")
    d.add_argument("--chart", help="module:Class of an AgentChart subclass")
    d.add_argument("--write-committed", action="store_true", help="regenerate diagrams/")
    d.add_argument("--check", action="store_true", help="fail if diagrams/ drifted")
    d.set_defaults(func=_diagram)

    m = sub.add_parser("demo", help="a simulated call through the real adapter, offline")
    m.add_argument("--trace", default="out/demo-trace.jsonl")
    m.add_argument("--diagram", default="out/demo-chart.svg")
    m.add_argument("--wav", default="out/demo-conversation.wav")
    m.add_argument("--scenario", help="a scenario JSON file; default: the bundled demo")
    m.add_argument("--provider", choices=["openai", "gemini"], default="openai")
    m.add_argument("--url", help="an endpoint speaking the protocol, instead of the built-in server")
    m.set_defaults(func=_demo)

    v = sub.add_parser("serve", help="a loopback realtime server that plays a scenario, until Ctrl-C")
    v.add_argument("--provider", choices=["openai", "gemini"], default="openai")
    v.add_argument("--host", default="127.0.0.1")
    v.add_argument("--port", type=int, default=0, help="default: any free port")
    v.add_argument("--scenario", help="a scenario JSON file; default: the bundled demo")
    v.add_argument("--pace", type=float, default=4.0, help="reply speed; 1.0 is real time (default: 4.0)")
    v.set_defaults(func=_serve)

    c = sub.add_parser("scenario", help="check a scenario file, or print the scenario JSON schema")
    c.add_argument("file", nargs="?", help="a scenario JSON file; default: the bundled demo")
    c.add_argument("--schema", action="store_true", help="print the JSON schema of scenario files")
    c.set_defaults(func=_scenario)

    r = sub.add_parser("run", help="join a LiveKit room (LIVEKIT_URL, LIVEKIT_API_KEY/SECRET) and talk")
    r.add_argument("--provider", choices=["openai", "gemini"], default="openai")
    r.add_argument("--room", required=True, help="the room to join")
    r.add_argument("--participant", help="the identity to talk to; default: the first to join")
    r.add_argument("--identity", help="the agent's identity; default: turnstile-agent-<random>")
    r.set_defaults(func=_run)

    w = sub.add_parser("worker", help="run the agent under livekit-agents' worker ([worker] extra)")
    w.add_argument("--provider", choices=["openai", "gemini"], default="openai")
    w.add_argument("--participant", help="the identity to talk to; default: the first to join")
    w.add_argument("--agent-name", default="", help="for explicit dispatch; default: automatic")
    w.add_argument("agent_args", nargs=argparse.REMAINDER, help="livekit-agents' command: start, dev, ...")
    w.set_defaults(func=_worker)

    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
