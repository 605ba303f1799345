"""What a trained VAE adds to its run folder: reconstructions of test images, and for a 2-D latent
the decoded map (`latent_map.png`) and the test codes coloured by label (`latent_scatter.png`)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from genlab import viz
from genlab.data import Dataset


def after_training(model, run: Path, data: Dataset, say: Callable[[str], None]) -> None:
    model.eval()
    test = data.test[:16]
    viz.save_grid(viz.interleave_rows(test, model.reconstruct(test), 8), run / "reconstructions.png", nrow=8)
    say(f"reconstructions: {run / 'reconstructions.png'} (rows 1 and 3: test images; 2 and 4: reconstructions)")
    if getattr(model.config, "latent", None) == 2:
        viz.save_grid(model.latent_grid(15), run / "latent_map.png", nrow=15)
        viz.save_latent_scatter(model.encode_images(data.test), data.test_labels, run / "latent_scatter.png")
        say(f"2-D latent: {run / 'latent_map.png'} and {run / 'latent_scatter.png'}")
