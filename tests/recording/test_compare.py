"""How a replay is judged: truncations within the tolerance, regions on their own, extra
fields in trace records ignored, audio and the opening configuration not compared."""

from __future__ import annotations

import json

from turnstile.adapters.recording._compare import control_frames, diff_controls, diff_traces


def _truncate(end: int) -> tuple[int, dict[str, object]]:
    return (1, {"type": "conversation.item.truncate", "item_id": "item_1", "content_index": 0, "audio_end_ms": end})


def test_a_truncation_may_move_within_the_tolerance_and_no_further() -> None:
    assert diff_controls([_truncate(1570)], [_truncate(1600)], tolerance_ms=40) == []
    assert diff_controls([_truncate(1570)], [_truncate(1650)], tolerance_ms=40) == [
        "~ conversation.item.truncate of item_1: audio_end_ms 1570 recorded, 1650 replayed (tolerance 40 ms)"
    ]


def test_missing_and_extra_control_messages_are_shown_as_such() -> None:
    cancel = (1, {"type": "response.cancel"})
    create = (1, {"type": "response.create"})
    assert diff_controls([cancel, create], [create, create]) == ["- [1] response.cancel {}", "+ [1] response.create {}"]


def test_audio_and_the_opening_configuration_are_not_compared() -> None:
    frames = [
        (1, json.dumps({"type": "session.update", "session": {}})),
        (1, json.dumps({"type": "input_audio_buffer.append", "audio": "AAAA"})),
        (1, json.dumps({"setup": {"model": "m"}})),
        (1, json.dumps({"realtimeInput": {"audio": {"data": "AAAA", "mimeType": "audio/pcm"}}})),
        (1, json.dumps({"realtimeInput": {"activityStart": {}}})),
        (2, json.dumps({"type": "response.cancel", "event_id": "evt_mine"})),
    ]
    assert control_frames(frames) == [(1, {"realtimeInput": {"activityStart": {}}}), (2, {"type": "response.cancel"})]


def _record(event: str, source: str, target: str, **extra: object) -> dict[str, object]:
    return {"t": 0.0, "event": event, "source": source, "target": target, "data": {}, **extra}


def test_regions_are_compared_each_on_its_own_and_extra_fields_are_ignored() -> None:
    recorded = [
        _record("audio_started", "thinking", "speaking", region="turn"),
        _record("response_done", "streaming", "no_response", region="response"),
    ]
    # Parallel regions interleave by timing: another order is the same behaviour.
    replayed = [
        _record("response_done", "streaming", "no_response", region="response", t=1.5),
        _record("audio_started", "thinking", "speaking", region="turn", data={"item_id": "x"}),
    ]
    assert diff_traces(recorded, replayed) == []
    changed = [_record("audio_started", "thinking", "speaking", region="turn")]
    assert diff_traces(recorded, changed) == [
        "region response:", "at step 0 (recorded) / 0 (replayed):", "- response_done: streaming -> no_response",
    ]
