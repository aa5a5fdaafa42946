"""The core's pydantic validators, built once per process before the first call.

Every model of the core is declared with ``defer_build``: importing turnstile.machine does
not build a validator (that was most of its import time), and a process that only imports
it (``turnstile --help``, a type checker, a test collecting) never pays for them. An agent
does: :func:`warm_models` builds them all when the first RealtimeAgent is made, so the first
provider event of a call is not where a validator gets built.
"""

from __future__ import annotations

from types import ModuleType

from pydantic import BaseModel

__all__ = ["warm_models"]

_warmed = False


def warm_models() -> None:
    global _warmed
    if _warmed:
        return
    from . import _chat, _events, _options, _ports, _tools, _trace

    for module in (_events, _chat, _options, _ports, _tools, _trace):
        for model in _models(module):
            if not model.__pydantic_complete__:
                model.model_rebuild()
    _warmed = True


def _models(module: ModuleType) -> list[type[BaseModel]]:
    found = (getattr(module, name) for name in getattr(module, "__all__", ()))
    return [m for m in found if isinstance(m, type) and issubclass(m, BaseModel)]
