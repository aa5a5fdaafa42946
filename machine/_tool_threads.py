"""The threads plain (sync) tools run on: bounded, daemon, never waited for.

Not ``asyncio.to_thread``: the loop's default executor is shared with the socket's DNS
lookups (a few hung tools starved a reconnect), and its threads, like every
``ThreadPoolExecutor``'s, are joined at interpreter exit (one hung tool kept a finished
process alive). Here at most ``max_workers`` daemon threads run tools; a call that is
cancelled returns at once and its thread, if the tool is running, is abandoned: counted,
logged, and left to finish (or to die with the process).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["Outcome", "ToolThreads", "ToolThreadsClosed"]

logger = logging.getLogger("turnstile.tools")

T = TypeVar("T")


class ToolThreadsClosed(Exception):
    """The threads were shut down before (or while) the call ran."""


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What a thread hands back. An exception travels as a value: a Future refuses some
    (``set_exception(StopIteration())`` raises), and a call must never be left unsettled."""

    value: T | None = None
    error: BaseException | None = None


@dataclass(eq=False)
class _Job(Generic[T]):
    label: str
    fn: Callable[[], T]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Outcome[T]]
    started: float | None = None
    abandoned: bool = False
    done: bool = False

    def given_up(self) -> bool:
        # The future is read from a worker thread too: cancel() sets its state at once,
        # while the done callback that sets ``abandoned`` runs a loop turn later.
        return self.abandoned or self.future.cancelled()

    def settle(self, outcome: Outcome[T]) -> None:
        """Hand ``outcome`` to the awaiting call, from any thread, if anyone still waits."""

        def _set() -> None:
            if not self.future.done():
                self.future.set_result(outcome)

        try:
            self.loop.call_soon_threadsafe(_set)
        except RuntimeError:
            pass  # the loop is closed: nobody is waiting any more


class ToolThreads:
    """At most ``max_workers`` daemon threads, started on demand."""

    def __init__(self, max_workers: int = 4, name_prefix: str = "turnstile-tool") -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.max_workers = max_workers
        self._prefix = name_prefix
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Job[Any] | None] = queue.SimpleQueue()
        self._live = 0  # threads started that have not exited
        self._idle = 0  # of those, waiting for a job
        self._queued = 0  # jobs in the queue no thread has taken yet
        self._running: set[_Job[Any]] = set()
        self._closed = False

    @property
    def threads(self) -> int:
        """Threads alive (idle, running a tool, or abandoned to a tool that hangs)."""
        with self._lock:
            return self._live

    @property
    def abandoned(self) -> int:
        """Threads still running a tool whose call was cancelled or closed."""
        with self._lock:
            return sum(job.given_up() for job in self._running)

    def submit(self, label: str, fn: Callable[[], T]) -> asyncio.Future[Outcome[T]]:
        """Run ``fn`` on a tool thread; cancelling the future abandons the job."""
        loop = asyncio.get_running_loop()
        job: _Job[T] = _Job(label, fn, loop, loop.create_future())
        with self._lock:
            if self._closed:
                raise ToolThreadsClosed("the tool threads are shut down")
            if self._queued + 1 > self._idle and self._live < self.max_workers:
                try:
                    self._start_thread()
                except RuntimeError:
                    if self._live == 0:
                        raise  # nothing would ever take the job
            elif self._live == self.max_workers and self._idle == 0:
                held = sum(j.given_up() for j in self._running)
                if held == self.max_workers:
                    logger.warning(
                        "sync tool %s waits: all %d tool threads are held by abandoned tools",
                        label, held,
                    )
            self._queue.put(job)
            self._queued += 1
        job.future.add_done_callback(lambda _: self._on_call_done(job))
        return job.future

    def close(self) -> None:
        """Stop taking jobs; fail the waiting ones and let go of the running ones, now."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pending: list[_Job[Any]] = []
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    pending.append(item)
            self._queued = 0
            running = [job for job in self._running if not job.given_up()]
            for job in running:
                job.abandoned = True
            for _ in range(self._live):
                self._queue.put(None)  # one each: idle threads exit now, busy ones after
            abandoned = sum(j.abandoned for j in self._running)
        closed = Outcome[object](error=ToolThreadsClosed("the tools were closed"))
        for job in pending + running:
            job.settle(closed)
        if abandoned:
            logger.warning(
                "tool threads closed with %d tool(s) still running; their threads are "
                "abandoned (daemon threads: they do not delay exit)", abandoned,
            )

    # Internals ------------------------------------------------------------------------
    def _start_thread(self) -> None:
        thread = threading.Thread(
            target=self._work, name=f"{self._prefix}-{next(self._numbers)}", daemon=True
        )
        thread.start()  # may raise RuntimeError (no threads left): nothing is counted yet
        self._live += 1

    def _work(self) -> None:
        try:
            while (job := self._next_job()) is not None:
                self._run(job)
        finally:
            with self._lock:
                self._live -= 1

    def _next_job(self) -> _Job[Any] | None:
        """The next job to run, or None (shut down); jobs given up while queued are skipped."""
        while True:
            with self._lock:
                self._idle += 1
            job = self._queue.get()
            with self._lock:
                self._idle -= 1
                if job is None:
                    return None
                self._queued -= 1
                if not job.given_up():
                    job.started = time.monotonic()
                    self._running.add(job)
                    return job

    def _run(self, job: _Job[Any]) -> None:
        try:
            outcome = Outcome[object](value=job.fn())
        except BaseException as exc:  # noqa: BLE001 - it travels to the awaiting call
            outcome = Outcome[object](error=exc)
        with self._lock:
            self._running.discard(job)
            job.done = True
            abandoned = job.given_up()
        if abandoned:
            elapsed = time.monotonic() - (job.started or 0.0)
            logger.info("abandoned tool %s finished after %.1f s", job.label, elapsed)
            return
        job.settle(outcome)

    def _on_call_done(self, job: _Job[Any]) -> None:
        if not job.future.cancelled():
            return
        with self._lock:
            running = job.started is not None and not job.done and not job.abandoned
            job.abandoned = True
            count = sum(j.given_up() for j in self._running)
        if running:
            logger.warning(
                "call to sync tool %s was cancelled while it ran; its thread is abandoned "
                "(%d abandoned tool thread(s) running)", job.label, count,
            )
