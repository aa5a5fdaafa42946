"""The chaos run's faults: what each kind does, a seeded plan of them per conversation, and
the malformed server frames the proxy injects, in each dialect's framing.

A plan is a list of faults, each due at a server->client frame of the conversation (counted
across its connections, as the proxy forwards them), drawn by a seeded RNG over the frames
the conversation is expected to carry. ``drop_in_tool`` is armed at its frame and fires at
the next tool call after it. The loopback servers' own scenario faults (an error event, a
reply that stalls or streams slowly, a malformed frame) are planned onto one scripted reply.
"""

from __future__ import annotations

import base64
import json
import random
from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = [
    "CONNECTION_KINDS", "FOREVER", "MALFORMED_VARIANTS", "PROXY_KINDS", "SCENARIO_KINDS", "Dialect", "Fault",
    "malformed_frame", "plan_faults",
]  # fmt: skip

Dialect = Literal["ga", "beta", "gemini"]

PROXY_KINDS: Final = (
    "drop",  # both sides of the connection aborted, no close frame
    "stall",  # server->client frames (and pongs) held for a while, then released
    "stall_forever",  # held for good: the connection is open and dead
    "malformed",  # one extra server frame the client cannot use (see MALFORMED_VARIANTS)
    "duplicate",  # one server frame delivered twice
    "delay",  # one server frame (and the stream behind it) held back a moment
    "flap",  # drop, then the next upgrades are accepted and closed at once
    "flap_forever",  # ... every later upgrade
    "no_upgrade",  # drop, then the next upgrades are never answered
    "no_upgrade_forever",  # ... every later upgrade
    "drop_in_tool",  # drop while the agent runs a tool the server asked for
)
SCENARIO_KINDS: Final = ("server_error", "server_stall", "server_slow", "server_malformed")
CONNECTION_KINDS: Final = frozenset({"flap", "flap_forever", "no_upgrade", "no_upgrade_forever"})
FOREVER: Final = frozenset({"stall_forever", "flap_forever", "no_upgrade_forever"})
"""Faults that never end: the agent must find its way out by itself (reconnect, or close)."""
MALFORMED_VARIANTS: Final = (
    "bad_json", "truncated", "bad_base64", "type_list", "type_object", "unknown_type", "unknown_item_audio", "huge",
)  # fmt: skip
HUGE_BYTES: Final = 20 * 1024 * 1024  # the 20 MB frame
_WEIGHTS: Final = {  # the forever kinds end a conversation: rarer, so the others get played through
    "drop": 3, "stall": 2, "stall_forever": 1, "malformed": 4, "duplicate": 2, "delay": 2, "flap": 2,
    "flap_forever": 1, "no_upgrade": 2, "no_upgrade_forever": 1, "drop_in_tool": 3,
}  # fmt: skip


@dataclass
class Fault:
    kind: str
    at_frame: int
    """The server->client frame (1-based, across the conversation's connections) it is due at."""
    variant: str = ""
    seconds: float = 0.0
    """How long a stall or delay lasts; for drop_in_tool, how long into the tool it drops."""
    count: int = 0
    """Connection attempts a flap or no_upgrade fault spoils (0: every one)."""
    reply: int = -1
    """The scripted reply a scenario fault is planned onto."""
    fired: bool = field(default=False, compare=False)

    def describe(self) -> str:
        seconds = f"{self.seconds:.2f}s" if self.seconds else ""
        detail = self.variant or seconds or (f"x{self.count}" if self.count else "")
        where = f"reply {self.reply}" if self.reply >= 0 else f"frame {self.at_frame}"
        return f"{self.kind}{'(' + detail + ')' if detail else ''}@{where}"


def plan_faults(rng: random.Random, *, frames: int, replies: int, has_tools: bool) -> list[Fault]:
    """One to three proxy faults at random frames of ``frames``; sometimes a scenario fault."""
    kinds = [k for k in PROXY_KINDS if has_tools or k != "drop_in_tool"]
    weights = [_WEIGHTS[k] for k in kinds]
    faults: list[Fault] = []
    for _ in range(rng.choice((1, 1, 2, 2, 3))):
        kind = rng.choices(kinds, weights)[0]
        # Frame 1 is session.created (or setupComplete): faults come once the session is up.
        fault = Fault(kind, at_frame=rng.randint(2, max(2, frames)))
        if kind == "malformed":
            fault.variant = rng.choice(MALFORMED_VARIANTS)
        elif kind == "stall":
            fault.seconds = round(rng.uniform(0.5, 4.0), 2)
        elif kind == "delay":
            fault.seconds = round(rng.uniform(0.1, 1.5), 2)
        elif kind in ("flap", "no_upgrade"):
            fault.count = rng.randint(1, 3)
        elif kind == "drop_in_tool":
            fault.seconds = round(rng.uniform(0.01, 0.15), 3)
        faults.append(fault)
    if replies and rng.random() < 0.3:
        kind = rng.choice(SCENARIO_KINDS)
        faults.append(Fault(kind, at_frame=0, reply=rng.randrange(replies)))
    faults.sort(key=lambda f: f.at_frame)
    return faults


# ------------------------------------------------------------------ malformed frames


def _openai_audio(delta: str, response_id: str, item_id: str, *, ga: bool) -> dict[str, object]:
    kind = "response.output_audio.delta" if ga else "response.audio.delta"
    return {
        "type": kind, "event_id": "event_chaos", "response_id": response_id, "item_id": item_id,
        "output_index": 0, "content_index": 0, "delta": delta,
    }  # fmt: skip


def _gemini_audio(data: str) -> dict[str, object]:
    blob = {"mimeType": "audio/pcm;rate=24000", "data": data}
    return {"serverContent": {"modelTurn": {"parts": [{"inlineData": blob}]}}}


def malformed_frame(
    variant: str, dialect: Dialect, *, current: str | bytes, audio_ids: tuple[str, str] | None
) -> str | bytes:
    """One malformed server frame. ``current`` is the real frame it goes before (truncated
    copies cut it); ``audio_ids`` the (response, item) of the last audio delta forwarded,
    so a bad delta lands on the item playing."""
    ga = dialect == "ga"
    rid, iid = audio_ids or ("resp_chaos_unknown", "item_chaos_unknown")
    body: object
    if variant == "bad_json":
        text = "{this is not json" if dialect != "gemini" else '{"serverContent": {"modelTurn": '
    elif variant == "truncated":
        whole = current if isinstance(current, str) else current.decode("utf-8", "replace")
        text = whole[: max(1, len(whole) // 2)]
    else:
        if variant == "bad_base64":
            bad = "!!not*base64!!"
            body = _gemini_audio(bad) if dialect == "gemini" else _openai_audio(bad, rid, iid, ga=ga)
        elif variant == "type_list":
            body = (
                {"serverContent": ["turnComplete"]} if dialect == "gemini"
                else {"type": ["response.done"], "event_id": "e"}
            )
        elif variant == "type_object":
            body = (
                {"toolCall": "get_weather"} if dialect == "gemini"
                else {"type": {"name": "response.done"}, "event_id": "e"}
            )
        elif variant == "unknown_type":
            body = {"chaosUnknownMessage": {}} if dialect == "gemini" else {"type": "x_chaos.unknown", "event_id": "e"}
        elif variant == "unknown_item_audio":
            pcm = base64.b64encode(bytes(4800)).decode()  # 100 ms of silence for an item nobody announced
            body = (
                _gemini_audio(pcm) if dialect == "gemini"
                else _openai_audio(pcm, "resp_chaos_x", "item_chaos_x", ga=ga)
            )
        elif variant == "huge":
            pad = "A" * HUGE_BYTES
            body = (
                {"chaosUnknownMessage": {"pad": pad}} if dialect == "gemini"
                else {"type": "x_chaos.huge", "pad": pad}
            )
        else:
            raise ValueError(f"unknown malformed variant {variant!r}")
        text = json.dumps(body)
    # Gemini's server frames JSON in binary frames; OpenAI's in text frames.
    return text.encode() if dialect == "gemini" else text
