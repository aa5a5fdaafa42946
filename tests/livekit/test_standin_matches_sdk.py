"""The stand-in is only worth what it shares with the installed SDK: these tests compare
them, so a livekit upgrade that changes a mirrored signature or event breaks a test."""

from __future__ import annotations

import ast
import inspect
import textwrap
import typing
from collections.abc import Callable
from typing import Any

import pytest
from livekit import rtc
from livekit.rtc import room as sdk_room

from turnstile.adapters.livekit._link import _Follower
from turnstile.adapters.livekit._standin import EMITS, MIRRORS


def _shape(fn: Any) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("fake", list(MIRRORS), ids=lambda f: f.__name__)
def test_mirrored_members_match_the_sdk(fake: type) -> None:
    real = getattr(rtc, MIRRORS[fake])
    for name in fake.MIRRORS:  # type: ignore[attr-defined]
        real_attr = inspect.getattr_static(real, name)
        fake_attr = inspect.getattr_static(fake, name)
        where = f"{fake.__name__}.{name} vs rtc.{real.__name__}.{name}"
        if isinstance(real_attr, property):
            assert isinstance(fake_attr, property), f"{where}: the SDK has a property"
            continue
        assert not isinstance(fake_attr, property), f"{where}: the SDK has a method"
        assert inspect.iscoroutinefunction(real_attr) == inspect.iscoroutinefunction(fake_attr), (
            f"{where}: async in one and not the other"
        )
        assert _shape(real_attr) == _shape(fake_attr), f"{where}: signatures differ"


def _sdk_emits() -> dict[str, set[int]]:
    """Every ``self.emit("name", ...)`` in rtc.Room's source: name -> argument counts."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(sdk_room.Room)))
    emits: dict[str, set[int]] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "emit"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            emits.setdefault(node.args[0].value, set()).add(len(node.args) - 1)
    return emits


def test_the_stand_in_emits_events_as_the_sdk_does() -> None:
    declared = set(typing.get_args(sdk_room.EventTypes))
    emitted = _sdk_emits()
    for event, nargs in EMITS.items():
        assert event in declared, f"{event} is no longer an rtc.Room event"
        assert nargs in emitted.get(event, set()), (
            f"rtc.Room emits {event} with {emitted.get(event)} arguments; the stand-in with {nargs}"
        )


def test_the_links_handlers_take_what_the_sdk_emits() -> None:
    emitted = _sdk_emits()
    follower = object.__new__(_Follower)  # only the bound methods are needed
    handlers: dict[str, Callable[..., None]] = {
        "participant_connected": follower._on_participant_connected,
        "participant_disconnected": follower._on_participant_disconnected,
        "track_published": follower._on_track_published,
        "track_unpublished": follower._on_track_unpublished,
        "track_subscribed": follower._on_track_subscribed,
        "track_unsubscribed": follower._on_track_unsubscribed,
        "disconnected": follower._on_disconnected,
    }
    for event, handler in handlers.items():
        assert event in EMITS, f"the stand-in never emits {event}, which the link follows"
        for nargs in emitted[event]:
            inspect.signature(handler).bind(*range(nargs))  # raises if it cannot take them


def test_the_sdk_still_has_what_the_adapter_uses() -> None:
    assert "sender_identity" in inspect.signature(rtc.LocalParticipant.stream_text).parameters
    assert "queue_size_ms" in inspect.signature(rtc.AudioSource).parameters
    assert {"sample_rate", "num_channels"} <= set(inspect.signature(rtc.AudioStream).parameters)
    assert isinstance(inspect.getattr_static(rtc.AudioSource, "queued_duration"), property)
    assert rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE).source == rtc.TrackSource.SOURCE_MICROPHONE
