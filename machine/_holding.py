"""Holding: speech over the agent pauses it before anything is decided.

The chart's ``holding`` state (turn region) is entered when the user starts speaking over
the agent and the provider keeps generating through it (``Capabilities.holds_playout``).
Playout pauses at once; nothing is cancelled or truncated. Then one of:

- ``interruption_confirmed``: the speech lasted ``min_interruption_s`` (a deadline armed
  at each speech start, plus the provider's stop delay), its stop measured it that long
  (``user_speech_stopped`` with ``speech_ms``), or ``user_transcript`` brought real words:
  a barge-in, cut at the position heard before the pause;
- ``false_interruption``: the speech ended and no words came within
  ``false_interruption_timeout_s``, or only a backchannel did: playout resumes where it
  paused, and a turn the server committed for the noise is deleted from its conversation.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from ._deadline import Deadline
from ._recent import RecentKeys
from ._runtime_state import RuntimeState

__all__ = ["BACKCHANNELS", "HoldActions", "is_backchannel"]

logger = logging.getLogger("turnstile.agent")

BACKCHANNELS = frozenset({
    "mm", "mhm", "mm-hmm", "mmhmm", "uh-huh", "uh huh", "hmm", "hm", "yeah", "yep", "yes",
    "right", "okay", "ok", "sure", "i see", "got it", "uh", "um", "oh", "ah", "aha", "cool",
    "nice", "great", "alright", "all right",
})  # fmt: skip
"""English acknowledgements that neither stop the agent nor get an answer."""

_WORDS = re.compile(r"[a-z']+(?:-[a-z']+)*")


def is_backchannel(text: str) -> bool:
    """True for a short acknowledgement ("mm-hmm", "yeah, right"), English defaults."""
    words = _WORDS.findall(text.lower())
    if not words or len(words) > 3:
        return False
    phrase = " ".join(words)
    return phrase in BACKCHANNELS or all(w in BACKCHANNELS for w in words)


class HoldActions(RuntimeState):
    """The holding state's guards and actions, a base of :class:`Runtime`."""

    def _init_holding(self) -> None:
        o = self.options
        # The provider reports a stop only after its silence: a held speech is confirmed
        # by duration once that silence has had time to show it ended short.
        confirm_s = o.min_interruption_s + self.caps.speech_stop_delay_ms / 1000
        self.confirm_deadline = Deadline(confirm_s, lambda: self._hold_event("interruption_confirmed"))
        self.false_deadline = Deadline(o.false_interruption_timeout_s, lambda: self._hold_event("false_interruption"))
        self.held_turns: list[str] = []
        """Items the server committed while held: deleted if it was a false interruption."""
        self.dropped_turns: RecentKeys[str, None] = RecentKeys()

    def _hold_event(self, event: str) -> None:
        if not self.closed:
            self.send(event)

    # Guards -------------------------------------------------------------------------
    def holds_first(self) -> bool:
        return self.options.resume_false_interruption and bool(getattr(self.caps, "holds_playout", False))

    def asks_after_turns(self) -> bool:
        return not self.caps.replies_to_turns and bool(getattr(self.caps, "holds_playout", False))

    def real_words(self, text: str = "") -> bool:
        check = self.options.is_backchannel or is_backchannel
        try:
            if check(text):
                return False
        except Exception:  # a user's classifier that fails: the words count as words
            logger.exception("is_backchannel failed on a transcript; counting it as words")
        words = _WORDS.findall(text.lower())
        return len(words) >= max(1, self.options.min_interruption_words)

    def speech_lasted(self, speech_ms: int | None = None) -> bool:
        """The provider's own measure of the speech that stopped reaches ``min_interruption_s``."""
        return speech_ms is not None and speech_ms >= self.options.min_interruption_s * 1000

    # Actions ------------------------------------------------------------------------
    def hold_playout(self) -> None:
        if self.player is not None:
            self.player.pause()
        self.held_turns.clear()
        self.confirm_deadline.arm()

    def stop_holding(self) -> None:
        self.confirm_deadline.disarm()
        self.false_deadline.disarm()

    def expect_interruption(self) -> None:
        self.false_deadline.disarm()
        self.confirm_deadline.arm()  # this speech, too, must last min_interruption_s

    def await_false_interruption(self) -> None:
        self.confirm_deadline.disarm()
        self.false_deadline.arm()

    def note_held_turn(self, **event: Any) -> None:
        item_id = event.get("item_id")
        if item_id:
            self.held_turns.append(item_id)

    def resume_playout(self) -> None:
        # The noise's turn leaves the model's memory (and ours) as if it never came.
        for item_id in self.held_turns:
            self.dropped_turns.add(item_id)
            self.chat_ctx.messages = [m for m in self.chat_ctx.messages if m.id != item_id]
            if self.session is not None and self.caps.supports_truncate:
                self.session.delete_item(item_id)
        self.held_turns.clear()
        self.emitter.emit("false_interruption")
        if self.player is not None:
            self.player.resume()

    def answer_held_turns(self) -> None:
        """After a confirmed barge-in: a turn committed while held is the user's real turn."""
        if self.held_turns and self.asks_after_turns():
            self.held_turns.clear()
            self.request_response()
        self.held_turns.clear()
