"""Training: `start` a new run or `resume` one (setup.py, the one path from options to a trained
run) and the `Trainer` that runs the loop (trainer.py) on a run's `TrainingData` (training_data.py)."""

from genlab.train.setup import resume, start
from genlab.train.trainer import Trainer
from genlab.train.training_data import TrainingData

__all__ = ["start", "resume", "Trainer", "TrainingData"]
