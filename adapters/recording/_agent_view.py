"""What a recorder and a replay read of an agent that its public API does not show yet.

The heard position of the agent's audio is the runtime's (its player's): no event carries
it. These reads are the only place this package looks inside the agent; each is defensive
(a renamed attribute yields None, never an error), so a change in the runtime costs a
recording its heard positions, not the call. A public accessor in the agent (or the heard
position carried by ``agent_stopped_speaking``) would replace them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["current_heard_ms", "stopped_playout"]


def _player(agent: object) -> tuple[Any, Any]:
    runtime = getattr(agent, "_runtime", None)
    return runtime, getattr(runtime, "player", None)


def stopped_playout(agent: object) -> dict[str, Any] | None:
    """The item whose playout just stopped (read in ``agent_stopped_speaking``): its id,
    the heard position in ms, and whether a barge-in cut it."""
    runtime, player = _player(agent)
    stopped = getattr(runtime, "_to_commit", None)
    if player is None or not stopped:
        return None
    try:
        handle = stopped[-1]
        heard = int(player.heard_samples(handle))
        return {
            "item_id": handle.item_id,
            "heard_ms": heard * 1000 // int(player.sample_rate),
            "interrupted": bool(handle.interrupted),
        }
    except Exception:  # a runtime reshaped since: no heard position, nothing worse
        return None


def current_heard_ms(agent: object) -> int | None:
    """The heard position of the item playing now, or None when nothing plays."""
    _, player = _player(agent)
    try:
        handle = player.current if player is not None else None
        if handle is None:
            return None
        return int(player.heard_samples(handle)) * 1000 // int(player.sample_rate)
    except Exception:
        return None
