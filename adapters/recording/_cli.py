"""``turnstile replay RECORDING``: the command's body (the parser lives in ``adapters.cli``)."""

from __future__ import annotations

import asyncio
import math
from typing import Any

from .._cli_errors import CliError
from ._compare import DEFAULT_TOLERANCE_MS
from ._replay import Replay

__all__ = ["run_replay"]


def _speed(text: str) -> float:
    """``--speed``: above 0; ``inf`` (or ``max``) plays no recorded pause. Read here, not by
    the parser: building the parser must not import the replay (``turnstile --help``)."""
    value = math.inf if text in ("inf", "max") else _number(text)
    if value is None or not value > 0:
        raise CliError(f"--speed {text}: not a speed (a number above 0, or inf)", 2)
    return value


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def run_replay(
    path: str, *, speed: str = "1", tolerance_ms: int = DEFAULT_TOLERANCE_MS, chart: Any = None,
    record_to: str | None = None,
) -> int:  # fmt: skip
    """Replay, print the report; 0 when the replay took the recorded path, 1 when not."""
    # A bad file is one line, raised from here (RecordingError is a ValueError).
    rep = Replay(path, speed=_speed(speed), tolerance_ms=tolerance_ms, chart=chart, record_to=record_to)
    result = asyncio.run(rep.run())
    print(result.report())
    if record_to is not None:
        print(f"the replay is recorded in {record_to}")
    return 0 if result.same else 1
