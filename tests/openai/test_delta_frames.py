"""Audio and transcript deltas take a short way from the frame to the agent (``DeltaFrames``),
and end exactly where the full parse would have taken them.

The check is differential: two sessions read the same frames, one with the short way
switched off, and must emit the same events, count the same malformed and unknown frames
and log the same lines. The frames are a real reply of the loopback server (both dialects),
broken many ways, and a few written by hand for the short way's own edges.
"""

from __future__ import annotations

import json
import logging
import random
from typing import Any

import pytest

from turnstile.adapters.openai import _session
from turnstile.adapters.openai._session import OpenAIRealtimeSession
from turnstile.machine import AudioDelta, ProviderEvent, TranscriptDelta

from ..test_socket import mutated
from .test_robustness import DIALECTS, WHERE, audio_delta, bad_frames, captured_reply, session_for

ODD_CHARS = '"\\-_ xA0=/+{}:,\u00e9'


def transcript_delta(dialect: str) -> str:
    return "response.output_audio_transcript.delta" if dialect == "ga" else "response.audio_transcript.delta"


def edges(dialect: str) -> list[str | bytes]:
    """Delta frames at the short way's edges: how the type is written, and fields it must
    refuse or pass on exactly as the full parse does."""
    audio, text = audio_delta(dialect), transcript_delta(dialect)
    good = {"type": audio, "event_id": "e", **WHERE, "delta": "AAEC"}
    compact = json.dumps(good, separators=(",", ":"))
    return [
        compact, json.dumps(good), compact.encode(),  # compact, spaced, as bytes
        json.dumps(dict(reversed(list(good.items())))),  # "type" last
        " " + compact,  # whitespace before the object
        compact.replace(audio, audio.replace("delta", "\\u0064elta")),  # the name escaped
        compact[:-1] + ',"type":"error"}',  # a second "type", which the model refuses
        compact[:-1] + ',"brand_new":{"a":[1]}}',  # a field added by the server
        json.dumps({**good, "output_index": "first"}), json.dumps({**good, "item_id": None}),
        json.dumps({k: v for k, v in good.items() if k != "content_index"}),
        json.dumps({**good, "delta": "-_-_"}), json.dumps({**good, "delta": "AAE"}),  # URL-safe, unpadded
        json.dumps({**good, "delta": "!!"}), json.dumps({**good, "delta": 7}),
        json.dumps({"type": text, **WHERE, "delta": "Sure, "}), json.dumps({"type": text, **WHERE, "delta": ["x"]}),
        json.dumps({"type": text, **WHERE}), '{"type":"' + text + '"',  # no delta; cut short
    ]  # fmt: skip


def char_flipped(frame: str, rng: random.Random) -> str:
    """``frame`` as text with a few characters replaced: what a byte flip does to a text frame."""
    chars = list(frame)
    for _ in range(rng.randint(1, 3)):
        chars[rng.randrange(len(chars))] = rng.choice(ODD_CHARS)
    return "".join(chars)


def outcome(session: OpenAIRealtimeSession, events: list[ProviderEvent], frame: str | bytes) -> tuple[Any, ...]:
    before = len(events)
    session.on_frame(frame)
    return (events[before:], session.malformed_events, session.unknown_events)


def assert_read_alike(dialect: str, frames: list[str | bytes], caplog: pytest.LogCaptureFixture) -> None:
    short: list[ProviderEvent] = []
    full: list[ProviderEvent] = []
    fast = session_for(dialect, "ws://127.0.0.1:9/v1/realtime", short)
    slow = session_for(dialect, "ws://127.0.0.1:9/v1/realtime", full)
    slow._deltas.map = lambda raw: None  # type: ignore[method-assign]
    for frame in frames:
        caplog.clear()
        got = outcome(fast, short, frame)
        fast_log = [(r.levelno, r.getMessage()) for r in caplog.records]
        caplog.clear()
        want = outcome(slow, full, frame)
        assert got == want, frame
        assert fast_log == [(r.levelno, r.getMessage()) for r in caplog.records], frame


@pytest.mark.parametrize("dialect", DIALECTS)
def test_edge_frames_end_as_the_full_parse_ends_them(dialect: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="turnstile.openai")
    assert_read_alike(dialect, edges(dialect), caplog)


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_broken_reply_is_read_as_the_full_parse_reads_it(
    dialect: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="turnstile.openai")
    frames = await captured_reply(dialect)
    rng = random.Random(15)
    deltas = [f for f in frames if f'"{audio_delta(dialect)}"' in f or f'"{transcript_delta(dialect)}"' in f]
    broken: list[str | bytes] = [*frames, *bad_frames(dialect).values()]
    broken += [char_flipped(rng.choice(deltas), rng) for _ in range(600)]
    broken += [mutated(rng.choice(frames), rng) for _ in range(300)]
    assert_read_alike(dialect, broken, caplog)


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_deltas_take_the_short_way(dialect: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_full_parse(*args: Any) -> Any:
        raise AssertionError("a delta went through the full parse")

    events: list[ProviderEvent] = []
    session = session_for(dialect, "ws://127.0.0.1:9/v1/realtime", events)
    monkeypatch.setattr(_session, "parse_server_event", no_full_parse)
    for frame in await captured_reply(dialect):
        if f'"{audio_delta(dialect)}"' in frame or f'"{transcript_delta(dialect)}"' in frame:
            session.on_frame(frame)
    assert session.malformed_events == 0
    assert {type(e) for e in events} == {AudioDelta, TranscriptDelta}
