"""How many threads torch uses in a genlab process: the thread policy of the whole project.

torch starts with one thread per physical core of the machine, whatever this process may run on and
however many other processes share the cores. For the small networks genlab trains on a CPU that
is the slow choice: a step of a few hundred MFLOPs splits into pieces too small to pay for waking
and joining the threads, and when the cores are busy with other work every join waits for a core
(measured in bench/README.md, "Threads"). The policy:

    threads = min(cores this process may use / processes sharing them, FLOPs per call / FLOPS_PER_THREAD)

at least 1, where the cores are `os.sched_getaffinity` (a container's or `taskset`'s limit, not the
machine's), the processes are the training processes on this machine (`--nproc`), the jobs that
`compare` and `lecture` run side by side (core/jobs.py), or the page's concurrent jobs (`serve`), and the FLOPs per call are those of one training step when they are known
(`train/work.py` counts them). The count depends only on these, never on the load of the moment,
so a resumed run computes with the same count as the run it continues.

`--threads N` sets it outright; so does OMP_NUM_THREADS in the environment (as for any OpenMP
program), when --threads is not given.
"""

from __future__ import annotations

import os

import torch

from genlab.core.errors import GenlabError

FLOPS_PER_THREAD = 5e10  # work per call (FLOPs) each thread must have: measured in bench/README.md, "Threads"


def cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def choose(flops_per_call: float | None = None, processes: int = 1, cores: int | None = None) -> int:
    """The policy's thread count for one process (see the module docstring); unknown work: its share."""
    share = max(1, (cores or globals()["cores"]()) // max(1, processes))
    if flops_per_call is None:
        return share
    return max(1, min(share, int(flops_per_call // FLOPS_PER_THREAD)))


def requested(threads: int | None) -> int | None:
    """The count a user asked for: --threads, else OMP_NUM_THREADS, else None (the policy decides)."""
    if threads is not None:
        if threads < 1:
            raise GenlabError(f"--threads must be at least 1, not {threads}")
        return threads
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(env) if env.isdigit() and int(env) > 0 else None


SHARING = "GENLAB_SHARING"  # set by core/jobs.py in each child: how many jobs run side by side


def sharing() -> int:
    """How many processes started side by side (`compare --jobs`, the lecture) share this one's cores."""
    value = os.environ.get(SHARING, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else 1


def apply(threads: int | None = None, flops_per_call: float | None = None, processes: int = 1) -> int:
    """Set torch's thread count for this process: the one asked for, else the policy's, counting the
    jobs started beside it (`sharing`); returns it."""
    n = requested(threads) or choose(flops_per_call, processes * sharing())
    if n != torch.get_num_threads():
        torch.set_num_threads(n)
    return n
