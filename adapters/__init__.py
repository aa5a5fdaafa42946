"""turnstile.adapters: the edges. Providers, rooms, loopback servers, the CLI.

Each adapter lives in its own module (``turnstile.adapters.local``,
``turnstile.adapters.scripted``, ...) so importing one never pulls in another's
dependencies.
"""

__all__: list[str] = []
