"""Audio deltas are decoded by pydantic-core's base64 where its answer is strict binascii's.

``decode_audio`` runs on every audio delta (ten a second per call). Its fast path must
accept exactly the payloads strict ``binascii.a2b_base64`` accepts, with the same bytes,
and refuse the rest as a ``ProtocolError`` carrying binascii's own reason: a frame that
was malformed before is malformed now, and counted the same way by the session.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic.version import VERSION as PYDANTIC_VERSION

from turnstile.adapters.openai import OpenAIRealtime, _base
from turnstile.adapters.openai._protocol import ProtocolError, decode_audio
from turnstile.machine import AudioDelta, ChatContext, ProviderEvent

# Every kind of character the two decoders could disagree on: both alphabets, padding,
# JSON's quote and escape, whitespace, other ASCII and non-ASCII.
TRICKY = [*'AQgwBCxyz019+/=-_\\"\n !é', "\\u0041", "==", "QUJD"]


def strict(text: str) -> bytes | tuple[str, str]:
    """What strict binascii makes of ``text``: its bytes, or its reason for refusing."""
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        return ("refused", str(exc))


def decoded(text: str) -> bytes | tuple[str, str]:
    try:
        return decode_audio(text)
    except ProtocolError as exc:
        return ("refused", str(exc).removeprefix("invalid base64 audio payload: "))


def test_the_fast_decoder_is_there_and_used(monkeypatch: pytest.MonkeyPatch) -> None:
    if tuple(int(part) for part in PYDANTIC_VERSION.split(".")[:2]) < (2, 9):
        pytest.skip("pydantic before 2.9 has no val_json_bytes: binascii decodes everything")
    # With binascii gone, a well-formed delta still decodes: pydantic-core did it.
    assert _base._RUST_BASE64 is not None, "pydantic-core's base64 decoder was not found"
    pcm = bytes(range(256)) * 19
    monkeypatch.setattr(_base, "binascii", None)
    assert decode_audio(base64.b64encode(pcm).decode()) == pcm


@settings(max_examples=1000, deadline=None, database=None)
@given(st.lists(st.sampled_from(TRICKY), max_size=16).map("".join))
@example("Q\\/A")  # unquoted as JSON it would be Q/A, which pydantic-core takes unpadded
@example('QU"D')
def test_any_text_decodes_as_strict_binascii_decodes_it(text: str) -> None:
    assert decoded(text) == strict(text)


@settings(max_examples=400, deadline=None, database=None)
@given(st.binary(max_size=64), st.integers(0, 90), st.sampled_from(TRICKY))
def test_near_misses_of_real_payloads_decode_as_strict_binascii_does(pcm: bytes, at: int, char: str) -> None:
    good = base64.b64encode(pcm).decode()
    variants = [
        good, good.rstrip("="), good + "=", good + "AA==", good[:at] + char + good[at:],
        good[:at] + good[at + 1 :], good[:at] + char + good[at + 1 :], base64.urlsafe_b64encode(pcm).decode(),
    ]  # fmt: skip
    for text in variants:
        assert decoded(text) == strict(text), text


def test_what_strict_binascii_accepts_beyond_pydantic_core_still_decodes() -> None:
    # Non-zero trailing bits: pydantic-core refuses them, binascii (and so we) do not.
    assert decode_audio("QUJDRB==") == binascii.a2b_base64("QUJDRB==") == b"ABCD"
    # Bytes (the loopback server's own payloads may come as bytes) go to binascii, as before.
    assert decode_audio(b"QUJD") == b"ABC"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "delta"),
    [
        ("URL-safe alphabet", base64.urlsafe_b64encode(b"\xfb\xff\xbf" * 40).decode()),
        ("missing padding", base64.b64encode(b"\x01\x02").decode().rstrip("=")),
        ("an escaped character", "QUJD\\u0041AAA"),
    ],
)
@pytest.mark.parametrize("dialect", ["ga", "beta"])
async def test_a_delta_only_pydantic_core_would_accept_is_still_malformed(dialect: str, name: str, delta: str) -> None:
    events: list[ProviderEvent] = []
    provider = OpenAIRealtime(api_key="sk-test", url="ws://127.0.0.1:9/v1/realtime", dialect=dialect)  # type: ignore[arg-type]
    session = provider.session(chat_ctx=ChatContext(), tools=[], on_event=events.append)
    kind = "response.output_audio.delta" if dialect == "ga" else "response.audio.delta"
    where: dict[str, Any] = {"response_id": "r", "item_id": "i", "output_index": 0, "content_index": 0}
    session.on_frame(json.dumps({"type": kind, **where, "delta": delta}))
    assert (session.malformed_events, events) == (1, []), name
    session.on_frame(json.dumps({"type": kind, **where, "delta": base64.b64encode(b"\x01\x02").decode()}))
    assert session.malformed_events == 1
    assert [type(e) for e in events] == [AudioDelta] and events[0].data == b"\x01\x02"  # type: ignore[attr-defined]
