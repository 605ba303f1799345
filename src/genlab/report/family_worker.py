"""A compare's family in a child process of its own (started by report/families.py through
core/jobs.py): `python -m genlab.report.family_worker train|evaluate REQUEST`, REQUEST as JSON."""

from __future__ import annotations

import json
import sys

from genlab.core import jobs, threads
from genlab.report.evaluation import evaluate_piece
from genlab.report.families import TrainRequest, train_family


def main(argv: list[str]) -> None:
    """`train REQUEST` or `evaluate REQUEST`; exits as core/jobs.py's `child` says."""
    stage, request = argv[0], json.loads(argv[1])
    threads.apply(request.get("threads"))  # this process's share of the cores (GENLAB_SHARING: the jobs beside it)
    say = lambda line: print(line, flush=True)  # noqa: E731
    if stage == "train":
        jobs.child(lambda: train_family(TrainRequest(**request), say))
    else:
        jobs.child(lambda: evaluate_piece(request, say))


if __name__ == "__main__":
    main(sys.argv[1:])
