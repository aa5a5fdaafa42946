"""Tool calls, carried out for the chart: each batch is a task, every call ends in an output
the model reads (a timed-out one too), and the call is in the conversation from the moment
it is made, so a reconnect while a tool runs replays the call and its output still lands.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ._chat import ChatMessage
from ._events import FunctionCall
from ._runtime_state import RuntimeState
from ._tools import ToolOutput

__all__ = ["ToolActions"]

logger = logging.getLogger("turnstile.agent")


class ToolActions(RuntimeState):
    """``run_tools`` and ``abandon_tools``, a base of :class:`Runtime`."""

    def run_tools(self, **event: Any) -> None:
        calls: tuple[FunctionCall, ...] = tuple(event.get("calls", ()))
        self.emitter.emit("function_calls_collected", list(calls))
        # The calls join the conversation now, not when they return: a session replayed
        # after a drop must know them, or their outputs are refused ("call_id not found").
        for call in calls:
            self.chat_ctx.messages.append(
                ChatMessage(role="assistant", text=call.arguments, tool_call_id=call.call_id, name=call.name)
            )
        batch = asyncio.get_running_loop().create_task(self._run_tools(calls), name="tools")
        self._tool_batches.add(batch)
        batch.add_done_callback(self._tool_batches.discard)  # however it ends

    async def _run_tools(self, calls: tuple[FunctionCall, ...]) -> None:
        loop = asyncio.get_running_loop()
        withdrawn = [c for c in calls if c.call_id in self.withdrawn_calls]
        if withdrawn:  # the model took them back before the batch began: no run, no output
            for c in withdrawn:
                self.withdrawn_calls.discard(c.call_id)
                logger.info("tool call %s was cancelled by the provider; not answering", c.call_id)
            gone = {c.call_id for c in withdrawn}
            self.chat_ctx.messages = [
                m for m in self.chat_ctx.messages if not (m.role == "assistant" and m.tool_call_id in gone)
            ]
            calls = tuple(c for c in calls if c.call_id not in gone)
        tasks = {c.call_id: loop.create_task(self.toolbox.call(c.call_id, c.name, c.arguments)) for c in calls}
        self._tool_tasks.update(tasks)
        timeout = self.options.tool_timeout_s
        if tasks:
            _, late = await asyncio.wait(tasks.values(), timeout=timeout)
            if late and not self.closed:
                self.send("tool_timeout", call_ids=[cid for cid, t in tasks.items() if t in late])
        outputs: list[ToolOutput] = []
        for call in calls:
            try:
                outputs.append(await tasks[call.call_id])
            except asyncio.CancelledError:
                if self.closed:
                    raise
                if call.call_id in self._timed_out:
                    self._timed_out.discard(call.call_id)
                    outputs.append(ToolOutput(
                        call_id=call.call_id, name=call.name, is_error=True,
                        output=f"{call.name} did not return within {timeout:g} s and was cancelled",
                    ))
                else:  # the model withdrew it: no output, and no call left dangling
                    logger.info("tool call %s was cancelled by the provider; not answering", call.call_id)
                    self.chat_ctx.messages = [
                        m for m in self.chat_ctx.messages
                        if not (m.role == "assistant" and m.tool_call_id == call.call_id)
                    ]
            except Exception as exc:  # the toolbox answers every failure; this is a last guard
                logger.exception("tool call %s failed outside the toolbox", call.call_id)
                outputs.append(ToolOutput(
                    call_id=call.call_id, name=call.name, is_error=True,
                    output=f"{call.name} failed: {type(exc).__name__}",
                ))
            finally:
                self._tool_tasks.pop(call.call_id, None)
        if self.closed:
            return
        for out in outputs:
            self.chat_ctx.messages.append(
                ChatMessage(role="tool", text=out.output, tool_call_id=out.call_id, name=out.name)
            )
        if outputs:
            # Sent now if the socket is up; if it is down, the replay carries the output.
            if self.session is not None:
                self.session.send_tool_outputs(outputs)
            self.unanswered_outputs += len(outputs)
        self.emitter.emit("function_calls_finished", outputs)
        # The chart owes the reply (tools: running -> reply_owed) once the last batch is
        # done, and asks for it when nothing plays and no response is under way.
        self._tool_batches.discard(asyncio.current_task())
        self.send("tools_done")

    def abandon_tools(self, **event: Any) -> None:
        call_ids: list[str] = list(event.get("call_ids", ()))
        names = []
        for call_id in call_ids:
            task = self._tool_tasks.get(call_id)
            if task is not None and not task.done():
                self._timed_out.add(call_id)
                task.cancel()
                names.append(call_id)
        if names:
            seconds = self.options.tool_timeout_s
            self.error("tool_timeout", f"tool calls {', '.join(names)} did not return within {seconds:g} s")
