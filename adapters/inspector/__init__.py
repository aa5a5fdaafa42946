"""turnstile.adapters.inspector: watch agents move through their chart, live, in a browser.

``turnstile inspect`` runs an :class:`InspectorServer` and prints its page's URL; an agent
publishes its session to it with :func:`attach_inspector` (or ``RealtimeAgent(...,
inspector=URL)`` / ``TURNSTILE_INSPECT``). The page also opens trace and recording files.
"""

from ._protocol import PUBLISH_PATH, is_loopback_host, publish_url
from ._publisher import InspectorPublisher, attach_inspector
from ._server import InspectorServer

__all__ = [
    "PUBLISH_PATH",
    "InspectorPublisher",
    "InspectorServer",
    "attach_inspector",
    "is_loopback_host",
    "publish_url",
]
