"""The replayed agent's tools: named and described as recorded, answering as recorded.

A tool's declaration comes from the configuration the agent opened with (OpenAI's
``session.update``, Gemini's ``setup``), its answers from the outputs the agent sent
(OpenAI's ``function_call_output`` items, Gemini's ``toolResponse``), by call id. Each
answer comes as late as it did in the recording (from the server frame that asked for the
call to the frame that answered it), divided by the replay's speed.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, create_model

from turnstile.machine import Tool, ToolOutput, ToolSchema

from ._format import Recording

__all__ = ["replay_tools"]


class _Args(BaseModel):
    model_config = ConfigDict(extra="allow")


class _RecordedTool(Tool):
    def __init__(self, schema: ToolSchema, outputs: dict[str, tuple[ToolOutput, float]], speed: float) -> None:
        args = create_model(f"{schema.name}_args", __base__=_Args)
        super().__init__(self._never, schema.name, schema.description, args)
        self.schema = schema
        self._outputs = outputs
        self._speed = speed

    @staticmethod
    def _never(**_: Any) -> None:  # calls are answered by ``call``; this is never run
        raise NotImplementedError

    async def call(self, call_id: str, arguments: str, **_: Any) -> ToolOutput:
        found = self._outputs.get(call_id)
        if found is None:
            return ToolOutput(
                call_id=call_id, name=self.name, is_error=True,
                output=f"replay: the recording has no output for {self.name} call {call_id}",
            )  # fmt: skip
        output, delay = found
        if delay > 0:
            await asyncio.sleep(delay / self._speed)  # as long as the tool took when recorded
        return output


def replay_tools(rec: Recording, speed: float) -> list[Tool]:
    schemas = _declared(rec)
    outputs = _outputs(rec)
    names = [str(n) for n in rec.header.get("tools", [])]
    tools: list[Tool] = []
    for name in names or list(schemas):
        schema = schemas.get(name) or ToolSchema(name=name, parameters={"type": "object", "properties": {}})
        tools.append(_RecordedTool(schema, {k: v for k, v in outputs.items() if v[0].name == name}, speed))
    return tools


def _client_objects(rec: Recording) -> list[tuple[float, dict[str, Any]]]:
    out = []
    for ev in rec.frames("client"):
        try:
            obj = json.loads(ev["text"])
        except ValueError:
            continue
        if isinstance(obj, dict):
            out.append((float(ev["t"]), obj))
    return out


def _declared(rec: Recording) -> dict[str, ToolSchema]:
    found: dict[str, ToolSchema] = {}
    for _, obj in _client_objects(rec):
        session = obj.get("session") if obj.get("type") == "session.update" else None
        if isinstance(session, dict):
            for tool in session.get("tools") or []:
                if isinstance(tool, dict) and "name" in tool:
                    found.setdefault(str(tool["name"]), _schema(tool, tool.get("parameters")))
        setup = obj.get("setup")
        if isinstance(setup, dict):
            for group in setup.get("tools") or []:
                for decl in (group or {}).get("functionDeclarations") or []:
                    if isinstance(decl, dict) and "name" in decl:
                        params = decl.get("parametersJsonSchema", decl.get("parameters"))
                        found.setdefault(str(decl["name"]), _schema(decl, params))
    return found


def _schema(decl: dict[str, Any], params: object) -> ToolSchema:
    return ToolSchema(
        name=str(decl["name"]), description=str(decl.get("description") or ""),
        parameters=params if isinstance(params, dict) else {"type": "object", "properties": {}},
    )  # fmt: skip


def _outputs(rec: Recording) -> dict[str, tuple[ToolOutput, float]]:
    """call id -> (the output sent, seconds from the call's first mention to the output)."""
    asked: dict[str, tuple[str, float]] = {}  # call id -> (name, when the server asked)
    for ev in rec.frames("server"):
        for call_id, name in _calls(ev["text"]):
            asked.setdefault(call_id, (name, float(ev["t"])))
    out: dict[str, tuple[ToolOutput, float]] = {}
    for t, obj in _client_objects(rec):
        for output in _sent(obj, asked):
            name, at = asked.get(output.call_id, (output.name, t))
            out.setdefault(output.call_id, (output.model_copy(update={"name": name}), max(0.0, t - at)))
    return out


def _calls(text: str) -> list[tuple[str, str]]:
    if '"call_id"' not in text and '"toolCall"' not in text:
        return []
    try:
        obj = json.loads(text)
    except ValueError:
        return []
    if not isinstance(obj, dict):
        return []
    item = obj.get("item")
    if isinstance(item, dict) and item.get("type") == "function_call" and "call_id" in item:
        return [(str(item["call_id"]), str(item.get("name", "")))]
    if obj.get("type") == "response.function_call_arguments.done" and "call_id" in obj:
        return [(str(obj["call_id"]), str(obj.get("name", "")))]
    calls = (obj.get("toolCall") or {}).get("functionCalls") if isinstance(obj.get("toolCall"), dict) else None
    return [(str(c["id"]), str(c.get("name", ""))) for c in calls or [] if isinstance(c, dict) and "id" in c]


def _sent(obj: dict[str, Any], asked: dict[str, tuple[str, float]]) -> list[ToolOutput]:
    item = obj.get("item")
    is_output = isinstance(item, dict) and item.get("type") == "function_call_output" and "call_id" in item
    if obj.get("type") == "conversation.item.create" and is_output:
        assert isinstance(item, dict)
        call_id = str(item["call_id"])
        name = asked.get(call_id, ("", 0.0))[0]
        return [ToolOutput(call_id=call_id, name=name, output=str(item.get("output", "")))]
    response = obj.get("toolResponse")
    if not isinstance(response, dict):
        return []
    out = []
    for fr in response.get("functionResponses") or []:
        if isinstance(fr, dict) and "id" in fr:
            out.append(_gemini_output(str(fr["id"]), str(fr.get("name", "")), fr.get("response")))
    return out


def _gemini_output(call_id: str, name: str, response: object) -> ToolOutput:
    # The inverse of the Gemini session's _response: {"output": value} or {"error": text}.
    if isinstance(response, dict) and "error" in response:
        return ToolOutput(call_id=call_id, name=name, output=str(response["error"]), is_error=True)
    value = response.get("output") if isinstance(response, dict) else response
    if isinstance(value, str):
        return ToolOutput(call_id=call_id, name=name, output=value)
    return ToolOutput(call_id=call_id, name=name, output=json.dumps(value), data=value)
