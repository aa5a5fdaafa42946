"""A stand-in for the server side of a LiveKit room, for tests without a server.

What needs a server (the room, its participants, publications, attributes, text streams)
is faked here; what runs without one is real: participants speak through real
``AudioSource`` -> ``LocalAudioTrack`` pipelines, so the link reads real ``AudioStream``
frames, and events go through the SDK's own ``EventEmitter``. Each fake names the SDK
class it mirrors and which members (``MIRRORS``); a test compares their signatures, and
the events the fake emits (``EMITS``), with the installed SDK, so an SDK change breaks
a test instead of passing silently against a stale fake.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from livekit import rtc

__all__ = [
    "EMITS",
    "MIRRORS",
    "FakeLocalParticipant",
    "FakeLocalTrackPublication",
    "FakeRemoteParticipant",
    "FakeRoom",
    "FakeTextStream",
    "FakeTrackPublication",
]

EMITS: dict[str, int] = {
    "participant_connected": 1,
    "participant_disconnected": 1,
    "local_track_published": 2,
    "local_track_unpublished": 1,
    "track_published": 2,
    "track_unpublished": 2,
    "track_subscribed": 3,
    "track_unsubscribed": 3,
    "connection_state_changed": 1,
    "disconnected": 1,
}
"""Event name -> number of arguments, as ``rtc.Room`` emits them."""

_sids = itertools.count(1)


def _sid(prefix: str) -> str:
    return f"{prefix}_{next(_sids):04d}"


class _Publication:
    def __init__(self, source: int, track: rtc.Track | None) -> None:
        self._sid, self._source, self._track = _sid("TR"), source, track

    @property
    def sid(self) -> str:
        return self._sid

    @property
    def name(self) -> str:
        return self._track.name if self._track is not None else "microphone"

    @property
    def kind(self) -> int:
        return rtc.TrackKind.KIND_AUDIO

    @property
    def source(self) -> int:
        return self._source

    @property
    def track(self) -> rtc.Track | None:
        return self._track


class FakeTrackPublication(_Publication):
    """A remote participant's publication (``rtc.RemoteTrackPublication``)."""

    MIRRORS: ClassVar[tuple[str, ...]] = (
        "sid", "name", "kind", "source", "track", "subscribed", "muted", "set_subscribed",
    )  # fmt: skip

    def __init__(self, room: FakeRoom, participant: FakeRemoteParticipant, source: int, sample_rate: int) -> None:
        super().__init__(source, None)
        self._room, self._participant = room, participant
        self.sample_rate = sample_rate
        self.audio = rtc.AudioSource(sample_rate, 1, queue_size_ms=100)
        """What the participant says into this publication (see ``say``); replace it before
        ``resubscribe`` to give the new subscription different audio."""
        room._audio_sources.append(self.audio)
        self._subscribed = False
        self.subscribe_requests: list[bool] = []

    @property
    def subscribed(self) -> bool:
        return self._subscribed

    @property
    def muted(self) -> bool:
        return False

    def set_subscribed(self, subscribed: bool) -> None:
        self.subscribe_requests.append(subscribed)
        if subscribed and self._track is None and self._sid in self._participant._publications:
            self._room._subscribe(self._participant, self)

    def replace_audio(self) -> rtc.AudioSource:
        """New audio for the next subscription (so a test can tell the tracks apart)."""
        self.audio = rtc.AudioSource(self.sample_rate, 1, queue_size_ms=100)
        self._room._audio_sources.append(self.audio)
        return self.audio

    async def say(self, pcm: bytes, *, frame_ms: int = 10) -> None:
        """Speak PCM16 mono at ``sample_rate`` into this track, in real time."""
        step = self.sample_rate * frame_ms // 1000 * 2
        for i in range(0, len(pcm) - len(pcm) % step, step):
            await self.audio.capture_frame(rtc.AudioFrame(pcm[i : i + step], self.sample_rate, 1, step // 2))


class _Participant:
    def __init__(self, identity: str, kind: int, name: str) -> None:
        self._identity, self._kind, self._name = identity, kind, name
        self._participant_sid = _sid("PA")
        self._attributes: dict[str, str] = {}

    @property
    def sid(self) -> str:
        return self._participant_sid

    @property
    def identity(self) -> str:
        return self._identity

    @property
    def name(self) -> str:
        return self._name

    @property
    def kind(self) -> int:
        return self._kind

    @property
    def attributes(self) -> dict[str, str]:
        return dict(self._attributes)


class FakeRemoteParticipant(_Participant):
    """``rtc.RemoteParticipant``; ``publish_microphone`` and friends drive it."""

    MIRRORS: ClassVar[tuple[str, ...]] = ("sid", "identity", "name", "kind", "attributes", "track_publications")

    def __init__(self, room: FakeRoom, identity: str, kind: int, name: str) -> None:
        super().__init__(identity, kind, name)
        self._room = room
        self._publications: dict[str, FakeTrackPublication] = {}

    @property
    def track_publications(self) -> Mapping[str, FakeTrackPublication]:
        return self._publications

    def publish_microphone(
        self, *, sample_rate: int = 48000, source: int = rtc.TrackSource.SOURCE_MICROPHONE
    ) -> FakeTrackPublication:
        """Publish an audio track; the room subscribes to it if it auto-subscribes."""
        publication = FakeTrackPublication(self._room, self, source, sample_rate)
        self._publications[publication.sid] = publication
        self._room._emit("track_published", publication, self)
        if self._room.auto_subscribe:
            self._room._subscribe(self, publication)
        return publication

    def unpublish(self, publication: FakeTrackPublication) -> None:
        """As the server does it: unsubscribed (if subscribed), then unpublished."""
        if publication.track is not None:
            self._room._unsubscribe(self, publication)
        self._publications.pop(publication.sid, None)
        self._room._emit("track_unpublished", publication, self)

    def resubscribe(self, publication: FakeTrackPublication) -> None:
        """The subscription is renewed (a reconnect, a network change): a new track."""
        self._room._unsubscribe(self, publication)
        self._room._subscribe(self, publication)


class FakeLocalTrackPublication(_Publication):
    """``rtc.LocalTrackPublication``: the agent's own published track."""

    MIRRORS: ClassVar[tuple[str, ...]] = ("sid", "name", "kind", "source", "track", "wait_for_subscription")

    def __init__(self, track: rtc.LocalAudioTrack, options: rtc.TrackPublishOptions) -> None:
        super().__init__(int(options.source), track)
        self.options = options

    async def wait_for_subscription(self) -> None:
        return None


class FakeTextStream:
    """``rtc.TextStreamWriter``: records what is written, and how it closes."""

    MIRRORS: ClassVar[tuple[str, ...]] = ("write", "aclose", "info")

    def __init__(self, topic: str, attributes: dict[str, str], sender_identity: str) -> None:
        self._info = rtc.TextStreamInfo(
            stream_id=_sid("ST"),
            mime_type="text/plain",
            topic=topic,
            timestamp=int(time.time() * 1000),
            size=None,
            attributes=dict(attributes),
            attachments=[],
        )
        self.sender_identity = sender_identity
        self.chunks: list[str] = []
        self.closed = False
        self.close_attributes: dict[str, str] | None = None

    @property
    def info(self) -> rtc.TextStreamInfo:
        return self._info

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    @property
    def attributes(self) -> dict[str, str]:
        """Header attributes, updated by the closing trailer's."""
        return {**(self._info.attributes or {}), **(self.close_attributes or {})}

    async def write(self, text: str) -> None:
        if self.closed:
            raise RuntimeError("Cannot write after stream is closed")
        self.chunks.append(text)

    async def aclose(self, *, reason: str = "", attributes: dict[str, str] | None = None) -> None:
        if self.closed:
            raise RuntimeError("Stream already closed")
        self.closed = True
        self.close_attributes = dict(attributes or {})


class FakeLocalParticipant(_Participant):
    """``rtc.LocalParticipant``: records attributes, tracks, text streams, transcriptions.

    Put an exception in ``fail[method_name]`` to make that method raise it.
    """

    MIRRORS: ClassVar[tuple[str, ...]] = (
        "sid", "identity", "name", "kind", "attributes", "track_publications",
        "set_attributes", "publish_track", "unpublish_track", "stream_text", "publish_transcription",
    )

    def __init__(self, room: FakeRoom, identity: str) -> None:
        super().__init__(identity, rtc.ParticipantKind.PARTICIPANT_KIND_AGENT, identity)
        self._room = room
        self._publications: dict[str, FakeLocalTrackPublication] = {}
        self.attribute_calls: list[dict[str, str]] = []
        self.streams: list[FakeTextStream] = []
        self.transcriptions: list[rtc.Transcription] = []
        self.unpublished: list[str] = []
        self.fail: dict[str, Exception] = {}
        self._attributes_changed = asyncio.Event()

    @property
    def track_publications(self) -> Mapping[str, FakeLocalTrackPublication]:
        return self._publications

    async def set_attributes(self, attributes: dict[str, str]) -> None:
        self._check("set_attributes")
        self.attribute_calls.append(dict(attributes))
        self._attributes.update(attributes)
        changed, self._attributes_changed = self._attributes_changed, asyncio.Event()
        changed.set()

    async def wait_attribute(self, key: str, value: str, *, timeout: float = 5.0) -> None:
        """Wait until the attribute ``key`` is ``value`` (test side)."""
        async with asyncio.timeout(timeout):
            while self._attributes.get(key) != value:
                await self._attributes_changed.wait()

    async def publish_track(
        self, track: rtc.LocalAudioTrack, options: rtc.TrackPublishOptions = rtc.TrackPublishOptions()  # noqa: B008 (the SDK's default)
    ) -> FakeLocalTrackPublication:
        self._check("publish_track")
        publication = FakeLocalTrackPublication(track, options)
        self._publications[publication.sid] = publication
        self._room._emit("local_track_published", publication, track)
        return publication

    async def unpublish_track(self, track_sid: str) -> None:
        self._check("unpublish_track")
        publication = self._publications.pop(track_sid)
        self.unpublished.append(track_sid)
        self._room._emit("local_track_unpublished", publication)

    async def stream_text(
        self,
        *,
        destination_identities: list[str] | None = None,
        topic: str = "",
        attributes: dict[str, str] | None = None,
        stream_id: str | None = None,
        reply_to_id: str | None = None,
        total_size: int | None = None,
        sender_identity: str | None = None,
    ) -> FakeTextStream:
        self._check("stream_text")
        stream = FakeTextStream(topic, attributes or {}, sender_identity or self.identity)
        self.streams.append(stream)
        return stream

    async def publish_transcription(self, transcription: rtc.Transcription) -> None:
        self._check("publish_transcription")
        self.transcriptions.append(transcription)

    def _check(self, method: str) -> None:
        if not self._room.isconnected():
            raise RuntimeError(f"{method} after the room disconnected")
        error = self.fail.get(method)
        if error is not None:
            raise error


class FakeRoom(rtc.EventEmitter[Any]):
    """``rtc.Room``, connected, with the SDK's event emitter; ``join`` adds participants."""

    MIRRORS: ClassVar[tuple[str, ...]] = (
        "name", "local_participant", "remote_participants", "connection_state", "isconnected",
        "disconnect", "on", "off", "emit",
    )

    def __init__(self, name: str = "test-room", *, identity: str = "agent", auto_subscribe: bool = True) -> None:
        super().__init__()
        self._name = name
        self.auto_subscribe = auto_subscribe
        self._local = FakeLocalParticipant(self, identity)
        self._remote: dict[str, FakeRemoteParticipant] = {}
        self._state: int = rtc.ConnectionState.CONN_CONNECTED
        self.emitted: list[str] = []
        self._audio_sources: list[rtc.AudioSource] = []

    @property
    def name(self) -> str:
        return self._name

    @property
    def local_participant(self) -> FakeLocalParticipant:
        return self._local

    @property
    def remote_participants(self) -> Mapping[str, FakeRemoteParticipant]:
        return self._remote

    @property
    def connection_state(self) -> int:
        return self._state

    def isconnected(self) -> bool:
        return self._state != rtc.ConnectionState.CONN_DISCONNECTED

    async def disconnect(self, *, reason: int = rtc.DisconnectReason.CLIENT_INITIATED) -> None:
        if not self.isconnected():
            return
        self._state = rtc.ConnectionState.CONN_DISCONNECTED
        self._emit("connection_state_changed", self._state)
        self._emit("disconnected", reason)

    # Driving the room (test side) --------------------------------------------------------
    def join(
        self, identity: str, *, kind: int = rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD, name: str = ""
    ) -> FakeRemoteParticipant:
        participant = FakeRemoteParticipant(self, identity, kind, name or identity)
        self._remote[identity] = participant  # in the dict before the event, as the SDK does
        self._emit("participant_connected", participant)
        return participant

    def leave(self, identity: str) -> None:
        participant = self._remote.pop(identity)
        for publication in list(participant.track_publications.values()):
            if publication.track is not None:
                self._unsubscribe(participant, publication)
            participant._publications.pop(publication.sid, None)
            self._emit("track_unpublished", publication, participant)
        self._emit("participant_disconnected", participant)

    async def close_audio(self) -> None:
        """Close the participants' audio sources (a test's teardown)."""
        for source in self._audio_sources:
            await source.aclose()
        self._audio_sources.clear()

    def _subscribe(self, participant: FakeRemoteParticipant, publication: FakeTrackPublication) -> None:
        # Each subscription is a new Track object, as a new RemoteAudioTrack would be.
        track = rtc.LocalAudioTrack.create_audio_track("microphone", publication.audio)
        publication._track, publication._subscribed = track, True
        self._emit("track_subscribed", track, publication, participant)

    def _unsubscribe(self, participant: FakeRemoteParticipant, publication: FakeTrackPublication) -> None:
        track = publication._track
        publication._track, publication._subscribed = None, False
        self._emit("track_unsubscribed", track, publication, participant)

    def _emit(self, event: str, *args: Any) -> None:
        if EMITS.get(event) != len(args):
            raise AssertionError(f"the stand-in emits {event} with {len(args)} args, not as EMITS says")
        self.emitted.append(event)
        self.emit(event, *args)


MIRRORS: dict[type, str] = {
    FakeRoom: "Room",
    FakeRemoteParticipant: "RemoteParticipant",
    FakeLocalParticipant: "LocalParticipant",
    FakeTrackPublication: "RemoteTrackPublication",
    FakeLocalTrackPublication: "LocalTrackPublication",
    FakeTextStream: "TextStreamWriter",
}
"""Each fake -> the ``livekit.rtc`` class it stands in for."""
