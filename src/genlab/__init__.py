"""genlab: train, sample, complete, compare and explore deep generative models.

import genlab
run = genlab.load("runs/vae")          # model + config + palette, ready to sample
images = run.model.sample(16)          # uint8 (16, C, H, W)
"""

__version__ = "0.1.0"


def load(run, device="cpu"):
    """Rebuild a trained model from its run folder; see `genlab.train.runs.LoadedRun`."""
    from genlab.train.runs import load as _load

    return _load(run, device=device)
