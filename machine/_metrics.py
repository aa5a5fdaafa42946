"""Per-response bookkeeping, and the ``metrics_collected`` report made from it."""

from __future__ import annotations

import time

from ._events import ResponseDone
from ._options import ResponseMetrics

__all__ = ["InFlightResponse", "response_metrics"]


class InFlightResponse:
    """A response between ``response_created`` and ``response_done``."""

    __slots__ = ("cancelled", "created_at", "first_audio_at", "heard", "id")

    def __init__(self, response_id: str) -> None:
        self.id = response_id
        self.created_at = time.monotonic()
        self.first_audio_at: float | None = None
        self.cancelled = False
        self.heard = False
        """Some of its audio reached the listener (asking for it again would repeat it)."""


def response_metrics(ev: ResponseDone, response: InFlightResponse | None) -> ResponseMetrics:
    now = time.monotonic()
    created = response.created_at if response is not None else now
    first_audio = response.first_audio_at if response is not None else None
    usage = ev.usage.model_dump() if ev.usage is not None else {}
    return ResponseMetrics(
        response_id=ev.response_id,
        ttfa_s=first_audio - created if first_audio is not None else None,
        duration_s=now - created,
        cancelled=ev.status == "cancelled" or (response is not None and response.cancelled),
        status=ev.status,
        error=ev.error,
        **usage,
    )
