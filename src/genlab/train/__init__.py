"""Training: `start` a new run or `resume` one (setup.py, the one path from options to a trained
run) and the `Trainer` that runs the loop (trainer.py)."""

from genlab.train.setup import resume, start
from genlab.train.trainer import Trainer

__all__ = ["start", "resume", "Trainer"]
