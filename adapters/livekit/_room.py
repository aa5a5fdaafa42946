"""LiveKitRoom: the RoomPort on a real ``rtc.Room``, and running an agent in one.

``run_agent`` serves an already-connected room (a livekit-agents job's, or your own);
``join_and_run`` connects first, with a token minted from the environment's settings
(``turnstile run``); ``worker_server`` hands the same agent to livekit-agents' worker
(``turnstile worker``).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
from typing import Any

from livekit import rtc

from turnstile.machine import AgentError, RealtimeAgent, RealtimeProvider

from ._link import LiveKitLink, LiveKitSpeaker, _Follower
from ._token import LiveKitSettings, SettingsError, agent_token, default_identity
from ._transcription import TranscriptionOptions

__all__ = [
    "PARTICIPANT_ENV",
    "PROVIDER_ENV",
    "LiveKitRoom",
    "join_and_run",
    "make_provider",
    "run_agent",
    "worker_entrypoint",
    "worker_server",
]

logger = logging.getLogger("turnstile.livekit")

PROVIDER_ENV = "TURNSTILE_PROVIDER"
PARTICIPANT_ENV = "TURNSTILE_PARTICIPANT"
"""How ``turnstile worker`` tells its job processes what to run (they inherit the env)."""

CONNECT_TIMEOUT_S = 20.0


class LiveKitRoom:
    """A RoomPort on a connected ``rtc.Room``.

    ``link`` publishes the agent's voice as a microphone track, then links the participant
    named, else the first remote participant (a person, not another agent), else the
    next one to join, waiting for them.
    """

    def __init__(
        self,
        room: rtc.Room,
        *,
        transcription: TranscriptionOptions | None = None,
        output_queue_ms: int = 200,
    ) -> None:
        self._room = room
        self.transcription = transcription or TranscriptionOptions()
        self.output_queue_ms = output_queue_ms
        """The voice's native queue: the most audio a barge-in can have to clear."""

    @property
    def room(self) -> rtc.Room:
        return self._room

    async def link(self, participant: str | None, *, output_sample_rate: int) -> LiveKitLink:
        # Follow room events before anything is awaited, so no join can slip between.
        follower = _Follower(self._room, participant)
        speaker = LiveKitSpeaker(output_sample_rate, queue_ms=self.output_queue_ms)
        publication: rtc.LocalTrackPublication | None = None
        try:
            publication = await self._room.local_participant.publish_track(
                speaker.track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
            )
            await follower.wait_linked()
        except BaseException:
            follower.close()
            if publication is not None and self._room.isconnected():
                with contextlib.suppress(Exception):
                    await self._room.local_participant.unpublish_track(publication.sid)
            await speaker.aclose()
            raise
        return LiveKitLink(self._room, follower, speaker, publication, self.transcription)


def make_provider(name: str) -> RealtimeProvider:
    """The provider ``turnstile run`` / ``worker`` use, with its key from the environment."""
    if name == "openai":
        from turnstile.adapters.openai import OpenAIRealtime

        return OpenAIRealtime()
    if name == "gemini":
        from turnstile.adapters.gemini import GeminiLive

        return GeminiLive()
    raise SettingsError(f"unknown provider {name!r}: choose openai or gemini")


async def run_agent(
    agent: RealtimeAgent,
    room: rtc.Room,
    *,
    participant: str | None = None,
    transcription: TranscriptionOptions | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run ``agent`` in a connected room until it closes, the room disconnects, or
    ``stop`` is set; the agent is closed on the way out."""
    done = asyncio.Event()

    def on_state(old: str, new: str, event: str | None) -> None:
        if new == "closed":
            done.set()

    def on_error(error: AgentError) -> None:
        log = logger.warning if error.recoverable else logger.error
        log("agent error %s: %s", error.code, error.message)

    def on_disconnected(*_: Any) -> None:
        done.set()

    agent.on("state_changed", on_state)
    agent.on("error", on_error)
    room.on("disconnected", on_disconnected)
    waiters = [asyncio.ensure_future(done.wait())]
    if stop is not None:
        waiters.append(asyncio.ensure_future(stop.wait()))
    try:
        starting = asyncio.ensure_future(
            agent.start(LiveKitRoom(room, transcription=transcription), participant)
        )
        # Linking waits for a participant: a disconnect or a stop must end that wait too.
        await asyncio.wait([starting, *waiters], return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
            return
        starting.result()  # raises what start raised
        logger.info("agent linked to %s", agent.link.participant if agent.link else "?")
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        room.off("disconnected", on_disconnected)
        await agent.aclose()


async def join_and_run(
    settings: LiveKitSettings,
    *,
    room_name: str,
    provider: RealtimeProvider,
    participant: str | None = None,
    identity: str | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Join ``room_name`` as a new agent participant and run a RealtimeAgent there."""
    token = agent_token(settings, room=room_name, identity=identity or default_identity())
    room = rtc.Room()
    try:
        await asyncio.wait_for(room.connect(settings.url, token), CONNECT_TIMEOUT_S)
    except TimeoutError:
        raise ConnectionError(f"no answer from {settings.url} within {CONNECT_TIMEOUT_S:.0f} s") from None
    except Exception as exc:
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        # The token is a credential for the room: should the SDK ever quote it, it is cut
        # from the message and the SDK's error is not chained.
        quoted = token in f"{message} {exc!r}"
        message = message.replace(token, "<token>")
        raise ConnectionError(f"could not join room {room_name!r} at {settings.url}: {message}") from (
            None if quoted else exc
        )
    logger.info("joined room %s as %s", room_name, room.local_participant.identity)
    try:
        await run_agent(RealtimeAgent(provider), room, participant=participant, stop=stop)
    finally:
        with contextlib.suppress(Exception):
            await room.disconnect()


async def worker_entrypoint(ctx: Any) -> None:
    """The livekit-agents job (``turnstile worker``): a RealtimeAgent in the job's room.

    Module-level so the worker's job processes can import it by name.
    """
    agents = importlib.import_module("livekit.agents")  # optional: the [worker] extra

    provider = make_provider(os.environ.get(PROVIDER_ENV, "openai"))
    participant = os.environ.get(PARTICIPANT_ENV) or None
    await ctx.connect(auto_subscribe=agents.AutoSubscribe.AUDIO_ONLY)
    agent = RealtimeAgent(provider)
    ctx.add_shutdown_callback(agent.aclose)
    await run_agent(agent, ctx.room, participant=participant)
    ctx.shutdown("the agent closed")


WORKER_PRELOAD = [
    "turnstile.machine", "turnstile.adapters.livekit", "turnstile.adapters.openai", "turnstile.adapters.gemini",
]
"""Imported once in the worker's forkserver, so every job process shares their pages: a
job's private memory falls from 16.6 to 9.1 MB (``python -m benchmarks._density``)."""


def worker_server(*, agent_name: str = "", executor: str = "process") -> Any:
    """livekit-agents' server running :func:`worker_entrypoint`; ImportError without it.

    ``executor="thread"`` runs every call as a thread of one worker process (livekit-agents'
    ``JobExecutorType.THREAD``): the densest option, at the price of sharing one
    interpreter, so one call's native crash, leak or CPU-bound tool reaches all of them.
    """
    agents = importlib.import_module("livekit.agents")  # optional: the [worker] extra

    if hasattr(agents, "AgentServer"):
        kwargs: dict[str, Any] = {"preload_modules": WORKER_PRELOAD}
        if executor == "thread":
            kwargs["job_executor_type"] = agents.JobExecutorType.THREAD
        server = agents.AgentServer(**kwargs)
        server.rtc_session(worker_entrypoint, agent_name=agent_name)
        return server
    # livekit-agents before AgentServer (1.0 - 1.2): the same job through WorkerOptions.
    return agents.WorkerOptions(entrypoint_fnc=worker_entrypoint, agent_name=agent_name)
