"""Transcriptions: the options, and the agent's words timed to the audio actually heard.

Providers send the agent's transcript ahead of its audio and without word timings. The
forwarder holds the text back and releases it word by word as the heard position of the
playout reaches each word's estimated start (syllables at a speaking rate). Each sentence
is one segment: interim while its words arrive, final once it is complete and heard; a
barge-in ends the current segment at the heard words. The forwarder depends on nothing
but ``TranscriptSegment``, so any room link can use it; SegmentPublisher puts segments
on a LiveKit room the way current clients read them.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import logging
import re
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from livekit import rtc
from pydantic import BaseModel, ConfigDict, Field

from turnstile.machine import TranscriptSegment

__all__ = [
    "ATTRIBUTE_TRANSCRIPTION_FINAL",
    "ATTRIBUTE_TRANSCRIPTION_SEGMENT_ID",
    "ATTRIBUTE_TRANSCRIPTION_TRACK_ID",
    "TOPIC_TRANSCRIPTION",
    "AgentTranscriptionForwarder",
    "AgentTranscriptionOptions",
    "SegmentPublisher",
    "TranscriptionOptions",
    "hyphenate_word",
    "split_sentences",
    "split_words",
]

logger = logging.getLogger("turnstile.livekit.transcription")

TOPIC_TRANSCRIPTION = "lk.transcription"
ATTRIBUTE_TRANSCRIPTION_SEGMENT_ID = "lk.segment_id"
ATTRIBUTE_TRANSCRIPTION_FINAL = "lk.transcription_final"
ATTRIBUTE_TRANSCRIPTION_TRACK_ID = "lk.transcribed_track_id"

SYLLABLES_PER_SECOND = 3.83
"""A standard speaking rate; the reference implementation used the same figure."""

_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"')\]]*\s+")
_WORD = re.compile(r"\S+")
_VOWELS = re.compile(r"[aeiouyàâäéèêëîïôöùûüáíóú]+", re.IGNORECASE)


def split_sentences(text: str) -> list[str]:
    """Sentences end at . ! ? or … followed by whitespace (simple, language-agnostic)."""
    return [s for s in (p.strip() for p in _SENTENCE_END.split(text)) if s]


def split_words(text: str) -> list[str]:
    """Words are runs of non-space: punctuation stays on its word, as it is displayed."""
    return _WORD.findall(text)


def hyphenate_word(word: str) -> list[str]:
    """Rough syllables: one per vowel group (only their count is used, for timing)."""
    cuts = [m.end() for m in _VOWELS.finditer(word)][:-1]
    if not cuts:
        return [word]
    bounds = [0, *cuts, len(word)]
    return [word[a:b] for a, b in itertools.pairwise(bounds) if word[a:b]]


class AgentTranscriptionOptions(BaseModel):
    model_config = ConfigDict(frozen=True)

    speed: float = Field(default=1.0, gt=0)
    """Speaking-rate multiplier: above 1 the words are released sooner."""
    syllables_per_second: float = Field(default=SYLLABLES_PER_SECOND, gt=0)
    sentence_tokenizer: Callable[[str], list[str]] = split_sentences
    word_tokenizer: Callable[[str], list[str]] = split_words
    hyphenate_word: Callable[[str], list[str]] = hyphenate_word


class TranscriptionOptions(BaseModel):
    """What a LiveKitRoom publishes as transcriptions, and how."""

    model_config = ConfigDict(frozen=True)

    user_transcription: bool = True
    agent_transcription: bool = True
    text_streams: bool = True
    """Text streams on ``lk.transcription``: what current LiveKit clients read."""
    legacy_transcriptions: bool = True
    """Also ``publish_transcription`` (older clients), where the installed SDK has it."""
    agent: AgentTranscriptionOptions = AgentTranscriptionOptions()


def _spans(text: str, pieces: list[str], start: int = 0) -> list[tuple[int, int]]:
    """Where each tokenizer piece sits in ``text`` (tokenizers return strings, not offsets)."""
    out: list[tuple[int, int]] = []
    pos = start
    for piece in pieces:
        piece = piece.strip()
        at = text.find(piece, pos) if piece else -1
        if at < 0:
            continue  # a tokenizer that rewrites text: skip what cannot be located
        out.append((at, at + len(piece)))
        pos = at + len(piece)
    return out


class _Item:
    """One spoken item: its text, how much of it is heard, and its segments so far."""

    def __init__(self, item_id: str) -> None:
        self.id = item_id
        self.text = ""
        self.heard_s = 0.0
        self.final_end = 0
        """Characters of ``text`` already published in final segments."""
        self.segment = 0
        self.shown = ""
        """The current segment's text as last published (interim)."""
        self.words: list[tuple[int, int]] = []
        self.starts: list[float] = []
        self.done = False
        self.sentences: tuple[int, int, list[tuple[int, int]]] = (-1, -1, [])
        """The sentence spans of ``text[final_end:]``, keyed by (len(text), final_end): a
        playout write between two deltas asks again about the same text."""

    @property
    def segment_id(self) -> str:
        return f"SG_{self.id}_{self.segment}"


class AgentTranscriptionForwarder:
    """The agent's transcript, released as its audio is heard.

    Every method but :meth:`aclose` and :meth:`flushed` is synchronous and returns at once
    (the chart's callbacks must not await); segments are published in order by one task.
    """

    def __init__(
        self,
        publish: Callable[[TranscriptSegment], Awaitable[None]],
        *,
        participant: str,
        options: AgentTranscriptionOptions | None = None,
        enabled: bool = True,
    ) -> None:
        self._publish = publish
        self.participant = participant
        self.options = options or AgentTranscriptionOptions()
        self.enabled = enabled
        self._item: _Item | None = None
        self._queue: deque[TranscriptSegment] = deque()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def item_id(self) -> str | None:
        return self._item.id if self._item is not None and not self._item.done else None

    # Driven by the agent -------------------------------------------------------------
    def start(self, item_id: str) -> None:
        """A new item starts playing; an unfinished previous one ends at its heard words."""
        if not self.enabled or self._closed:
            return
        if self._item is not None and not self._item.done:
            self.interrupt(None)
        self._item = _Item(item_id)

    def push_text(self, delta: str) -> None:
        item = self._live()
        if item is None or not delta:
            return
        item.text += delta
        self._retime(item)
        self._advance(item, complete=False)

    def heard(self, samples: int, sample_rate: int) -> None:
        """The playout position of the current item: ``samples`` of it have been heard."""
        item = self._live()
        if item is None or sample_rate <= 0:
            return
        heard_s = samples / sample_rate
        if heard_s > item.heard_s:  # positions only move forward
            item.heard_s = heard_s
            self._advance(item, complete=False)

    def interrupt(self, heard_text: str | None = None) -> None:
        """A barge-in: the current segment ends, final, at ``heard_text``.

        ``heard_text`` is the item's whole heard transcript (what the runtime commits to
        the conversation); None cuts at the words released so far.
        """
        item = self._live()
        if item is None:
            return
        cut = heard_text if heard_text is not None else item.text[: self._audible_end(item, False)]
        rest = cut[item.final_end :].strip() if len(cut) > item.final_end else ""
        if not rest.strip(".… "):
            rest = ""  # only an ellipsis left: nothing of this segment was heard
        if rest or item.shown:
            self._emit(item, rest, final=True)
        item.done = True

    def finish(self) -> None:
        """The item played to its end: every remaining sentence is heard, and final."""
        item = self._live()
        if item is None:
            return
        self._advance(item, complete=True)
        item.done = True

    # Lifecycle ----------------------------------------------------------------------
    async def flushed(self) -> None:
        """Wait until every segment emitted so far has been published (or failed)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def aclose(self) -> None:
        item = self._live()
        if item is not None:
            self.interrupt(None)
        self._closed = True
        await self.flushed()

    # Internals ------------------------------------------------------------------------
    def _live(self) -> _Item | None:
        item = self._item
        if not self.enabled or self._closed or item is None or item.done:
            return None
        return item

    def _retime(self, item: _Item) -> None:
        opts = self.options
        rate = opts.syllables_per_second * opts.speed
        words, starts = item.words, item.starts
        if opts.word_tokenizer is split_words and words:
            # Whitespace words before the last cannot change as text is appended: only the
            # last can grow, and new ones follow it. (A user's tokenizer gets the whole text.)
            keep = len(words) - 1
            first = words[keep][0]
            t = starts[keep]
            del words[keep:], starts[keep:]
            tail = _spans(item.text, split_words(item.text[first:]), first)
        else:
            t, words[:], starts[:] = 0.0, [], []
            tail = _spans(item.text, opts.word_tokenizer(item.text))
        for a, b in tail:
            words.append((a, b))
            starts.append(t)
            t += max(1, len(opts.hyphenate_word(item.text[a:b]))) / rate

    def _audible_end(self, item: _Item, complete: bool) -> int:
        """End of the last word whose estimated start has been heard."""
        if complete:
            return len(item.text)
        # A word begins to be heard once the playout passes its start.
        n = bisect.bisect_left(item.starts, item.heard_s)
        if n == len(item.words) and item.words and item.words[-1][1] == len(item.text):
            n -= 1  # the last word may still be growing: wait for what follows it
        return item.words[n - 1][1] if n > 0 else 0

    def _advance(self, item: _Item, *, complete: bool) -> None:
        audible = self._audible_end(item, complete)
        while True:
            sentences = self._sentences(item)
            if not sentences:
                return
            start, end = sentences[0]
            closed = len(sentences) > 1 or complete
            if closed and audible >= end:
                self._emit(item, item.text[start:end], final=True)
                item.final_end, item.shown = end, ""
                item.segment += 1
                continue
            shown = item.text[start : min(audible, end)].strip() if audible > start else ""
            if shown and shown != item.shown:
                self._emit(item, shown, final=False)
            return

    def _sentences(self, item: _Item) -> list[tuple[int, int]]:
        size, since, spans = item.sentences
        if size != len(item.text) or since != item.final_end:
            tokens = self.options.sentence_tokenizer(item.text[item.final_end :])
            spans = _spans(item.text, tokens, item.final_end)
            item.sentences = (len(item.text), item.final_end, spans)
        return spans

    def _emit(self, item: _Item, text: str, *, final: bool) -> None:
        segment = TranscriptSegment(
            participant=self.participant, segment_id=item.segment_id, text=text, final=final
        )
        item.shown = text
        last = self._queue[-1] if self._queue else None
        if last is not None and not last.final and last.segment_id == segment.segment_id:
            self._queue[-1] = segment  # a newer interim supersedes one not yet sent
        else:
            self._queue.append(segment)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain(), name="agent-transcription")

    async def _drain(self) -> None:
        while self._queue:
            segment = self._queue.popleft()
            try:
                await self._publish(segment)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a transcript that cannot be sent must not stop the agent
                logger.warning("could not publish transcription %s: %s", segment.segment_id, exc)


@dataclass
class _OpenSegment:
    writer: Any
    text: str
    track_sid: str | None


class SegmentPublisher:
    """Sends segments to a room: text streams on ``lk.transcription``, and the older
    ``publish_transcription`` where the SDK has it. Errors propagate; the link logs them.

    A segment's growing text goes out as deltas of one stream, closed with
    ``lk.transcription_final`` "true" (as livekit-agents does); a text that does not
    continue what was sent (a cut) goes out as a new stream for the same
    ``lk.segment_id``, which clients show in its place.
    """

    def __init__(self, room: rtc.Room, options: TranscriptionOptions) -> None:
        self._room = room
        self.options = options
        self._open: dict[str, _OpenSegment] = {}

    async def publish(
        self, segment: TranscriptSegment, *, sender: str | None, track_sid: str | None
    ) -> None:
        """``sender``: the identity it is published for (None: the agent itself)."""
        if self.options.text_streams:
            await self._stream(segment, sender, track_sid)
        if self.options.legacy_transcriptions and track_sid:
            await self._legacy(segment, sender or self._room.local_participant.identity, track_sid)

    async def aclose(self) -> None:
        """End the streams still open (their segments end where they stand)."""
        for segment_id in list(self._open):
            with contextlib.suppress(Exception):
                await self._close(segment_id, final=True)

    async def _stream(self, segment: TranscriptSegment, sender: str | None, track_sid: str | None) -> None:
        sid = segment.segment_id
        opened = self._open.get(sid)
        if opened is not None and segment.text.startswith(opened.text):
            delta = segment.text[len(opened.text) :]
            if delta:
                await opened.writer.write(delta)
                opened.text = segment.text
            if segment.final:
                await self._close(sid, final=True)
            return
        if opened is not None:
            await self._close(sid, final=False)
        attributes = {
            ATTRIBUTE_TRANSCRIPTION_SEGMENT_ID: sid,
            ATTRIBUTE_TRANSCRIPTION_FINAL: "true" if segment.final else "false",
        }
        if track_sid:
            attributes[ATTRIBUTE_TRANSCRIPTION_TRACK_ID] = track_sid
        writer = await self._room.local_participant.stream_text(
            topic=TOPIC_TRANSCRIPTION, attributes=attributes, sender_identity=sender
        )
        if segment.text:
            await writer.write(segment.text)
        if segment.final:
            await writer.aclose()
        else:
            self._open[sid] = _OpenSegment(writer, segment.text, track_sid)

    async def _close(self, segment_id: str, *, final: bool) -> None:
        opened = self._open.pop(segment_id)
        if not self._room.isconnected():
            return
        attributes = {ATTRIBUTE_TRANSCRIPTION_FINAL: "true"} if final else None
        if attributes is not None and opened.track_sid:
            attributes[ATTRIBUTE_TRANSCRIPTION_TRACK_ID] = opened.track_sid
        await opened.writer.aclose(attributes=attributes)

    async def _legacy(self, segment: TranscriptSegment, identity: str, track_sid: str) -> None:
        publish = getattr(self._room.local_participant, "publish_transcription", None)
        if publish is None or not hasattr(rtc, "Transcription"):
            return  # an SDK without the older transcription API
        await publish(
            rtc.Transcription(
                participant_identity=identity,
                track_sid=track_sid,
                segments=[
                    rtc.TranscriptionSegment(
                        id=segment.segment_id,
                        text=segment.text,
                        start_time=0,
                        end_time=0,
                        language="",
                        final=segment.final,
                    )
                ],
            )
        )
