"""LiveKitLink: the agent's link to one participant of a real LiveKit room.

The link follows its participant's microphone through publish, unpublish and
resubscription, and relinks when that participant leaves and the next one joins; the
agent reads one long-lived iterator of frames that switches streams underneath. The
agent's voice is a published microphone track fed by a small native queue, so a barge-in
clears at most ``output_queue_ms`` of audio. Nothing the agent sends (attributes,
transcriptions) raises into it: after a disconnect the link sends nothing, and failures
are logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from livekit import rtc

from turnstile.machine import TranscriptSegment

from .._capture import CaptureSource
from ._transcription import (
    AgentTranscriptionForwarder,
    SegmentPublisher,
    TranscriptionOptions,
)

__all__ = ["LiveKitLink", "LiveKitSpeaker"]

logger = logging.getLogger("turnstile.livekit")

ROOM_SAMPLE_RATE = 48000
"""What a room delivers when the agent gives no rate hint (WebRTC's Opus rate)."""

_PK = rtc.ParticipantKind
# Humans and the bridges that carry them; never another agent, a recorder or an ingress.
_LINKABLE_KINDS = frozenset(
    getattr(_PK, name)
    for name in ("PARTICIPANT_KIND_STANDARD", "PARTICIPANT_KIND_SIP", "PARTICIPANT_KIND_CONNECTOR")
    if hasattr(_PK, name)
)


def _is_microphone(publication: Any) -> bool:
    return bool(
        publication.source == rtc.TrackSource.SOURCE_MICROPHONE
        and publication.kind == rtc.TrackKind.KIND_AUDIO
    )


class LiveKitSpeaker:
    """The agent's voice: an AudioOutput on a native AudioSource, published as a track."""

    def __init__(self, sample_rate: int, *, queue_ms: int = 200, track_name: str = "agent_voice") -> None:
        self._rate = sample_rate
        self._capture = CaptureSource(sample_rate, queue_ms=queue_ms)
        self._source = self._capture.source
        self.track = rtc.LocalAudioTrack.create_audio_track(track_name, self._source)

    @property
    def sample_rate(self) -> int:
        return self._rate

    @property
    def queued_samples(self) -> int:
        # The source's own estimate of what it still holds; the player reads it before a
        # clear, so a truncation reports what the listener actually heard.
        return round(self._source.queued_duration * self._rate)

    async def write(self, pcm: bytes) -> None:
        await self._capture.capture(pcm)

    def clear(self) -> None:
        self._capture.clear()

    async def wait_for_playout(self) -> None:
        await self._source.wait_for_playout()

    async def aclose(self) -> None:
        await self._capture.aclose()  # after the captures still in flight (a barge-in's)


class _Follower:
    """Which participant the link hears, and that participant's microphone track."""

    def __init__(self, room: rtc.Room, wanted: str | None) -> None:
        self._room = room
        self.wanted = wanted
        self.identity: str | None = None
        self.last_identity = ""
        self.track: rtc.Track | None = None
        self.mic_sid: str | None = None
        """The microphone publication last seen: transcriptions name it as their track."""
        self.generation = 0
        """Bumped on every track change, so a reader knows its stream is stale."""
        self.closed = False
        self.on_track_changed: Callable[[], None] | None = None
        self._track_pub_sid: str | None = None
        self._changed = asyncio.Event()
        self._handlers: dict[str, Callable[..., None]] = {
            "participant_connected": self._on_participant_connected,
            "participant_disconnected": self._on_participant_disconnected,
            "track_published": self._on_track_published,
            "track_unpublished": self._on_track_unpublished,
            "track_subscribed": self._on_track_subscribed,
            "track_unsubscribed": self._on_track_unsubscribed,
            "disconnected": self._on_disconnected,
        }
        for event, handler in self._handlers.items():
            room.on(event, handler)  # type: ignore[arg-type]
        for participant in list(room.remote_participants.values()):
            if self._accepts(participant):
                self._link(participant)
                break

    async def wait_linked(self) -> str:
        while self.identity is None:
            if self.closed:
                raise ConnectionError("the room disconnected before a participant joined")
            await self._changed.wait()
        return self.identity

    async def wait_changed(self, generation: int) -> None:
        while self.generation == generation and not self.closed:
            await self._changed.wait()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for event, handler in self._handlers.items():
            with contextlib.suppress(Exception):
                self._room.off(event, handler)  # type: ignore[arg-type]
        self._set_track(None, None)  # ends the stream being read, if any
        self._notify()

    # Room events --------------------------------------------------------------------
    def _on_participant_connected(self, participant: rtc.RemoteParticipant) -> None:
        if self.identity is None and self._accepts(participant):
            self._link(participant)

    def _on_participant_disconnected(self, participant: rtc.RemoteParticipant) -> None:
        if participant.identity != self.identity:
            return
        logger.info("participant %s left; waiting for the next one to join", participant.identity)
        self.identity = None
        self.mic_sid = None
        self._set_track(None, None)
        self._notify()

    def _on_track_published(
        self, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        if participant.identity == self.identity and _is_microphone(publication):
            self.mic_sid = publication.sid
            self._subscribe(publication)

    def _on_track_unpublished(
        self, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        if participant.identity == self.identity and publication.sid == self._track_pub_sid:
            self._set_track(None, None)

    def _on_track_subscribed(
        self,
        track: rtc.Track,
        publication: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        if participant.identity == self.identity and _is_microphone(publication):
            self.mic_sid = publication.sid
            self._set_track(track, publication.sid)

    def _on_track_unsubscribed(
        self,
        track: rtc.Track,
        publication: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        if participant.identity == self.identity and publication.sid == self._track_pub_sid:
            self._set_track(None, None)

    def _on_disconnected(self, reason: Any = None) -> None:
        logger.info("the room disconnected (%s): the link stops", reason)
        self.close()

    # Internals ------------------------------------------------------------------------
    def _accepts(self, participant: rtc.RemoteParticipant) -> bool:
        if self.wanted is not None:
            return participant.identity == self.wanted
        return participant.kind in _LINKABLE_KINDS

    def _link(self, participant: rtc.RemoteParticipant) -> None:
        self.identity = self.last_identity = participant.identity
        logger.info("linked to participant %s", participant.identity)
        for publication in list(participant.track_publications.values()):
            if not _is_microphone(publication):
                continue
            self.mic_sid = publication.sid
            if publication.track is not None:
                self._set_track(publication.track, publication.sid)
            else:
                self._subscribe(publication)
        self._notify()

    def _subscribe(self, publication: rtc.RemoteTrackPublication) -> None:
        # A room joined without auto-subscribe still hears its participant's microphone.
        if publication.track is None and not publication.subscribed:
            try:
                publication.set_subscribed(True)
            except Exception as exc:
                logger.warning("could not subscribe to %s: %s", publication.sid, exc)

    def _set_track(self, track: rtc.Track | None, publication_sid: str | None) -> None:
        if track is self.track:
            return
        self.track, self._track_pub_sid = track, publication_sid
        self.generation += 1
        if self.on_track_changed is not None:
            self.on_track_changed()
        self._notify()

    def _notify(self) -> None:
        # Waiters hold the old event: set it, and give later waiters a fresh one.
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()


class LiveKitLink:
    """The agent's link to one participant: a RoomLink for the runtime."""

    def __init__(
        self,
        room: rtc.Room,
        follower: _Follower,
        speaker: LiveKitSpeaker,
        publication: rtc.LocalTrackPublication,
        options: TranscriptionOptions,
    ) -> None:
        self._room = room
        self._follower = follower
        self.speaker = speaker
        self.publication = publication
        """The agent's voice track as published (a microphone-source track)."""
        self.options = options
        self._streams: set[rtc.AudioStream] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._tx_lock = asyncio.Lock()
        self._segments = SegmentPublisher(room, options)
        self.closed = False
        follower.on_track_changed = self._close_streams
        self.agent_transcription = AgentTranscriptionForwarder(
            self.publish_transcription,
            participant=self.agent_identity,
            options=options.agent,
            enabled=options.agent_transcription,
        )
        """Drive it with start / push_text / heard / interrupt / finish (see its docs)."""

    @property
    def participant(self) -> str:
        """The linked participant (the last one, while waiting for the next to join)."""
        return self._follower.identity or self._follower.last_identity

    @property
    def linked(self) -> bool:
        return self._follower.identity is not None

    @property
    def agent_identity(self) -> str:
        return self._room.local_participant.identity

    @property
    def output(self) -> LiveKitSpeaker:
        return self.speaker

    async def audio_frames(
        self, sample_rate: int | None = None, frame_ms: int | None = None
    ) -> AsyncIterator[rtc.AudioFrame]:
        """The linked participant's microphone, mono, at ``sample_rate`` (a hint: the
        provider's input rate, resampled natively) or the room's 48 kHz, in frames of
        ``frame_ms`` (framed natively: each frame delivered to Python costs a round trip
        through the FFI, so the agent asks for one per chunk it sends) or 10 ms.

        One iterator for the whole link: it waits while there is no microphone and
        switches streams when the track changes; it ends when the link or room closes.
        """
        rate = sample_rate or ROOM_SAMPLE_RATE
        follower = self._follower
        while not (follower.closed or self.closed):
            track, generation = follower.track, follower.generation
            if track is None:
                await follower.wait_changed(generation)
                continue
            stream = rtc.AudioStream(track, sample_rate=rate, num_channels=1, frame_size_ms=frame_ms)
            self._streams.add(stream)
            try:
                async for event in stream:
                    yield event.frame
            finally:
                self._streams.discard(stream)
                await stream.aclose()
            if follower.generation == generation:
                # The stream ended by itself (its track ended): wait for another track
                # rather than reopen a dead one.
                await follower.wait_changed(generation)

    async def set_attributes(self, attributes: dict[str, str]) -> None:
        if not self._live():
            logger.debug("not setting %s: the room is disconnected", attributes)
            return
        try:
            await self._room.local_participant.set_attributes(attributes)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a room going away must not kill the agent
            logger.warning("could not set attributes %s: %s", attributes, exc)

    async def publish_transcription(self, segment: TranscriptSegment) -> None:
        """Publish a segment: the linked participant's (the user's, published on their
        behalf with their microphone as the track) or else the agent's (with its voice).
        Call it again with the same ``segment_id`` to grow or replace a segment."""
        user = segment.participant == self.participant
        opts = self.options
        if not (opts.user_transcription if user else opts.agent_transcription):
            return
        async with self._tx_lock:  # one segment update at a time keeps each stream ordered
            if not self._live():
                return
            if user:
                sender: str | None = segment.participant
                track_sid = self._follower.mic_sid
            else:
                sender, track_sid = None, self.publication.sid
            try:
                await self._segments.publish(segment, sender=sender, track_sid=track_sid)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("could not publish transcription %s: %s", segment.segment_id, exc)

    async def aclose(self) -> None:
        if self.closed:
            return
        with contextlib.suppress(Exception):
            await self.agent_transcription.aclose()
        async with self._tx_lock:
            await self._segments.aclose()
        self.closed = True
        self._follower.close()
        streams = list(self._streams)
        await asyncio.gather(*(s.aclose() for s in streams), *self._tasks, return_exceptions=True)
        if self._room.isconnected():
            try:
                await self._room.local_participant.unpublish_track(self.publication.sid)
            except Exception as exc:
                logger.warning("could not unpublish the agent's voice: %s", exc)
        await self.speaker.aclose()

    # Internals ------------------------------------------------------------------------
    def _live(self) -> bool:
        return not self.closed and self._room.isconnected()

    def _close_streams(self) -> None:
        # The track changed: end the current stream so audio_frames opens the new one.
        for stream in list(self._streams):
            task = asyncio.get_running_loop().create_task(stream.aclose(), name="close-stream")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
