"""Recording and replay of realtime sessions: a production call as a regression test.

    recorder = attach_recorder(agent, Recorder("calls/", audio="strip"))
    ...
    replay("tests/recordings/froze.jsonl").assert_same()

See docs/recording.md.
"""

from ._attach import RECORD_ENV, attach_recorder, recorder_from_env
from ._compare import DEFAULT_TOLERANCE_MS
from ._format import FORMAT_VERSION, Recording, RecordingError
from ._replay import Replay, ReplayResult, replay
from ._writer import DEFAULT_MAX_BYTES, DEFAULT_MAX_QUEUE, Recorder

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_QUEUE",
    "DEFAULT_TOLERANCE_MS",
    "FORMAT_VERSION",
    "RECORD_ENV",
    "Recorder",
    "Recording",
    "RecordingError",
    "Replay",
    "ReplayResult",
    "attach_recorder",
    "recorder_from_env",
    "replay",
]
