"""Tools: plain typed functions, exposed to the model as JSON schemas, called safely.

Whatever the model sends, a call ends in a ToolOutput: bad JSON, unknown tools, arguments
that fail validation and tools that raise all become an error output the model can read,
so a conversation never dies on a tool.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

__all__ = ["Tool", "ToolOutput", "ToolSchema", "Toolbox"]

logger = logging.getLogger("turnstile.tools")


class ToolSchema(BaseModel):
    """A provider-neutral function declaration (OpenAI and Gemini both take this shape)."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str = ""
    parameters: dict[str, Any]


class ToolOutput(BaseModel):
    model_config = ConfigDict(frozen=True)

    call_id: str
    name: str
    output: str
    is_error: bool = False


class Tool:
    """A function the model may call. Build with ``Tool.from_function(fn)``."""

    def __init__(
        self, fn: Callable[..., Any], name: str, description: str, args: type[BaseModel]
    ) -> None:
        self.fn = fn
        self.name = name
        self.description = description
        self.args = args
        self.is_async = inspect.iscoroutinefunction(fn)
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
        args = create_model(  # type: ignore[call-overload]
            f"{tool_name}_args", __config__=ConfigDict(extra="forbid"), **fields
        )
        doc = description if description is not None else inspect.getdoc(fn) or ""
        return cls(fn, tool_name, doc, args)

    async def call(self, call_id: str, arguments: str) -> ToolOutput:
        try:
            raw = json.loads(arguments or "{}")
            if not isinstance(raw, dict):
                raise ValueError("arguments must be a JSON object")
            parsed = self.args.model_validate(raw)
        except (ValueError, ValidationError) as exc:
            logger.warning("tool %s: bad arguments: %s", self.name, exc)
            return self._error(call_id, f"invalid arguments for {self.name}: {exc}")
        kwargs = {k: getattr(parsed, k) for k in type(parsed).model_fields}
        try:
            if self.is_async:
                result = await self.fn(**kwargs)
            else:
                # A plain function may block (an HTTP call, a file): keep it off the loop.
                result = await asyncio.to_thread(self.fn, **kwargs)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("tool %s raised", self.name)
            return self._error(call_id, f"{self.name} failed: {type(exc).__name__}: {exc}")
        return ToolOutput(call_id=call_id, name=self.name, output=_to_text(result))

    def _error(self, call_id: str, message: str) -> ToolOutput:
        return ToolOutput(call_id=call_id, name=self.name, output=message, is_error=True)


def _to_text(result: Any) -> str:
    if isinstance(result, str):
        return result
    if isinstance(result, BaseModel):
        return result.model_dump_json()
    try:
        return json.dumps(result)
    except TypeError:
        return str(result)


class Toolbox:
    """The agent's tools by name."""

    def __init__(self, tools: Iterable[Tool | Callable[..., Any]] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for t in tools:
            tool = t if isinstance(t, Tool) else Tool.from_function(t)
            if tool.name in self._tools:
                raise ValueError(f"two tools are named {tool.name!r}")
            self._tools[tool.name] = tool

    @property
    def schemas(self) -> list[ToolSchema]:
        return [t.schema for t in self._tools.values()]

    def __len__(self) -> int:
        return len(self._tools)

    async def call(self, call_id: str, name: str, arguments: str) -> ToolOutput:
        tool = self._tools.get(name)
        if tool is None:
            logger.warning("model called unknown tool %r", name)
            known = ", ".join(sorted(self._tools)) or "none"
            return ToolOutput(
                call_id=call_id,
                name=name,
                output=f"unknown tool {name!r}; available tools: {known}",
                is_error=True,
            )
        return await tool.call(call_id, arguments)
