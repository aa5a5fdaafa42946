"""turnstile.machine: the agent chart, its runtime, the ports adapters implement, tracing."""

from ._agent import RealtimeAgent
from ._chart import LEAF_STATES, REGIONS, AgentChart, ChartActions
from ._chat import ChatContext, ChatMessage
from ._derive import NewTransition, chart_definition, derive_chart
from ._emitter import AGENT_EVENTS, EventEmitter
from ._events import (
    AudioDelta,
    FunctionCall,
    InputAudioCommitted,
    InputSpeechStarted,
    InputSpeechStopped,
    InputTranscriptionCompleted,
    ProviderError,
    ProviderEvent,
    ResponseContentAdded,
    ResponseContentDone,
    ResponseCreated,
    ResponseDone,
    ServerInterrupted,
    SessionLost,
    SessionReady,
    ToolCallsCancelled,
    ToolCallsRequested,
    TranscriptDelta,
    Usage,
)
from ._holding import BACKCHANNELS, is_backchannel
from ._listeners import ListenerWarning
from ._options import DEFAULT_STATE_MAP, AgentError, AgentOptions, ResponseMetrics
from ._paths import ChartTransition, PathStep, TransitionPath, chart_transitions, transition_paths
from ._playout import PlayoutHandle
from ._ports import (
    AgentTranscription,
    AudioOutput,
    Capabilities,
    RealtimeProvider,
    RealtimeSession,
    RoomLink,
    RoomPort,
    TranscriptSegment,
)
from ._publish import AGENT_STATE_ATTRIBUTE
from ._tools import Tool, Toolbox, ToolOutput, ToolSchema
from ._trace import Trace, TraceAssertionError, TraceRecord

__all__ = [
    "AGENT_EVENTS",
    "AGENT_STATE_ATTRIBUTE",
    "BACKCHANNELS",
    "DEFAULT_STATE_MAP",
    "LEAF_STATES",
    "REGIONS",
    "AgentChart",
    "AgentError",
    "AgentOptions",
    "AgentTranscription",
    "AudioDelta",
    "AudioOutput",
    "Capabilities",
    "ChartActions",
    "ChartTransition",
    "ChatContext",
    "ChatMessage",
    "EventEmitter",
    "FunctionCall",
    "InputAudioCommitted",
    "InputSpeechStarted",
    "InputSpeechStopped",
    "InputTranscriptionCompleted",
    "ListenerWarning",
    "NewTransition",
    "PathStep",
    "PlayoutHandle",
    "ProviderError",
    "ProviderEvent",
    "RealtimeAgent",
    "RealtimeProvider",
    "RealtimeSession",
    "ResponseContentAdded",
    "ResponseContentDone",
    "ResponseCreated",
    "ResponseDone",
    "ResponseMetrics",
    "RoomLink",
    "RoomPort",
    "ServerInterrupted",
    "SessionLost",
    "SessionReady",
    "Tool",
    "ToolCallsCancelled",
    "ToolCallsRequested",
    "ToolOutput",
    "ToolSchema",
    "Toolbox",
    "Trace",
    "TraceAssertionError",
    "TraceRecord",
    "TranscriptDelta",
    "TranscriptSegment",
    "TransitionPath",
    "Usage",
    "chart_definition",
    "chart_transitions",
    "derive_chart",
    "is_backchannel",
    "transition_paths",
]
