"""Traces: every transition the chart took, to assert on, save as JSONL, and draw.

A record names leaf states (``speaking``, not the compound ``active``), so a trace reads
like the diagram. Eventless transitions have ``event = None``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["Trace", "TraceAssertionError", "TraceRecord"]

# Keyword arguments python-statemachine injects into callbacks; they are not event data.
_INJECTED = frozenset(
    {
        "event_data",
        "machine",
        "model",
        "transition",
        "state",
        "source",
        "target",
        "previous_configuration",
        "new_configuration",
        "event",
        "error",
    }
)


class TraceRecord(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    t: float
    event: str | None
    source: str
    target: str
    data: dict[str, Any] = {}


class TraceAssertionError(AssertionError):
    pass


def _leaf(configuration: Iterable[Any]) -> str:
    for state in configuration:
        if state.is_atomic:
            return str(state.id)
    return "closed"


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in _INJECTED:
            continue
        if isinstance(value, (str, int, float, bool)) or value is None:
            out[key] = value
        elif isinstance(value, BaseModel):
            out[key] = value.model_dump(mode="json")
        elif isinstance(value, (list, tuple)):
            out[key] = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    return out


class _TraceListener:
    def __init__(self, trace: Trace) -> None:
        self._trace = trace
        self._leaf: str | None = None

    def after_transition(self, event: Any, source: Any, machine: Any, **kwargs: Any) -> None:
        # A transition declared on the compound ``active`` names it as source; the leaf
        # it left is the one this listener saw last.
        left = str(source.id) if source.is_atomic else self._leaf or _leaf(source.states[:1])
        self._leaf = target = _leaf(machine.configuration)
        name = str(event) if event else None
        self._trace.records.append(
            TraceRecord(
                t=time.monotonic() - self._trace.started,
                event=name,
                source=left,
                target=target,
                data=_jsonable(kwargs),
            )
        )


class Trace:
    """Records transitions while attached (``chart(listeners=[trace.listener()])``)."""

    def __init__(self, records: Iterable[TraceRecord] = (), *, max_records: int | None = None) -> None:
        # A deque with maxlen keeps the newest records once a long session passes the bound.
        self.records: deque[TraceRecord] = deque(records, maxlen=max_records)
        self.started = time.monotonic()

    def listener(self) -> object:
        return _TraceListener(self)

    # Views --------------------------------------------------------------------------
    @property
    def path(self) -> list[str]:
        """The leaf states visited in order, without self-transitions."""
        if not self.records:
            return []
        path = [self.records[0].source]
        for r in self.records:
            if r.target != path[-1]:
                path.append(r.target)
        return path

    @property
    def transitions(self) -> list[tuple[str | None, str, str]]:
        return [(r.event, r.source, r.target) for r in self.records]

    @property
    def events(self) -> list[str | None]:
        return [r.event for r in self.records]

    @property
    def final_state(self) -> str | None:
        return self.records[-1].target if self.records else None

    # Assertions ---------------------------------------------------------------------
    def assert_path(self, *expected: str) -> None:
        """The states visited are exactly ``expected``."""
        if self.path != list(expected):
            raise TraceAssertionError(self._diff("path", list(expected), self.path))

    def assert_visits(self, *expected: str) -> None:
        """``expected`` appears in the visited states in order (other states may come between)."""
        path = self.path
        matched: list[int] = []  # the step of the path each expected state matched
        for want in expected:
            start = matched[-1] + 1 if matched else 0
            try:
                matched.append(path.index(want, start))
            except ValueError:
                raise TraceAssertionError(_visits_failure(list(expected), matched, path)) from None

    def assert_transitions(self, expected: Sequence[tuple[str | None, str, str]]) -> None:
        """The transitions taken are exactly ``expected`` (event, source, target)."""
        actual = self.transitions
        if actual != [tuple(t) for t in expected]:
            raise TraceAssertionError(self._diff("transitions", list(expected), actual))

    def assert_never(self, source: str, target: str) -> None:
        hits = [r for r in self.records if r.source == source and r.target == target]
        if hits:
            raise TraceAssertionError(
                f"transition {source} -> {target} happened {len(hits)} time(s)\n"
                f"  actual path: {' -> '.join(self.path)}"
            )

    def _diff(self, what: str, expected: list[Any], actual: list[Any]) -> str:
        def fmt(seq: list[Any]) -> str:
            return " -> ".join(map(str, seq)) if seq and isinstance(seq[0], str) else repr(seq)

        i = next((k for k, (a, b) in enumerate(zip(expected, actual, strict=False)) if a != b), None)
        where = f" (first difference at step {i})" if i is not None else ""
        return f"{what} differs{where}\n  expected: {fmt(expected)}\n  actual:   {fmt(actual)}"

    # JSONL --------------------------------------------------------------------------
    def to_jsonl(self) -> str:
        return "".join(r.model_dump_json() + "\n" for r in self.records)

    def write_jsonl(self, path: str | Path) -> None:
        Path(path).write_text(self.to_jsonl(), encoding="utf-8")

    @classmethod
    def read_jsonl(cls, path: str | Path) -> Trace:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        return cls(TraceRecord.model_validate_json(line) for line in lines if line.strip())

    def __len__(self) -> int:
        return len(self.records)


def _visits_failure(expected: list[str], matched: list[int], path: list[str]) -> str:
    """Where the expected subsequence stopped matching: the state never reached, and after what."""
    k = len(matched)
    want = expected[k]
    where = f"after step {matched[-1]} ({path[matched[-1]]})" if matched else "at all"
    earlier = [i for i, s in enumerate(path) if s == want]
    seen = f"; it was visited only before that, at step {earlier[0]}" if earlier else ""
    prefix = ", ".join(f"{expected[j]} (step {i})" for j, i in enumerate(matched)) or "nothing"
    return (
        f"visits (in order) stopped matching at expected state {k + 1} of {len(expected)}: "
        f"{want} was not visited {where}{seen}\n"
        f"  matched so far: {prefix}\n"
        f"  expected (in order, others may come between): {' -> '.join(expected)}\n"
        f"  actual path (steps from 0): {' -> '.join(path) or '(no transitions)'}"
    )
