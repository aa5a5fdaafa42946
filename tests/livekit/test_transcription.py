"""Transcriptions: the agent's words in step with the playout, sentences, cuts; and how
segments reach the room (text streams on lk.transcription, and the older API)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest_asyncio

from turnstile.adapters.livekit import (
    ATTRIBUTE_TRANSCRIPTION_FINAL as FINAL,
)
from turnstile.adapters.livekit import (
    ATTRIBUTE_TRANSCRIPTION_SEGMENT_ID as SEGMENT,
)
from turnstile.adapters.livekit import (
    ATTRIBUTE_TRANSCRIPTION_TRACK_ID as TRACK,
)
from turnstile.adapters.livekit import (
    TOPIC_TRANSCRIPTION,
    AgentTranscriptionForwarder,
    AgentTranscriptionOptions,
    FakeRoom,
    LiveKitLink,
    TranscriptionOptions,
    hyphenate_word,
    split_sentences,
)
from turnstile.machine import TranscriptSegment

from . import livekit_room

RATE = 24000
# One syllable per word at 4 a second: word k starts at k * 0.25 s of heard audio.
EVEN = AgentTranscriptionOptions(syllables_per_second=4.0, hyphenate_word=lambda w: [w])


def at(seconds: float) -> int:
    return int(seconds * RATE)


class Sink:
    def __init__(self) -> None:
        self.segments: list[TranscriptSegment] = []

    async def __call__(self, segment: TranscriptSegment) -> None:
        self.segments.append(segment)

    def texts(self) -> list[tuple[str, bool]]:
        return [(s.text, s.final) for s in self.segments]


def forwarder(options: AgentTranscriptionOptions = EVEN) -> tuple[AgentTranscriptionForwarder, Sink]:
    sink = Sink()
    return AgentTranscriptionForwarder(sink, participant="agent", options=options), sink


async def test_words_appear_as_the_playout_reaches_them() -> None:
    fwd, sink = forwarder()
    fwd.start("item_1")
    fwd.push_text("Hello there, how are you? ")
    fwd.heard(0, RATE)
    await fwd.flushed()
    assert sink.segments == []  # nothing heard yet, nothing shown
    for seconds, expected in [(0.01, "Hello"), (0.26, "Hello there,"), (0.30, None), (0.76, "Hello there, how are")]:
        fwd.heard(at(seconds), RATE)
        await fwd.flushed()
        if expected is not None:
            assert sink.segments[-1] == TranscriptSegment(
                participant="agent", segment_id="SG_item_1_0", text=expected, final=False
            )
    assert len(sink.segments) == 3  # no duplicate for a position that revealed nothing new


async def test_a_sentence_is_final_once_heard_and_the_next_is_a_new_segment() -> None:
    fwd, sink = forwarder()
    fwd.start("item_1")
    fwd.push_text("One two. Three four")
    fwd.heard(at(0.51), RATE)  # "Three" starts at 0.5 s
    await fwd.flushed()
    assert [(s.segment_id, s.text, s.final) for s in sink.segments[-2:]] == [
        ("SG_item_1_0", "One two.", True),
        ("SG_item_1_1", "Three", False),
    ]
    fwd.heard(at(5), RATE)  # "four" may still be growing: held back
    fwd.push_text(" five.")
    await fwd.flushed()
    assert sink.texts()[-1] == ("Three four", False)
    fwd.finish()  # the item played to its end
    await fwd.flushed()
    assert sink.segments[-1] == TranscriptSegment(
        participant="agent", segment_id="SG_item_1_1", text="Three four five.", final=True
    )


async def test_an_interruption_cuts_the_segment_at_the_heard_words() -> None:
    fwd, sink = forwarder()
    fwd.start("item_1")
    fwd.push_text("First sentence here. And then a long second one that goes on.")
    fwd.heard(at(1.2), RATE)  # "First sentence here." final; "And then" shown
    await fwd.flushed()
    assert sink.texts()[-1] == ("And then", False)
    # The runtime's heard text is the whole item's, cut at a word, with an ellipsis.
    fwd.interrupt("First sentence here. And...")
    await fwd.flushed()
    assert sink.segments[-1] == TranscriptSegment(
        participant="agent", segment_id="SG_item_1_1", text="And...", final=True
    )
    fwd.heard(at(9), RATE)
    fwd.push_text("more")
    await fwd.flushed()
    assert sink.texts()[-1] == ("And...", True)  # the item is over: nothing more


async def test_an_interruption_with_nothing_heard_of_the_segment_publishes_nothing() -> None:
    fwd, sink = forwarder()
    fwd.start("item_1")
    fwd.push_text("Nothing heard yet.")
    fwd.interrupt("...")
    await fwd.flushed()
    assert sink.segments == []


async def test_text_that_arrives_after_its_audio_appears_at_once() -> None:
    fwd, sink = forwarder()
    fwd.start("item_1")
    fwd.heard(at(0.6), RATE)  # Gemini-like: the transcript trails the audio
    fwd.push_text("a b c d e ")
    await fwd.flushed()
    assert sink.texts() == [("a b c", False)]


async def test_speed_releases_words_sooner() -> None:
    fwd, sink = forwarder(EVEN.model_copy(update={"speed": 2.0}))
    fwd.start("item_1")
    fwd.push_text("a b c d e ")
    fwd.heard(at(0.3), RATE)  # 0.125 s a word at double speed
    await fwd.flushed()
    assert sink.texts() == [("a b c", False)]


async def test_a_new_item_ends_the_unfinished_one() -> None:
    fwd, sink = forwarder()
    fwd.start("item_1")
    fwd.push_text("one two three ")
    fwd.heard(at(0.3), RATE)
    fwd.start("item_2")
    fwd.push_text("four ")
    fwd.heard(at(0.1), RATE)
    await fwd.flushed()
    # The interim not yet sent is superseded by the final that ends the item.
    assert [(s.segment_id, s.text, s.final) for s in sink.segments] == [
        ("SG_item_1_0", "one two", True),
        ("SG_item_2_0", "four", False),
    ]


async def test_a_disabled_forwarder_does_nothing() -> None:
    sink = Sink()
    fwd = AgentTranscriptionForwarder(sink, participant="agent", enabled=False)
    fwd.start("item_1")
    fwd.push_text("Hello. ")
    fwd.heard(at(5), RATE)
    fwd.finish()
    await fwd.flushed()
    assert sink.segments == []


def test_default_tokenizers() -> None:
    assert split_sentences("Hi there. How are you? Fine!  Ok") == ["Hi there.", "How are you?", "Fine!", "Ok"]
    assert len(hyphenate_word("transcription")) == 3
    assert len(hyphenate_word("a")) == 1 and hyphenate_word("rhythm") == ["rhythm"]


# Through the room --------------------------------------------------------------------
@pytest_asyncio.fixture
async def room() -> AsyncIterator[FakeRoom]:
    r = FakeRoom(identity="agent-7")
    r.join("alice").publish_microphone()
    yield r
    await r.close_audio()


async def open_link(room: FakeRoom, options: TranscriptionOptions | None = None) -> LiveKitLink:
    lk = await livekit_room(room, transcription=options).link(None, output_sample_rate=RATE)
    lk.agent_transcription.options = EVEN
    return lk


async def test_the_users_final_transcript_is_published_for_them(room: FakeRoom) -> None:
    lk = await open_link(room)
    mic_sid = next(iter(room.remote_participants["alice"].track_publications))
    await lk.publish_transcription(
        TranscriptSegment(participant=lk.participant, segment_id="item_u1", text="What's the weather?", final=True)
    )
    (stream,) = room.local_participant.streams
    assert stream.info.topic == TOPIC_TRANSCRIPTION
    assert stream.sender_identity == "alice"
    assert stream.attributes == {SEGMENT: "item_u1", FINAL: "true", TRACK: mic_sid}
    assert stream.text == "What's the weather?" and stream.closed
    (legacy,) = room.local_participant.transcriptions
    assert (legacy.participant_identity, legacy.track_sid) == ("alice", mic_sid)
    assert [(s.id, s.text, s.final) for s in legacy.segments] == [("item_u1", "What's the weather?", True)]
    await lk.aclose()


async def test_the_agents_words_stream_as_deltas_in_step_with_the_playout(room: FakeRoom) -> None:
    lk = await open_link(room)
    fwd = lk.agent_transcription
    assert fwd.participant == "agent-7"
    fwd.start("item_a")
    fwd.push_text("Sunny and warm. ")
    for seconds in (0.01, 0.26, 0.51):
        fwd.heard(at(seconds), RATE)
        await fwd.flushed()
    (stream,) = room.local_participant.streams
    assert stream.sender_identity == "agent-7"
    assert stream.info.attributes == {SEGMENT: "SG_item_a_0", FINAL: "false", TRACK: lk.publication.sid}
    assert stream.chunks == ["Sunny", " and", " warm."]
    fwd.finish()
    await fwd.flushed()
    assert stream.closed and stream.close_attributes == {FINAL: "true", TRACK: lk.publication.sid}
    legacy = room.local_participant.transcriptions
    assert [(t.participant_identity, t.segments[0].text, t.segments[0].final) for t in legacy] == [
        ("agent-7", "Sunny", False), ("agent-7", "Sunny and", False),
        ("agent-7", "Sunny and warm.", False), ("agent-7", "Sunny and warm.", True),
    ]
    await lk.aclose()


async def test_a_cut_replaces_the_segment_with_a_new_stream(room: FakeRoom) -> None:
    lk = await open_link(room)
    fwd = lk.agent_transcription
    fwd.start("item_b")
    fwd.push_text("It will rain all day tomorrow. ")
    fwd.heard(at(1.1), RATE)  # "It will rain all day" shown
    await fwd.flushed()
    fwd.interrupt("It will rain...")  # the runtime heard less than the estimate showed
    await fwd.flushed()
    first, second = room.local_participant.streams
    assert first.text == "It will rain all day" and first.closed and first.close_attributes == {}
    assert second.info.attributes == {SEGMENT: "SG_item_b_0", FINAL: "true", TRACK: lk.publication.sid}
    assert second.text == "It will rain..." and second.closed
    await lk.aclose()


async def test_transcriptions_can_be_turned_off(room: FakeRoom) -> None:
    lk = await open_link(room, TranscriptionOptions(user_transcription=False, agent_transcription=False))
    await lk.publish_transcription(TranscriptSegment(participant="alice", segment_id="u", text="hi", final=True))
    lk.agent_transcription.start("item_c")
    lk.agent_transcription.push_text("Hello. ")
    lk.agent_transcription.finish()
    await lk.agent_transcription.flushed()
    assert room.local_participant.streams == [] and room.local_participant.transcriptions == []
    await lk.aclose()


async def test_the_older_api_can_be_turned_off(room: FakeRoom) -> None:
    lk = await open_link(room, TranscriptionOptions(legacy_transcriptions=False))
    await lk.publish_transcription(TranscriptSegment(participant="alice", segment_id="u", text="hi", final=True))
    assert len(room.local_participant.streams) == 1 and room.local_participant.transcriptions == []
    await lk.aclose()


async def test_no_transcription_after_a_disconnect_and_failures_do_not_raise(room: FakeRoom) -> None:
    lk = await open_link(room)
    room.local_participant.fail["stream_text"] = RuntimeError("no permission to publish data")
    await lk.publish_transcription(TranscriptSegment(participant="alice", segment_id="u", text="hi", final=True))
    del room.local_participant.fail["stream_text"]
    await room.disconnect()
    fwd = lk.agent_transcription
    fwd.start("item_d")
    fwd.push_text("Hello there. ")
    fwd.finish()
    await asyncio.wait_for(fwd.flushed(), 2)
    assert room.local_participant.streams == []
    await lk.aclose()
