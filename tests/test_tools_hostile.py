"""Hostile tools: whatever a tool returns, raises or hangs on, a call ends in a bounded, clear
output, sync tools run on the toolbox's own daemon threads, and closing never waits for them."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import enum
import logging
import re
import subprocess
import sys
import textwrap
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict

from turnstile.adapters.local import LocalRoom
from turnstile.adapters.scripted import ScriptedRealtime
from turnstile.machine import FunctionCall, RealtimeAgent, Tool, Toolbox, ToolCallsRequested

ADDRESS = re.compile(r"0x[0-9a-f]{6,}")
HANG_S = 10.0  # a hung tool's own bound, so that a broken build fails instead of hanging


class StrRaises:
    def __str__(self) -> str:
        raise RuntimeError("__str__ is broken")

    __repr__ = __str__


class ErrorStrRaises(Exception):
    def __str__(self) -> str:
        raise RuntimeError("__str__ is broken")


class Opaque(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    handle: object


@dataclasses.dataclass
class Node:
    name: str
    next: Node | None = None


class Colour(enum.Enum):
    RED = "red"


def circular_dict() -> object:
    d: dict[str, object] = {"name": "loop"}
    d["self"] = d
    return d


def circular_dataclass() -> object:
    a = Node("a")
    a.next = Node("b", a)
    return a


def nested(depth: int) -> object:
    x: list[object] = []
    for _ in range(depth):
        x = [x]
    return x


def deep() -> object:
    return nested(100_000)


def str_raises() -> object:
    return StrRaises()


def opaque_model() -> object:
    return Opaque(handle=StrRaises())


def plain_object() -> object:
    return {"rows": [object()]}


def raises_unprintable() -> object:
    raise ErrorStrRaises()


class Shutdown(BaseException):
    """A BaseException that is not KeyboardInterrupt, SystemExit or CancelledError."""


def raises_base_exception() -> object:
    raise Shutdown("stop")


def raises_stop_iteration() -> object:
    raise StopIteration  # a Future refuses it as an exception: it must still settle


async def raises_cancelled_by_itself() -> object:
    raise asyncio.CancelledError  # not a cancellation of the call: the tool's own failure


def big_text() -> str:
    return "x" * 50_000_000


def big_list() -> object:
    return ["row" * 100] * 200_000  # 50+ MB as JSON


HOSTILE: list[Callable[..., object]] = [
    circular_dict, circular_dataclass, deep, str_raises, opaque_model, plain_object,
    raises_unprintable, raises_base_exception, raises_stop_iteration,
    raises_cancelled_by_itself, big_text, big_list,
]


async def call(toolbox: Toolbox, name: str, arguments: str = "{}", **kw: float) -> tuple[bool, str]:
    async with asyncio.timeout(20):
        out = await toolbox.call("c1", name, arguments, **kw)
    assert out.call_id == "c1" and out.name == name
    return out.is_error, out.output


def assert_readable(message: str) -> None:
    """Short, no memory address, no traceback: what the model can use."""
    assert len(message) < 400, message
    assert not ADDRESS.search(message), message
    assert "Traceback" not in message and "\n" not in message, message


@pytest.mark.parametrize(
    ("tool", "expected"),
    [
        (circular_dict, "circular_dict returned a structure that contains itself"),
        (circular_dataclass, "circular_dataclass returned a structure that contains itself"),
        (deep, "deep returned a structure nested too deeply to send"),
        (str_raises, "str_raises returned a value of type StrRaises, which cannot be sent"),
        (opaque_model, "Unable to serialize unknown type"),
        (plain_object, "plain_object returned a dict containing a value of type object"),
        (raises_unprintable, "raises_unprintable failed: ErrorStrRaises"),
        (raises_base_exception, "raises_base_exception failed: Shutdown: stop"),
        (raises_stop_iteration, "raises_stop_iteration failed: StopIteration"),
        (raises_cancelled_by_itself, "raises_cancelled_by_itself failed: CancelledError"),
        (big_text, "the result of big_text is larger than 65536 bytes, the limit"),
        (big_list, "the result of big_list is larger than 65536 bytes, the limit"),
    ],
    ids=lambda v: getattr(v, "__name__", "msg"),
)
async def test_a_hostile_result_becomes_a_clear_error_output(
    tool: Callable[..., object], expected: str, caplog: pytest.LogCaptureFixture
) -> None:
    toolbox = Toolbox([tool])
    with caplog.at_level(logging.WARNING, logger="turnstile.tools"):
        is_error, output = await call(toolbox, tool.__name__)
    assert is_error
    assert expected in output
    assert_readable(output)
    # The details go to the log instead.
    assert any(r.name == "turnstile.tools" and tool.__name__ in r.getMessage() for r in caplog.records)
    await toolbox.aclose()


async def test_a_tool_that_raises_is_logged_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    toolbox = Toolbox([raises_unprintable])
    with caplog.at_level(logging.ERROR, logger="turnstile.tools"):
        is_error, output = await call(toolbox, "raises_unprintable")
    assert is_error and "Traceback" not in output
    [record] = [r for r in caplog.records if r.name == "turnstile.tools"]
    assert record.exc_info is not None and record.exc_info[0] is ErrorStrRaises
    await toolbox.aclose()


async def test_a_failure_inside_the_toolbox_still_ends_in_an_output(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug in the serialiser itself (injected here) is a last-guard error output."""

    def broken(name: str, result: object, max_bytes: int) -> str:
        raise AssertionError("serialiser bug")

    monkeypatch.setattr("turnstile.machine._tools.result_text", broken)

    async def answer() -> int:
        return 42

    toolbox = Toolbox([answer, raises_stop_iteration])
    with caplog.at_level(logging.CRITICAL, logger="turnstile.tools"):
        assert await call(toolbox, "answer") == (True, "answer failed: internal error")
        assert await call(toolbox, "raises_stop_iteration") == (
            True, "raises_stop_iteration failed: StopIteration"
        )
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.CRITICAL] == [
        "tool answer: a failure escaped the toolbox"
    ]
    await toolbox.aclose()


async def test_one_hostile_tool_does_not_cost_the_batch_its_outputs() -> None:
    """Through the runtime: the circular result used to kill the batch task (no outputs)."""

    def add(a: int, b: int) -> int:
        return a + b

    provider, room = ScriptedRealtime(), LocalRoom()
    agent = RealtimeAgent(provider, tools=[add, circular_dict])
    await agent.start(room)
    await agent.wait_for_state("listening")
    s = provider.last_session
    s.emit(ToolCallsRequested(calls=(
        FunctionCall(call_id="c1", name="circular_dict", arguments="{}"),
        FunctionCall(call_id="c2", name="add", arguments='{"a": 1, "b": 2}'),
    )))
    sent = await s.wait_sent("send_tool_outputs")
    first, second = sent.args["outputs"]
    assert (first.call_id, first.is_error) == ("c1", True)
    assert first.output == "circular_dict returned a structure that contains itself"
    assert (second.call_id, second.is_error, second.output) == ("c2", False, "3")
    await agent.aclose()
    await room.aclose()


class Reading(BaseModel):
    at: datetime.date
    value: float


@dataclasses.dataclass
class Report:
    when: datetime.datetime
    tags: set[str]
    colour: Colour
    blob: bytes
    readings: tuple[Reading, ...]
    count: np.int64


def report() -> Report:
    return Report(
        datetime.datetime(2024, 5, 1, 12, 30), {"b", "a"}, Colour.RED, b"\x00" * 2048,
        (Reading(at=datetime.date(2024, 5, 1), value=1.5),), np.int64(7),
    )


async def test_common_types_are_serialised_readably() -> None:
    toolbox = Toolbox([report])
    is_error, output = await call(toolbox, "report")
    await toolbox.aclose()
    assert not is_error
    assert output == (
        '{"when": "2024-05-01T12:30:00", "tags": ["a", "b"], "colour": "red", '
        '"blob": "<binary data, 2048 bytes>", "readings": [{"at": "2024-05-01", "value": 1.5}], '
        '"count": 7}'
    )


async def test_a_large_result_is_refused_before_it_is_serialised_whole() -> None:
    def rows() -> object:
        # Past the limit, an object the encoder would refuse: reaching it means the
        # encoder did not stop at the limit (and a 50 MB result would be built whole).
        return ["row"] * 10_000 + [object()]

    toolbox = Toolbox([rows], max_result_bytes=1000)
    is_error, output = await call(toolbox, "rows")
    assert is_error and output == "the result of rows is larger than 1000 bytes, the limit; it was not sent"
    await toolbox.aclose()


async def test_result_size_is_counted_in_utf8_bytes_at_the_limit() -> None:
    def text(n: int, ch: str) -> str:
        return ch * n

    toolbox = Toolbox([text], max_result_bytes=1000)
    assert await call(toolbox, "text", '{"n": 1000, "ch": "a"}') == (False, "a" * 1000)
    is_error, output = await call(toolbox, "text", '{"n": 1001, "ch": "a"}')
    assert is_error and "larger than 1000 bytes" in output
    is_error, output = await call(toolbox, "text", '{"n": 500, "ch": "é"}')  # 1000 bytes
    assert not is_error
    is_error, output = await call(toolbox, "text", '{"n": 501, "ch": "é"}')  # 1002 bytes
    assert is_error and "larger than 1000 bytes" in output
    await toolbox.aclose()


async def test_oversized_arguments_are_refused_without_calling_the_tool() -> None:
    calls: list[int] = []

    def echo(text: str) -> int:
        calls.append(len(text))
        return len(text)

    toolbox = Toolbox([echo])
    five_mb = '{"text": "' + "x" * 5_000_000 + '"}'
    is_error, output = await call(toolbox, "echo", five_mb)
    assert is_error and "arguments for echo are larger than 262144 bytes" in output
    assert_readable(output)
    deeply = '{"text": ' + "[" * 100_000 + "]" * 100_000 + "}"  # under the cap, 100k deep
    is_error, output = await call(toolbox, "echo", deeply)
    assert is_error and output == "invalid arguments for echo: JSON nested too deeply"
    assert calls == []
    assert await call(toolbox, "echo", '{"text": "hi"}') == (False, "2")
    await toolbox.aclose()


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="positive"):
        Toolbox(max_result_bytes=0)
    with pytest.raises(ValueError, match="positive"):
        Toolbox(max_arguments_bytes=1)
    with pytest.raises(ValueError, match="max_workers"):
        Toolbox(max_workers=0)


async def test_system_exit_from_a_sync_tool_is_not_swallowed() -> None:
    def quit_now() -> str:
        raise SystemExit(3)

    toolbox = Toolbox([quit_now])
    with pytest.raises(SystemExit):
        await toolbox.call("c1", "quit_now", "{}")
    await toolbox.aclose()


# Hanging tools -------------------------------------------------------------------------
class Hang:
    """A sync tool that blocks until released (or HANG_S), reporting each start to the loop."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.release = threading.Event()
        self.started: asyncio.Queue[str] = asyncio.Queue()
        self.finished = threading.Event()
        self.ran: list[str] = []

    def __call__(self, tag: str = "") -> str:
        self.ran.append(tag)
        self.loop.call_soon_threadsafe(self.started.put_nowait, threading.current_thread().name)
        self.release.wait(HANG_S)
        self.finished.set()
        return "late"

    async def wait_started(self, n: int = 1) -> list[str]:
        async with asyncio.timeout(5):
            return [await self.started.get() for _ in range(n)]

    def tool(self) -> Tool:
        def hang(tag: str = "") -> str:
            return self(tag)

        return Tool.from_function(hang)


@pytest.fixture
async def hang() -> AsyncIterator[Hang]:
    h = Hang()
    yield h
    h.release.set()  # never leave a thread behind for the next test


async def test_a_cancelled_sync_call_returns_at_once_and_aclose_does_not_wait(hang: Hang) -> None:
    toolbox = Toolbox([hang.tool()])
    task = asyncio.create_task(toolbox.call("c1", "hang", "{}"))
    [thread_name] = await hang.wait_started()
    assert thread_name.startswith("turnstile-tool")
    task.cancel()
    async with asyncio.timeout(2):  # the thread hangs for HANG_S: the call does not wait
        with pytest.raises(asyncio.CancelledError):
            await task
    assert toolbox.abandoned_threads == 1
    async with asyncio.timeout(2):
        await toolbox.aclose()
    # aclose returned while the tool still hangs: it did not wait for the thread.
    assert not hang.finished.is_set()
    assert toolbox.abandoned_threads == 1
    assert (await call(toolbox, "hang"))[1] == "hang was not run: the tools are shut down"


async def test_a_hung_tool_times_out_into_an_error_output(hang: Hang) -> None:
    cleaned_up = asyncio.Event()

    async def hang_async() -> str:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned_up.set()  # cancelled cleanly: its finally ran
        return "never"

    toolbox = Toolbox([hang.tool(), hang_async])
    is_error, output = await call(toolbox, "hang_async", timeout_s=0.05)
    assert (is_error, output) == (True, "hang_async did not return within 0.05 s")
    assert cleaned_up.is_set()
    is_error, output = await call(toolbox, "hang", timeout_s=0.05)
    assert (is_error, output) == (True, "hang did not return within 0.05 s")
    assert toolbox.abandoned_threads == 1
    await toolbox.aclose()


async def test_a_cancelled_async_call_cancels_the_tool() -> None:
    entered, cleaned_up = asyncio.Event(), asyncio.Event()

    async def slow() -> str:
        entered.set()
        try:
            await asyncio.Event().wait()
        finally:
            cleaned_up.set()
        return "never"

    toolbox = Toolbox([slow])
    task = asyncio.create_task(toolbox.call("c1", "slow", "{}"))
    async with asyncio.timeout(5):
        await entered.wait()
    task.cancel()
    async with asyncio.timeout(5):
        with pytest.raises(asyncio.CancelledError):
            await task
    assert cleaned_up.is_set()
    await toolbox.aclose()


async def test_sync_tools_share_a_bounded_pool_and_a_cancelled_queued_call_never_runs(
    hang: Hang,
) -> None:
    toolbox = Toolbox([hang.tool()], max_workers=2)
    first = [asyncio.create_task(toolbox.call(f"c{i}", "hang", f'{{"tag": "t{i}"}}')) for i in range(2)]
    await hang.wait_started(2)
    queued = asyncio.create_task(toolbox.call("cq", "hang", '{"tag": "queued"}'))
    await asyncio.sleep(0)  # one loop turn, no time: the new task runs up to its await
    assert toolbox._threads.threads == 2  # no third thread for it
    queued.cancel()
    hang.release.set()
    async with asyncio.timeout(5):
        assert [(await t).output for t in first] == ["late", "late"]
        assert await call(toolbox, "hang", '{"tag": "after"}') == (False, "late")
    assert "queued" not in hang.ran and hang.ran[-1] == "after"
    assert toolbox._threads.threads == 2
    await toolbox.aclose()


async def test_aclose_ends_calls_still_queued_with_an_error_output(hang: Hang) -> None:
    toolbox = Toolbox([hang.tool()], max_workers=1)
    running = asyncio.create_task(toolbox.call("c1", "hang", "{}"))
    await hang.wait_started()
    queued = asyncio.create_task(toolbox.call("c2", "hang", "{}"))
    await asyncio.sleep(0)  # one loop turn, no time: the new task runs up to its await
    await toolbox.aclose()
    async with asyncio.timeout(2):
        outs = [await running, await queued]
    assert [(o.is_error, o.output) for o in outs] == [
        (True, "hang was stopped: the tools were shut down"),
        (True, "hang was stopped: the tools were shut down"),
    ]
    assert hang.ran == [""]  # the queued one never ran


async def test_six_hung_sync_tools_do_not_starve_the_loops_default_executor(hang: Hang) -> None:
    loop = asyncio.get_running_loop()
    # The default executor's size on a 2-core machine (min(32, cpus + 4)), whatever this one has.
    loop.set_default_executor(ThreadPoolExecutor(max_workers=6))
    toolbox = Toolbox([hang.tool()])
    calls = [asyncio.create_task(toolbox.call(f"c{i}", "hang", "{}")) for i in range(6)]
    await hang.wait_started(4)
    async with asyncio.timeout(5):
        assert await loop.run_in_executor(None, lambda: 42) == 42
        assert await loop.getaddrinfo("127.0.0.1", 80)  # what a reconnect's DNS lookup uses
    assert toolbox._threads.threads == 4
    for task in calls:
        task.cancel()
    await asyncio.gather(*calls, return_exceptions=True)
    await toolbox.aclose()


def test_a_hung_sync_tool_does_not_delay_process_exit() -> None:
    script = textwrap.dedent(
        """
        import asyncio, threading
        from turnstile.machine import Toolbox

        def hang() -> str:
            threading.Event().wait(120)
            return "late"

        async def main() -> None:
            toolbox = Toolbox([hang])
            out = await toolbox.call("c1", "hang", "{}", timeout_s=0.1)
            print(out.output, flush=True)
            await toolbox.aclose()

        asyncio.run(main())
        print("exiting", flush=True)
        """
    )
    # The tool hangs for 120 s; a process that waits for its thread blows the 30 s bound.
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["hang did not return within 0.1 s", "exiting"]
