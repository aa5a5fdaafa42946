"""Tools: plain typed functions, exposed to the model as JSON schemas, called safely.

Whatever the model sends and whatever a tool does, a call ends in a ToolOutput (or, when
its caller cancels it, in CancelledError): bad or oversized JSON, unknown tools, arguments
that fail validation, tools that raise, results that cannot be serialised or are too large
all become a short error output the model can read, and the details go to the log, so a
conversation never dies on a tool. Sync tools run on the toolbox's own daemon threads.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from ._tool_results import (
    DEFAULT_MAX_ARGUMENTS_BYTES,
    DEFAULT_MAX_RESULT_BYTES,
    ResultError,
    describe_exception,
    exceeds,
    result_data,
    result_text,
    safe_str,
    validation_brief,
)
from ._tool_threads import ToolThreads, ToolThreadsClosed

__all__ = ["Tool", "ToolLimits", "ToolOutput", "ToolSchema", "Toolbox"]

logger = logging.getLogger("turnstile.tools")


class ToolSchema(BaseModel):
    """A provider-neutral function declaration (OpenAI and Gemini both take this shape)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    name: str
    description: str = ""
    parameters: dict[str, Any]


class ToolOutput(BaseModel):
    """What a call returned: ``output`` is the text every provider can take (OpenAI's
    function_call_output is a string); ``data`` is the same result as a JSON value where the
    tool returned structured data (a dict, a model, a list, a number), for providers that
    take an object (Gemini's functionResponse), and None where it returned text or failed."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    call_id: str
    name: str
    output: str
    is_error: bool = False
    data: Any = None


@dataclass(frozen=True)
class ToolLimits:
    """Size limits for one call, in UTF-8 bytes (see ``_tool_results`` for the defaults' why)."""

    max_arguments_bytes: int = DEFAULT_MAX_ARGUMENTS_BYTES
    max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES

    def __post_init__(self) -> None:
        if self.max_arguments_bytes < 2 or self.max_result_bytes < 1:
            raise ValueError("tool size limits must be positive (arguments: at least 2 bytes)")


class Tool:
    """A function the model may call. Build with ``Tool.from_function(fn)``."""

    def __init__(
        self, fn: Callable[..., Any], name: str, description: str, args: type[BaseModel]
    ) -> None:
        self.fn = fn
        self.name = name
        self.description = description
        self.args = args
        # A callable object with an ``async def __call__`` is async too.
        self.is_async = inspect.iscoroutinefunction(fn) or (
            not inspect.isroutine(fn) and inspect.iscoroutinefunction(type(fn).__call__)
        )
        schema = args.model_json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)
        self.schema = ToolSchema(name=name, description=description, parameters=schema)

    @classmethod
    def from_function(
        cls, fn: Callable[..., Any], *, name: str | None = None, description: str | None = None
    ) -> Tool:
        hints = get_type_hints(fn)
        fields: dict[str, Any] = {}
        for pname, param in inspect.signature(fn).parameters.items():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise TypeError(f"tool {fn.__name__!r}: *args/**kwargs cannot be described")
            if pname not in hints:
                raise TypeError(f"tool {fn.__name__!r}: parameter {pname!r} needs a type hint")
            default = ... if param.default is param.empty else param.default
            fields[pname] = (hints[pname], default)
        tool_name = name or fn.__name__
        args = create_model(f"{tool_name}_args", __config__=ConfigDict(extra="forbid"), **fields)
        doc = description if description is not None else inspect.getdoc(fn) or ""
        return cls(fn, tool_name, doc, args)

    async def call(
        self,
        call_id: str,
        arguments: str,
        *,
        limits: ToolLimits | None = None,
        threads: ToolThreads | None = None,
    ) -> ToolOutput:
        """Run the tool; never raises but CancelledError (or KeyboardInterrupt, SystemExit).

        A sync tool runs on ``threads`` (a shared default when none is given); cancelling
        the call returns at once and abandons the thread if the tool is still running.
        """
        limits = limits or _DEFAULT_LIMITS
        try:
            kwargs = self._arguments(arguments, limits.max_arguments_bytes)
        except _BadArguments as exc:
            return self._error(call_id, str(exc))
        try:
            if self.is_async:
                return await self._call_async(call_id, kwargs, limits)
            return await self._call_sync(call_id, kwargs, limits, threads or _default_threads())
        except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - a last guard: the paths above answer all
            logger.critical("tool %s: a failure escaped the toolbox", self.name, exc_info=exc)
            return self._error(call_id, f"{self.name} failed: internal error")

    def _arguments(self, arguments: object, max_bytes: int) -> dict[str, Any]:
        if not isinstance(arguments, str):
            logger.warning("tool %s: arguments are a %s, not JSON text", self.name, type(arguments))
            raise _BadArguments(f"invalid arguments for {self.name}: expected JSON text")
        if exceeds(arguments, max_bytes):
            logger.warning(
                "tool %s: %d characters of arguments, over the %d-byte limit; not called",
                self.name, len(arguments), max_bytes,
            )
            raise _BadArguments(
                f"arguments for {self.name} are larger than {max_bytes} bytes, the limit; "
                f"{self.name} was not called"
            )
        try:
            raw = json.loads(arguments or "{}")
            if not isinstance(raw, dict):
                raise _NotAnObject(_JSON_KIND.get(type(raw), "a value"))
            parsed = self.args.model_validate(raw)
        except json.JSONDecodeError as exc:
            problem = f"not valid JSON ({exc.msg} at character {exc.pos})"
        except _NotAnObject as exc:
            problem = f"expected a JSON object of named arguments, got {exc}"
        except ValidationError as exc:
            problem = validation_brief(exc)
        except RecursionError:
            problem = "JSON nested too deeply"
        except Exception as exc:  # whatever a custom validator raised outside pydantic's wrapping
            problem = describe_exception(exc)
        else:
            return {k: getattr(parsed, k) for k in type(parsed).model_fields}
        logger.warning("tool %s: bad arguments: %s", self.name, problem)
        raise _BadArguments(f"invalid arguments for {self.name}: {problem}")

    async def _call_async(
        self, call_id: str, kwargs: dict[str, Any], limits: ToolLimits
    ) -> ToolOutput:
        try:
            result = await self.fn(**kwargs)
        except asyncio.CancelledError as exc:
            task = asyncio.current_task()
            if task is None or task.cancelling():
                raise  # the caller cancelled this call: the tool is cancelled with it
            return self._failed(call_id, exc)  # the tool raised it on its own
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - any failure is the model's to read
            return self._failed(call_id, exc)
        return self._output(call_id, result, limits)

    async def _call_sync(
        self, call_id: str, kwargs: dict[str, Any], limits: ToolLimits, threads: ToolThreads
    ) -> ToolOutput:
        # The result is serialised on the thread too: a big one never blocks the loop.
        run = functools.partial(self._run_sync, call_id, kwargs, limits)
        try:
            outcome = await threads.submit(self.name, run)
        except ToolThreadsClosed:
            logger.warning("tool %s: the toolbox is closed; not called", self.name)
            return self._error(call_id, f"{self.name} was not run: the tools are shut down")
        except RuntimeError as exc:  # no thread could be started
            logger.error("tool %s: no thread to run it: %s", self.name, exc)
            return self._error(call_id, f"{self.name} could not be started")
        if isinstance(outcome.error, ToolThreadsClosed):
            return self._error(call_id, f"{self.name} was stopped: the tools were shut down")
        if isinstance(outcome.error, (KeyboardInterrupt, SystemExit)):
            raise outcome.error  # as the tool raised it
        if outcome.error is not None or outcome.value is None:
            raise RuntimeError("a tool thread ended without an output") from outcome.error
        return outcome.value

    def _run_sync(self, call_id: str, kwargs: dict[str, Any], limits: ToolLimits) -> ToolOutput:
        try:
            result = self.fn(**kwargs)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - any failure is the model's to read
            return self._failed(call_id, exc)
        return self._output(call_id, result, limits)

    def _output(self, call_id: str, result: object, limits: ToolLimits) -> ToolOutput:
        if inspect.iscoroutine(result):
            result.close()  # a sync callable that returned a coroutine: never awaited
            logger.error("tool %s returned a coroutine; declare it with async def", self.name)
            return self._error(call_id, f"{self.name} failed: it returned an unawaited coroutine")
        try:
            text = result_text(self.name, result, limits.max_result_bytes)
        except ResultError as exc:
            logger.warning("tool %s: %s", self.name, exc, exc_info=exc.__cause__)
            return self._error(call_id, str(exc))
        return ToolOutput(call_id=call_id, name=self.name, output=text, data=result_data(result, text))

    def _failed(self, call_id: str, exc: BaseException) -> ToolOutput:
        logger.error("tool %s raised", self.name, exc_info=exc)
        return self._error(call_id, f"{self.name} failed: {describe_exception(exc)}")

    def _error(self, call_id: str, message: str) -> ToolOutput:
        return ToolOutput(call_id=call_id, name=self.name, output=message, is_error=True)


class _BadArguments(Exception):
    pass


class _NotAnObject(Exception):
    pass


_JSON_KIND = {list: "an array", str: "a string", int: "a number", float: "a number",
              bool: "true or false", type(None): "null"}


_DEFAULT_LIMITS = ToolLimits()
_shared_threads: ToolThreads | None = None


def _default_threads() -> ToolThreads:
    """Threads for a Tool called outside a Toolbox (daemon threads; never closed)."""
    global _shared_threads
    if _shared_threads is None:
        _shared_threads = ToolThreads(name_prefix="turnstile-tool-shared")
    return _shared_threads


class Toolbox:
    """The agent's tools by name, their size limits and the threads sync tools run on.

    ``max_arguments_bytes`` and ``max_result_bytes`` bound what goes into a tool and what
    comes back into the conversation; ``max_workers`` bounds the threads sync tools run on
    (started on demand, daemon: a hung one neither blocks ``aclose`` nor delays exit).
    """

    def __init__(
        self,
        tools: Iterable[Tool | Callable[..., Any]] = (),
        *,
        max_arguments_bytes: int = DEFAULT_MAX_ARGUMENTS_BYTES,
        max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES,
        max_workers: int = 4,
    ) -> None:
        self.limits = ToolLimits(max_arguments_bytes, max_result_bytes)
        self._threads = ToolThreads(max_workers)  # no thread starts before a sync tool runs
        self._closed = False
        self._tools: dict[str, Tool] = {}
        for t in tools:
            tool = t if isinstance(t, Tool) else Tool.from_function(t)
            if tool.name in self._tools:
                raise ValueError(f"two tools are named {tool.name!r}")
            self._tools[tool.name] = tool

    @property
    def schemas(self) -> list[ToolSchema]:
        return [t.schema for t in self._tools.values()]

    @property
    def abandoned_threads(self) -> int:
        """Threads still running a sync tool whose call was cancelled, timed out or closed."""
        return self._threads.abandoned

    def __len__(self) -> int:
        return len(self._tools)

    async def call(
        self, call_id: str, name: str, arguments: str, *, timeout_s: float | None = None
    ) -> ToolOutput:
        """Call tool ``name``; never raises but CancelledError.

        With ``timeout_s``, a tool that has not returned by then is cancelled (a sync
        tool's thread is abandoned) and the model gets an error output saying so.
        """
        tool = self._tools.get(name)
        if tool is None:
            shown = safe_str(name)[:80]
            logger.warning("model called unknown tool %r", shown)
            known = ", ".join(sorted(self._tools)) or "none"
            return ToolOutput(
                call_id=call_id,
                name=name,
                output=f"unknown tool {shown!r}; available tools: {known}",
                is_error=True,
            )
        if self._closed:
            logger.warning("tool %s called after the toolbox closed; not called", name)
            return tool._error(call_id, f"{name} was not run: the tools are shut down")
        try:
            async with asyncio.timeout(timeout_s):  # None: no deadline
                return await tool.call(
                    call_id, arguments, limits=self.limits, threads=self._threads
                )
        except TimeoutError:  # only the deadline's: tool.call turns a tool's own into output
            logger.warning("tool %s did not return within %g s; stopped", name, timeout_s)
            return tool._error(call_id, f"{name} did not return within {timeout_s:g} s")

    async def aclose(self) -> None:
        """Refuse further calls and let go of the tool threads without waiting for them:
        queued sync calls end with an error output, running ones are abandoned."""
        self.close()

    def close(self) -> None:
        self._closed = True
        self._threads.close()
