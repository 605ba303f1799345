"""One lecture section in a process of its own: `python -m genlab.report.lecture.worker OUT KEY DEVICE
[--quick]`, started by `genlab lecture` (core/jobs.py) beside the other sections. It writes
OUT/runs/KEY/section.json, which the parent puts into lecture.json; progress goes to stdout."""

from __future__ import annotations

import sys
from pathlib import Path

from genlab.core import jobs, threads


def main(argv: list[str]) -> None:
    from genlab.report.lecture import choose, run_section

    out, key, device, *rest = argv
    threads.apply()  # this process's share of the cores (GENLAB_SHARING: the sections beside it)
    jobs.child(
        lambda: run_section(
            Path(out),
            choose(key)[0],
            quick="--quick" in rest,
            device=device,
            say=lambda line: print(line.strip(), flush=True),
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
