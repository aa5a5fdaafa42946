"""LiveKit adapter: a RealtimeAgent in a real LiveKit room, on the ``livekit.rtc`` SDK.

    from livekit import rtc
    from turnstile.adapters.livekit import LiveKitRoom

    room = rtc.Room()
    await room.connect(url, token)
    await agent.start(LiveKitRoom(room))      # links the first participant to join

``turnstile run`` joins a room from the command line; ``turnstile worker`` runs the agent
under livekit-agents' worker (``pip install 'turnstile-agents[worker]'``). The ``Fake*``
classes stand in for a server in tests, following the SDK's own signatures.
"""

from ._link import LiveKitLink, LiveKitSpeaker
from ._room import (
    LiveKitRoom,
    join_and_run,
    make_provider,
    run_agent,
    worker_entrypoint,
    worker_server,
)
from ._standin import (
    FakeLocalParticipant,
    FakeLocalTrackPublication,
    FakeRemoteParticipant,
    FakeRoom,
    FakeTextStream,
    FakeTrackPublication,
)
from ._token import LiveKitSettings, SettingsError, agent_token, default_identity
from ._transcription import (
    ATTRIBUTE_TRANSCRIPTION_FINAL,
    ATTRIBUTE_TRANSCRIPTION_SEGMENT_ID,
    ATTRIBUTE_TRANSCRIPTION_TRACK_ID,
    TOPIC_TRANSCRIPTION,
    AgentTranscriptionForwarder,
    AgentTranscriptionOptions,
    SegmentPublisher,
    TranscriptionOptions,
    hyphenate_word,
    split_sentences,
    split_words,
)

__all__ = [
    "ATTRIBUTE_TRANSCRIPTION_FINAL",
    "ATTRIBUTE_TRANSCRIPTION_SEGMENT_ID",
    "ATTRIBUTE_TRANSCRIPTION_TRACK_ID",
    "TOPIC_TRANSCRIPTION",
    "AgentTranscriptionForwarder",
    "AgentTranscriptionOptions",
    "FakeLocalParticipant",
    "FakeLocalTrackPublication",
    "FakeRemoteParticipant",
    "FakeRoom",
    "FakeTextStream",
    "FakeTrackPublication",
    "LiveKitLink",
    "LiveKitRoom",
    "LiveKitSettings",
    "LiveKitSpeaker",
    "SegmentPublisher",
    "SettingsError",
    "TranscriptionOptions",
    "agent_token",
    "default_identity",
    "hyphenate_word",
    "join_and_run",
    "make_provider",
    "run_agent",
    "split_sentences",
    "split_words",
    "worker_entrypoint",
    "worker_server",
]
