"""Comparing a replay with its recording: the chart's transitions, and what the agent asked
of the model (control frames), each as a readable diff.

Transitions compare on (event, source, target); extra fields a record may carry (a chart
with regions names its ``region``) are not compared, and each region's records are
compared on their own, as parallel regions interleave by timing. Control frames compare
whole (their ``event_id`` aside, a client's own label), except ``audio_end_ms`` of a
truncation, which may differ by ``tolerance_ms``: where the agent's audio was cut depends
on a real audio pipeline's timing, within a frame or two.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from ._script import OPENING_KEYS, frame_key

__all__ = ["DEFAULT_TOLERANCE_MS", "control_frames", "diff_controls", "diff_traces"]

DEFAULT_TOLERANCE_MS = 40
"""Four 10 ms audio frames: the jitter of a real output's playout clock and of the loop,
with room to spare; a truncation off by more is a behaviour change."""
_SHOWN = 160


def _region(record: dict[str, Any]) -> str:
    region = record.get("region")
    return str(region) if region else ""


def _transition(record: dict[str, Any]) -> str:
    event = record.get("event") or "(eventless)"
    return f"{event}: {record.get('source')} -> {record.get('target')}"


def diff_traces(recorded: Sequence[dict[str, Any]], replayed: Sequence[dict[str, Any]]) -> list[str]:
    """Readable differences between two traces; empty when they took the same transitions."""
    out: list[str] = []
    regions = dict.fromkeys(_region(r) for r in [*recorded, *replayed])
    for region in regions:
        a = [_transition(r) for r in recorded if _region(r) == region]
        b = [_transition(r) for r in replayed if _region(r) == region]
        lines = _diff(a, b)
        if lines and region:
            out.append(f"region {region}:")
        out += lines
    return out


def control_frames(frames: Iterable[tuple[int, str]]) -> list[tuple[int, dict[str, Any]]]:
    """The frames to compare, from (connection, text): what the agent asked of the model,
    not its audio and not the configuration it opened with."""
    out: list[tuple[int, dict[str, Any]]] = []
    for conn, text in frames:
        key = frame_key(text)
        if key is None or key in OPENING_KEYS:
            continue
        try:
            obj = json.loads(text)
        except ValueError:
            obj = {"(not JSON)": text[:_SHOWN]}
        if isinstance(obj, dict):
            obj.pop("event_id", None)
        out.append((conn, obj if isinstance(obj, dict) else {"(not an object)": obj}))
    return out


def _label(conn: int, obj: dict[str, Any], *, without_end: bool) -> str:
    shown = dict(obj)
    if without_end and shown.get("type") == "conversation.item.truncate":
        shown.pop("audio_end_ms", None)
    kind = shown.pop("type", None)
    body = json.dumps(shown, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    text = f"[{conn}] {kind} {body}" if kind else f"[{conn}] {body}"
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def diff_controls(
    recorded: Sequence[tuple[int, dict[str, Any]]],
    replayed: Sequence[tuple[int, dict[str, Any]]],
    tolerance_ms: int = DEFAULT_TOLERANCE_MS,
) -> list[str]:
    """Readable differences between the control frames; empty when the same (within tolerance)."""
    a = [_label(c, o, without_end=True) for c, o in recorded]
    b = [_label(c, o, without_end=True) for c, o in replayed]
    out: list[str] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for (_, x), (_, y) in zip(recorded[i1:i2], replayed[j1:j2], strict=True):
                end_a, end_b = x.get("audio_end_ms"), y.get("audio_end_ms")
                if isinstance(end_a, int) and isinstance(end_b, int) and abs(end_a - end_b) > tolerance_ms:
                    out.append(
                        f"~ conversation.item.truncate of {x.get('item_id')}: audio_end_ms {end_a} recorded, "
                        f"{end_b} replayed (tolerance {tolerance_ms} ms)"
                    )
            continue
        out += [f"- {_label(c, o, without_end=False)}" for c, o in recorded[i1:i2]]
        out += [f"+ {_label(c, o, without_end=False)}" for c, o in replayed[j1:j2]]
    return out


def _diff(a: list[str], b: list[str]) -> list[str]:
    out: list[str] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        out.append(f"at step {i1} (recorded) / {j1} (replayed):")
        out += [f"- {x}" for x in a[i1:i2]]
        out += [f"+ {y}" for y in b[j1:j2]]
    return out
