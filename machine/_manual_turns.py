"""Manual turns (push-to-talk): the application says where the user's turns begin and end.

A mixin of ``RealtimeAgent``. With server turn detection off (OpenAI ``turn_detection=None``,
Gemini ``automatic_activity_detection=False``), nothing but these three calls makes a user
turn; with it on, OpenAI still takes them (its VAD may commit a turn of its own on a pause).

    agent.start_user_turn()    # the button goes down: the agent stops, the turn begins
    agent.commit_user_turn()   # the button comes up: the turn is sent and answered
    agent.clear_user_turn()    # or: the turn is thrown away, and nothing is answered

Each call is synchronous and non-blocking, as the chart's actions are: it enqueues frames.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._audio_in import AudioForwarder
    from ._ports import RealtimeSession
    from ._runtime import Runtime

__all__ = ["ManualTurns"]

logger = logging.getLogger("turnstile.agent")


class ManualTurns:
    """``start_user_turn``, ``commit_user_turn`` and ``clear_user_turn`` for ``RealtimeAgent``."""

    if TYPE_CHECKING:  # what the agent this is mixed into has
        _session: RealtimeSession | None
        _runtime: Runtime
        _state: str
        _forwarder: AudioForwarder | None

        def _send(self, event: str, **data: Any) -> None: ...

    _turn_from: int | None = None
    """The microphone chunks sent when the open turn began; None: no turn open."""
    _buffered_from: int = 0
    """The microphone chunks sent when the provider's input buffer was last emptied (a
    commit or a clear): a commit with none sent since would be refused as empty."""

    def _buffer_emptied(self) -> None:
        fwd = self._forwarder
        self._buffered_from = fwd.sent_chunks if fwd is not None else 0

    def _commit_what_was_said(self, session: RealtimeSession) -> None:
        """``generate_reply`` without server turn detection: what the user said since the
        last commit or clear (a part of a chunk too) becomes their turn, and a turn the
        button opened is over. Nothing said: nothing committed (OpenAI refuses it empty)."""
        fwd = self._forwarder
        if fwd is not None:
            fwd.flush()
            if fwd.sent_chunks > self._buffered_from:
                session.commit_audio()
                self._buffer_emptied()
        if self._turn_from is not None:
            self._turn_from = None
            self._user_floor(False)

    def start_user_turn(self) -> None:
        """The user starts a turn: what the provider buffered before is dropped, and the
        agent stops speaking (or stops waiting for an answer) as a barge-in would.

        Raises ``RuntimeError`` where the provider refuses manual turns (Gemini with
        automatic activity detection on), before anything is sent or stopped.
        """
        session = self._live_session("start_user_turn")
        if session is None:
            return
        session.start_user_turn()
        fwd = self._forwarder
        if fwd is not None:
            fwd.discard_pending()  # said before the press: not this turn's
        self._buffer_emptied()
        self._send("interrupt")  # the press is the user taking the floor: no hold, no guard
        self._turn_from = fwd.sent_chunks if fwd is not None else 0
        self._user_floor(True)

    def commit_user_turn(self) -> None:
        """The user's turn ends: the audio since ``start_user_turn`` becomes their message,
        and the agent asks for the answer (as ``generate_reply`` does)."""
        session = self._live_session("commit_user_turn")
        if session is None:
            return
        began, self._turn_from = self._turn_from, None
        if began is None:
            logger.warning("commit_user_turn without start_user_turn: no turn to commit")
            return
        self._user_floor(False)
        fwd = self._forwarder
        if fwd is not None:
            fwd.flush()  # the turn's last words, short of a whole chunk
        if fwd is not None and fwd.sent_chunks == began:
            # Nothing reached the provider: OpenAI refuses to commit an empty buffer, and an
            # answer to nothing is not what the user asked for.
            logger.warning("commit_user_turn: no audio since start_user_turn; the turn is cleared")
            session.clear_user_turn()
            return
        rt = self._runtime
        if rt.responses:
            rt.cancel_response()  # one began after the press (an answer to an earlier turn)
        session.commit_user_turn()
        self._buffer_emptied()
        rt.request_response()

    def clear_user_turn(self) -> None:
        """Throw the turn away: nothing said since ``start_user_turn`` reaches the model,
        and nothing is answered. The agent stays silent until the next turn."""
        session = self._live_session("clear_user_turn")
        if session is None:
            return
        if self._turn_from is not None:
            self._user_floor(False)
        self._turn_from = None
        if self._forwarder is not None:
            self._forwarder.discard_pending()
        session.clear_user_turn()
        self._buffer_emptied()

    def _user_floor(self, talking: bool) -> None:
        """The user region follows the button as it follows the provider's speech events
        (where server VAD also runs, a second start or stop changes nothing)."""
        if talking:
            self._runtime.user_speech_began = time.monotonic()
        self._runtime.emitter.emit("user_started_speaking" if talking else "user_stopped_speaking")
        self._send("user_speech_started" if talking else "user_speech_stopped")

    def _live_session(self, call: str) -> RealtimeSession | None:
        session = self._session
        if session is None or self._runtime.closed:
            logger.warning("%s: the agent is not running", call)
            return None
        if self._state == "initializing":
            # The socket drops control frames while it is down: the turn could not be delimited.
            logger.warning("%s: the provider session is not ready; ignored", call)
            return None
        return session
