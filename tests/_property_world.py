"""The property test's world: a scripted server and user around a real agent, and what
they can observe of it (tests/test_properties.py drives it and checks the invariants)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from turnstile.adapters.local import LocalLink, LocalRoom, LocalSpeaker
from turnstile.adapters.scripted import ScriptedRealtime, ScriptedSession, pcm_tone
from turnstile.machine import (
    AudioDelta,
    FunctionCall,
    InputAudioCommitted,
    InputSpeechStarted,
    InputSpeechStopped,
    ProviderError,
    RealtimeAgent,
    ResponseContentDone,
    ResponseCreated,
    ResponseDone,
    ServerInterrupted,
    SessionLost,
    SessionReady,
    ToolCallsCancelled,
    ToolCallsRequested,
    TranscriptDelta,
)

ABANDONING = ("user_speech_started", "interrupt", "response_stalled", "playout_stalled")
"""Transitions out of thinking or speaking after which a reply owed may go unasked: the
user took the floor (the answer to their turn covers it), or a watchdog abandoned the
response (today the runtime does not ask again after a stall; the test allows it)."""


class CountingSpeaker(LocalSpeaker):
    """LocalSpeaker that tells the test each time its listener hears agent audio, so a
    barge-in can land at an exact heard position (before the player sees it)."""

    on_heard: Callable[[], None] | None = None

    @property
    def heard_samples(self) -> int:
        return self._heard

    @heard_samples.setter
    def heard_samples(self, value: int) -> None:
        self._heard = value
        if self.on_heard is not None:
            self.on_heard()


class CountingRoom(LocalRoom):
    async def link(self, participant: str | None, *, output_sample_rate: int) -> LocalLink:
        speaker = CountingSpeaker(output_sample_rate, queue_ms=self.speaker_queue_ms)
        self.link_ = LocalLink(self, self.caller, speaker)
        return self.link_


class World:
    """The scripted server and user, and what they can observe of the agent."""

    def __init__(
        self, agent: RealtimeAgent, provider: ScriptedRealtime, room: CountingRoom, release_tools: asyncio.Event
    ) -> None:
        self.agent, self.provider, self.room = agent, provider, room
        self.session: ScriptedSession = provider.last_session
        self.speaker: CountingSpeaker = room.speaker  # type: ignore[assignment]
        self.n = self.tones = 0
        self.rid, self.iid = "r0", "i0"
        # Responses begun on this connection and not done: r0 is one under way before the
        # script (its audio comes with no response.created).
        self.open: set[str] = {"r0"}
        self.connected = True
        self.received: dict[str, int] = {}  # samples the provider sent per item
        self.ended: set[str] = set()  # items whose input ended (content done, response done)
        self.item_rid: dict[str, str] = {}
        self.started_at: dict[str, int] = {}  # listener's heard count when each item began
        self.truncations: list[tuple[int, int, int]] = []  # (audio_end_ms, heard, received)
        self.trigger: str | None = None
        self.cancelled: set[str] = set()  # responses the user barged in on
        self.replayed: list[str] = []  # items of those that began to play after
        self.release_tools = release_tools
        self.audio_ms = 0
        # Replies owed: counted from what the agent sent, in the order it sent it.
        self.user_owed = self.may_ask_anew = self.seen = self.requests = 0
        self.tool_owed = False
        self.extra_asks: list[int] = []
        self.server_cancelled: set[str] = set()  # responses the agent cancelled at the server
        self.slow_calls: list[str] = []
        agent.on("agent_started_speaking", self._item_started)
        agent.on("state_changed", self._state_changed)
        self.speaker.on_heard = self._heard
        truncate = self.session.truncate

        def recorded(item_id: str, content_index: int, audio_end_ms: int) -> None:
            heard = self.speaker.heard_samples - self.started_at.get(item_id, self.speaker.heard_samples)
            self.truncations.append((audio_end_ms, heard, self.received.get(item_id, 0)))
            truncate(item_id, content_index, audio_end_ms)

        self.session.truncate = recorded  # type: ignore[method-assign]

    def new_tone(self) -> int:
        self.tones += 1
        return self.tones

    def new(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    # What the listener hears ---------------------------------------------------------
    def _item_started(self) -> None:
        player = self.agent._runtime.player
        if player is not None and player.current is not None:
            self.started_at[player.current.item_id] = self.speaker.heard_samples
            if player.current.response_id in self.cancelled:
                self.replayed.append(player.current.item_id)

    def _heard(self) -> None:
        if self.trigger is None or self.agent.state != "speaking":
            return
        player = self.agent._runtime.player
        current = player.current if player is not None else None
        if current is None:
            return
        heard = self.speaker.heard_samples - self.started_at.get(current.item_id, 0)
        if self.trigger == "end" and heard < self.received.get(current.item_id, 0):
            return
        self.trigger = None
        # Next in the loop's queue: after the listener's bookkeeping for this frame, before
        # the player wakes to it.
        asyncio.get_running_loop().call_soon(self.barge)

    def barge(self) -> None:
        self.session.emit(InputSpeechStarted(), InputSpeechStopped())

    def _state_changed(self, old: str, new: str, event: str | None) -> None:
        if old not in ("thinking", "speaking"):
            return
        if event in ("user_speech_started", "interrupt"):
            # Barged in on: nothing more of the responses under way may play (r0 was never
            # announced, so the agent cannot know to cancel it).
            self.cancelled |= self.open - {"r0"}
        if event in ABANDONING:
            self.forgive()

    # Replies owed ----------------------------------------------------------------------
    def sync(self) -> None:
        """Replies owed: each generate_reply is one; tool outputs sent since the last ask
        are one (one response.create answers them all). An ask answers what is owed."""
        for sent in self.session.sent[self.seen :]:
            if sent.name in ("create_response", "recover_from_text_response"):
                self.requests += 1  # the server answers each with a response, in order
            if sent.name == "cancel_response":  # the server's active responses end
                self.server_cancelled |= self.open
            if sent.name == "send_tool_outputs":
                self.tool_owed = True
            elif sent.name == "create_response":
                if self.user_owed or self.tool_owed:
                    self.user_owed = max(0, self.user_owed - 1)
                    self.tool_owed = False
                elif self.may_ask_anew:
                    self.may_ask_anew -= 1
                else:
                    self.extra_asks.append(self.seen)
            self.seen += 1

    def forgive(self) -> None:
        """What is owed may now be left unasked (see ABANDONING)."""
        self.sync()
        self.may_ask_anew += self.user_owed + self.tool_owed
        self.user_owed, self.tool_owed = 0, False

    @property
    def owed(self) -> bool:
        return bool(self.user_owed or self.tool_owed)

    # The script ------------------------------------------------------------------------
    def audio(self, ms: int) -> None:
        if self.rid not in self.open:
            return  # a server sends nothing for a response after its response.done
        # Every delta a different tone: the listener tells frames apart by their samples.
        pcm = pcm_tone(ms, freq=300 + 7 * self.new_tone())
        if self.iid not in self.ended:
            self.received[self.iid] = self.received.get(self.iid, 0) + len(pcm) // 2
        self.item_rid[self.iid] = self.rid
        self.audio_ms += ms
        self.session.emit(AudioDelta(response_id=self.rid, item_id=self.iid, data=pcm))

    def response_done(self, rid: str) -> None:
        self.open.discard(rid)
        self.ended.update(i for i, r in self.item_rid.items() if r == rid)
        self.session.emit(ResponseDone(response_id=rid))

    def tool(self, name: str, arguments: str) -> None:
        call = FunctionCall(call_id=self.new("c"), name=name, arguments=arguments)
        if name == "slow":
            self.slow_calls.append(call.call_id)
        self.session.emit(ToolCallsRequested(calls=(call,), response_id=self.rid))

    async def do(self, op: str) -> None:
        s = self.session
        if op == "ready":
            self.connected = True
            s.emit(SessionReady())
        elif op == "lost":
            self.sync()
            self.connected, self.open = False, set()  # that connection's responses died
            self.requests = 0  # and so did the requests it had not answered
            self.may_ask_anew = 1  # a reply lost with them may be asked for again, once
            s.emit(SessionLost(reason="x"))
        elif op == "speech_started":
            s.emit(InputSpeechStarted(audio_start_ms=0))
        elif op in ("speech_stopped", "speech_stopped_long"):  # a cough, or an hour
            s.emit(InputSpeechStopped(audio_end_ms=3_600_000 if op == "speech_stopped_long" else 0))
        elif op == "committed":
            s.emit(InputAudioCommitted(item_id=self.new("u")))
        elif op == "reply":
            self.sync()
            if self.agent.state != "closed":
                self.user_owed += 1
            self.agent.generate_reply()
        elif op == "interrupt":
            self.agent.interrupt()
        elif op == "created":
            # A server streams one response at a time: one it did not cancel ends first
            # (and its end may let the agent ask for a reply it owes).
            self.sync()
            for rid in sorted(self.open - self.server_cancelled - {"r0"}):
                self.response_done(rid)
            self.sync()
            # A response that begins answers what is owed.
            self.user_owed = self.may_ask_anew = 0
            self.tool_owed = False
            self.requests = max(0, self.requests - 1)
            self.rid = self.new("r")
            self.open.add(self.rid)
            s.emit(ResponseCreated(response_id=self.rid))
        elif op in ("audio", "audio_odd", "audio_new_item"):
            if op == "audio_new_item":
                self.iid = self.new("i")
            self.audio(25 if op == "audio_odd" else 60)  # 25 ms: 2.5 frames, a padded tail
        elif op == "transcript":
            s.emit(TranscriptDelta(response_id=self.rid, item_id=self.iid, delta="word "))
        elif op == "audio_done":
            if self.iid in self.received:  # else the agent has no item yet to end
                self.ended.add(self.iid)
            s.emit(ResponseContentDone(response_id=self.rid, item_id=self.iid))
        elif op == "text":
            s.emit(ResponseContentDone(response_id=self.rid, item_id=self.new("t"), modality="text"))
        elif op == "response_done":
            self.response_done(self.rid)
        elif op == "tool":
            self.tool("add", '{"a": 1, "b": 2}')
        elif op == "tool_bad":
            self.tool("explode", "{}")
        elif op == "tool_slow":
            self.tool("slow", "{}")
        elif op == "withdraw":  # the model withdraws the slow calls still running
            s.emit(ToolCallsCancelled(call_ids=tuple(self.slow_calls)))
            self.slow_calls.clear()
        elif op == "server_interrupted":
            s.emit(ServerInterrupted())
        elif op == "error":
            s.emit(ProviderError(code="x", message="injected"))
        elif op == "barge_at_end":
            self.trigger = "end"
        elif op == "barge_next_frame":
            self.trigger = "next"
        elif op == "advance":
            await asyncio.sleep(0.03)  # a stimulus: let 30 ms of real-time playout happen

    async def finish(self) -> None:
        """The script is over: the connection comes back, the user is quiet, the server
        answers every request and finishes every response it began (response.done only:
        content done is not always sent), tools return. Nothing else comes."""
        self.release_tools.set()
        if not self.connected:
            await self.do("ready")
        self.session.emit(InputSpeechStopped())  # the user is not talking over the agent
        self.sync()
        while self.requests:
            await self.do("created")
        for rid in sorted(self.open):
            self.response_done(rid)

async def settled(agent: RealtimeAgent, timeout: float) -> None:
    """Wait until the agent is listening (or closed) with nothing playing and no tool
    running (a tool that returns owes a reply: the agent is not done yet)."""
    changed = asyncio.Event()
    agent.on("state_changed", lambda *a: changed.set())
    agent.on("function_calls_finished", lambda *a: changed.set())
    player, rt = agent._runtime.player, agent._runtime
    try:
        async with asyncio.timeout(timeout):
            while (agent.state not in ("listening", "closed") or (player is not None and player.playing)
                   or (agent.state != "closed" and rt._tool_batches)):
                changed.clear()
                await changed.wait()
    except TimeoutError:
        raise AssertionError(
            f"stuck in {agent.state} for {timeout:.2f} s after the last input; the last "
            f"transitions: {agent.trace.transitions[-6:]}") from None
