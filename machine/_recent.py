"""A bounded, insertion-ordered map: the runtime's memory of recent items and responses."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["RecentKeys"]

K = TypeVar("K")
V = TypeVar("V")


class RecentKeys(Generic[K, V]):
    """Keeps the ``limit`` most recently added keys; the oldest is forgotten first.

    What the runtime remembers per item or response (refused items, dropped responses,
    text that came before its audio) only matters for a few seconds, while late frames
    can still arrive; a call of hours must not keep every id it ever saw.
    """

    __slots__ = ("_data", "_limit")

    def __init__(self, limit: int = 256) -> None:
        self._data: OrderedDict[K, V | None] = OrderedDict()
        self._limit = limit

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def add(self, key: K) -> None:
        self._put(key, None)

    def discard(self, key: K) -> None:
        self._data.pop(key, None)

    def setdefault(self, key: K, factory: Callable[[], V]) -> V:
        value = self._data.get(key)
        if value is None:
            value = factory()
            self._put(key, value)
        return value

    def pop(self, key: K, default: V) -> V:
        value = self._data.pop(key, None)
        return default if value is None else value

    def _put(self, key: K, value: V | None) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self._limit:
            self._data.popitem(last=False)
