"""The forwarder times words as deltas arrive without going over the whole text each time
(whitespace words before the last cannot change) and asks the sentence tokenizer once per
text: what it releases is what timing the whole text at every delta releases."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from turnstile.adapters.livekit import AgentTranscriptionForwarder, AgentTranscriptionOptions, split_words
from turnstile.machine import TranscriptSegment

PIECES = st.lists(
    st.sampled_from(["Hel", "lo", " ", "there", ". ", "How", " are", " you", "?", " Fine", "-ish", "  ", "ok."]),
    min_size=1,
    max_size=30,
)


def _forwarder(options: AgentTranscriptionOptions) -> AgentTranscriptionForwarder:
    async def publish(segment: TranscriptSegment) -> None:
        pass

    forwarder = AgentTranscriptionForwarder(publish, participant="agent", options=options)
    forwarder.start("item")
    return forwarder


@settings(max_examples=200, deadline=None)
@given(deltas=PIECES, heard=st.lists(st.integers(0, 24000), min_size=1, max_size=30))
def test_incremental_timing_matches_timing_the_whole_text(deltas: list[str], heard: list[int]) -> None:
    async def run() -> None:
        fast = _forwarder(AgentTranscriptionOptions())
        # Any tokenizer but the default one takes the whole text at every delta.
        whole = _forwarder(AgentTranscriptionOptions(word_tokenizer=lambda text: split_words(text)))
        for i, delta in enumerate(deltas):
            for f in (fast, whole):
                f.push_text(delta)
                f.heard(heard[i % len(heard)] * (i + 1), 24000)
            assert fast._item is not None and whole._item is not None
            assert fast._item.words == whole._item.words and fast._item.starts == whole._item.starts
        assert list(fast._queue) == list(whole._queue)

    asyncio.run(run())


def test_the_sentence_tokenizer_is_asked_once_per_text() -> None:
    calls: list[str] = []

    def sentences(text: str) -> list[str]:
        calls.append(text)
        return [text]

    async def run() -> None:
        f = _forwarder(AgentTranscriptionOptions(sentence_tokenizer=sentences))
        f.push_text("One two three")
        asked = len(calls)
        for n in range(1, 10):  # playout writes between two deltas: the same text
            f.heard(2400 * n, 24000)
        assert len(calls) == asked
        f.push_text(" four")
        assert len(calls) == asked + 1

    asyncio.run(run())
