"""turnstile.adapters.inspector: watch agents move through their chart, live, in a browser.

``turnstile inspect`` runs an :class:`InspectorServer` and prints its page's URL; an agent
publishes its session to it with :func:`attach_inspector` (or ``RealtimeAgent(...,
inspector=URL)`` / ``TURNSTILE_INSPECT``). The page also opens trace and recording files.
:func:`attach_telemetry` reports the same facts as OpenTelemetry spans and metrics.
"""

from ._protocol import PUBLISH_PATH, is_loopback_host, publish_url
from ._publisher import InspectorPublisher, attach_inspector
from ._server import InspectorServer
from ._telemetry import AgentTelemetry, attach_telemetry

__all__ = [
    "PUBLISH_PATH",
    "AgentTelemetry",
    "InspectorPublisher",
    "InspectorServer",
    "attach_inspector",
    "attach_telemetry",
    "is_loopback_host",
    "publish_url",
]
