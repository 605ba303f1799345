"""Bounded model work for the page: at most `Limits.jobs` sampling, decoding or completion jobs run
at once (each in a worker thread); a job waits up to `job_wait_s` for a slot, then gets 429.

`stream_job` runs a job that reports progress (the completion's rows) and yields each report as it
comes; when the page goes away the job is told to stop at its next report and its slot is freed.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any, AsyncIterator, Callable

import anyio

from genlab.serve.limits import Limits
from genlab.serve.sessions import Busy


class Stopped(Exception):
    """Raised inside a job's report callback when nobody listens any more."""


class JobSlots:
    def __init__(self, limits: Limits):
        self.limits = limits
        self._free = asyncio.Semaphore(limits.jobs)
        self.running = 0

    @contextlib.asynccontextmanager
    async def slot(self):
        try:
            await asyncio.wait_for(self._free.acquire(), self.limits.job_wait_s)
        except asyncio.TimeoutError:
            raise Busy(f"{self.limits.jobs} jobs are running already; try again shortly") from None
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1
            self._free.release()

    async def run(self, work: Callable[[], Any]) -> Any:
        async with self.slot():
            return await anyio.to_thread.run_sync(work)

    async def stream_job(self, work: Callable[[Callable[[Any], None]], Any]) -> AsyncIterator[tuple[str, Any]]:
        """Yields ("report", item) for each report(item) the job makes, then ("done", result)."""
        async with self.slot():
            loop = asyncio.get_running_loop()
            reports: asyncio.Queue = asyncio.Queue()
            stop = threading.Event()

            def report(item: Any) -> None:
                if stop.is_set():
                    raise Stopped
                loop.call_soon_threadsafe(reports.put_nowait, ("report", item))

            def run() -> None:
                try:
                    outcome = ("done", work(report))
                except Stopped:
                    outcome = ("stopped", None)
                except Exception as exc:  # handed to the caller, who re-raises it in the event loop
                    outcome = ("failed", exc)
                loop.call_soon_threadsafe(reports.put_nowait, outcome)

            worker = loop.run_in_executor(None, run)
            try:
                while True:
                    kind, item = await reports.get()
                    if kind == "failed":
                        raise item
                    yield kind, item
                    if kind != "report":
                        return
            finally:
                stop.set()
                with anyio.CancelScope(shield=True):
                    await worker  # the slot is held until the thread has really stopped
