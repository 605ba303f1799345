"""Jobs side by side: one child process per job, at most `slots` at once, the longest first.

`genlab compare` (and so the demo) trains its families this way and `genlab lecture` runs its
sections this way, so every core the process may use is at work (core/threads.py gives each child
its share of the cores). A freed slot is taken at once by the longest job still waiting. Each
child's output reaches `say` as whole lines prefixed with the job's name, never two lines torn
into one. A job that fails does not stop the others: its exit code and last lines come back in its
`Result`. Ctrl-C (SIGINT to this process) is handed on to every child, which is given a few seconds
to stop, then killed; the KeyboardInterrupt then goes on to the caller, who removes what the
children left half-made.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Sequence

from genlab.core import threads

GRACE_SECONDS = 5.0  # how long an interrupted child may take to stop before it is killed
TAIL = 20  # last lines of a child kept for its error report


@dataclass(frozen=True)
class Job:
    """One child process: `argv` to run, `cost` (any unit, the same for all jobs) to order them."""

    name: str
    argv: Sequence[str]
    cost: float = 1.0
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Result:
    """How a job ended: exit code, wall and CPU seconds (user + system, from wait4), last lines."""

    name: str
    returncode: int
    wall_seconds: float
    cpu_seconds: float
    tail: list[str]

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def why(self) -> str:
        """The child's own error line if it printed one, else its exit code."""
        said = [line for line in self.tail if "error" in line.lower()]
        return (said[-1] if said else self.tail[-1] if self.tail else "") or f"exit code {self.returncode}"


def child(work: Callable[[], None]) -> None:
    """The body of a child process: run `work`, print a user error as the one line the command line
    prints, and leave with 0, 2 (a user error), 130 (Ctrl-C) or 1 (a bug: its traceback printed),
    skipping the interpreter's teardown (seconds with torch loaded; every file is written and closed)."""
    import traceback

    from genlab.core.errors import GenlabError

    code = 0
    try:
        work()
    except GenlabError as exc:
        print(f"genlab: error: {exc}", flush=True)
        code = getattr(exc, "exit_code", 2)
    except OSError as exc:  # a file that cannot be read or written, as the command line says it
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"genlab: error: {where}{exc.strerror or exc}", flush=True)
        code = 2
    except KeyboardInterrupt:
        code = 130
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def default_slots() -> int:
    """As many jobs at once as this process has cores."""
    return threads.cores()


def run_jobs(
    jobs: Sequence[Job],
    slots: int | None = None,
    say: Callable[[str], None] = print,
    on_done: Callable[[Result], None] | None = None,
    poll: float = 0.05,
    on_start: Callable[[Job], None] | None = None,
    tick: Callable[[], None] | None = None,
) -> list[Result]:
    """Run `jobs` at most `slots` at once (default: this process's cores), the costliest first;
    returns their results in the order given. `on_start` and `on_done` are called in this thread as
    each starts and ends, `tick` every `poll` seconds between (a caller's progress display)."""
    slots = max(1, min(slots or default_slots(), len(jobs) or 1))
    waiting = deque(sorted(jobs, key=lambda j: -j.cost))
    running: dict[int, _Child] = {}
    results: dict[str, Result] = {}
    lock = threading.Lock()

    def tell(line: str) -> None:
        with lock:
            say(line)

    try:
        while waiting or running:
            while waiting and len(running) < slots:
                child = _Child.start(waiting.popleft(), slots, tell)
                running[child.process.pid] = child
                if on_start:
                    on_start(child.job)
            for pid, child in list(running.items()):
                result = child.reap()
                if result is not None:
                    del running[pid]
                    results[result.name] = result
                    if on_done:
                        on_done(result)
            if tick:
                tick()
            time.sleep(poll)
    except BaseException:
        _stop(list(running.values()))
        raise
    return [results[j.name] for j in jobs]


@dataclass
class _Child:
    job: Job
    process: subprocess.Popen
    reader: threading.Thread
    started: float
    tail: deque

    @classmethod
    def start(cls, job: Job, slots: int, tell: Callable[[str], None]) -> "_Child":
        env = {**os.environ, threads.SHARING: str(slots), "PYTHONUNBUFFERED": "1", **job.env}
        process = subprocess.Popen(
            list(job.argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
            errors="replace",
            bufsize=1,
        )
        tail: deque = deque(maxlen=TAIL)

        def read() -> None:
            for line in process.stdout:  # whole lines only; a bar's carriage returns are cut to their last state
                line = line.rstrip("\n").rsplit("\r", 1)[-1].rstrip()
                if line:
                    tail.append(line)
                    tell(f"[{job.name}] {line}")

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        tell(f"[{job.name}] started")
        return cls(job, process, reader, time.monotonic(), tail)

    def reap(self) -> Result | None:
        """The result once the child has ended (its rusage read by wait4), else None."""
        pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
        if pid == 0:
            return None
        self.process.returncode = os.waitstatus_to_exitcode(status)
        self.reader.join(timeout=5)
        return Result(
            self.job.name,
            self.process.returncode,
            time.monotonic() - self.started,
            usage.ru_utime + usage.ru_stime,
            list(self.tail),
        )


def _stop(children: list[_Child]) -> None:
    """SIGINT to every child, then SIGKILL to those still running after GRACE_SECONDS."""
    for child in children:
        if child.process.returncode is None:
            try:
                child.process.send_signal(signal.SIGINT)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + GRACE_SECONDS
    for child in children:
        try:
            child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()
