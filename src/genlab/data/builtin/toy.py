"""2-D toy point sets `toy:NAME`: seeded draws, the first 8000 train and the last 2000 test.

gmm8 and grid25 are the usual GAN mode-coverage benchmarks (Metz et al. 2017, "Unrolled GANs";
Srivastava et al. 2017, "VEEGAN"): `toy_modes` gives their centres and std so a metric can count
the modes a model covers.
"""

from __future__ import annotations

import numpy as np
import torch

from genlab.core.errors import GenlabError
from genlab.data.dataset import Dataset, points_dataset

TOY_NAMES = ("rings", "gmm8", "grid25", "spiral", "swissroll")
TOY_TRAIN, TOY_TEST = 8000, 2000
TOY_SEED = 0
RING_RADII = (0.5, 1.25, 2.0)
RING_STD = 0.05
SPIRAL_STD = 0.05


def _gmm8_modes() -> tuple[np.ndarray, float]:
    angles = 2 * np.pi * np.arange(8) / 8
    return 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1), 0.02  # (8, 2)


def _grid25_modes() -> tuple[np.ndarray, float]:
    ticks = np.array([-4.0, -2.0, 0.0, 2.0, 4.0])
    gx, gy = np.meshgrid(ticks, ticks, indexing="ij")
    return np.stack([gx.ravel(), gy.ravel()], axis=1), 0.05  # (25, 2), mode i*5+j at (ticks[i], ticks[j])


_MODES = {"gmm8": _gmm8_modes, "grid25": _grid25_modes}


def toy_modes(name: str) -> tuple[torch.Tensor, float] | None:
    """(centres float32 (M, 2), std) for "gmm8" / "grid25" (with or without "toy:"), else None."""
    key = name[len("toy:") :] if name.startswith("toy:") else name
    if key not in _MODES:
        return None
    centres, std = _MODES[key]()
    return torch.from_numpy(centres.astype(np.float32)), std


def _mixture(rng: np.random.Generator, n: int, modes: tuple[np.ndarray, float]):
    centres, std = modes
    labels = rng.integers(len(centres), size=n)
    return centres[labels] + std * rng.standard_normal((n, 2)), labels


def _rings(rng: np.random.Generator, n: int):
    labels = rng.integers(len(RING_RADII), size=n)
    angles = rng.uniform(0, 2 * np.pi, size=n)
    radii = np.asarray(RING_RADII)[labels] + RING_STD * rng.standard_normal(n)
    return radii[:, None] * np.stack([np.cos(angles), np.sin(angles)], axis=1), labels


def _spiral(rng: np.random.Generator, n: int):
    """Two arms, each 1.5 turns out from the centre to radius 2, half a turn apart."""
    labels = rng.integers(2, size=n)
    t = rng.uniform(0, 1, size=n)
    angles = 3 * np.pi * t + np.pi * labels
    radii = 0.1 + 1.9 * t
    points = radii[:, None] * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return points + SPIRAL_STD * rng.standard_normal((n, 2)), labels


def _swissroll(rng: np.random.Generator, n: int):
    """scikit-learn's 3-D swiss roll seen from the side, (x, z) / 6.5: about [-1.6, 2.3]."""
    from sklearn.datasets import make_swiss_roll

    points, _ = make_swiss_roll(n, noise=0.25, random_state=TOY_SEED)
    return points[:, [0, 2]] / 6.5, None


_SAMPLERS = {
    "rings": _rings,
    "gmm8": lambda rng, n: _mixture(rng, n, _gmm8_modes()),
    "grid25": lambda rng, n: _mixture(rng, n, _grid25_modes()),
    "spiral": _spiral,
    "swissroll": _swissroll,
}
_LABEL_NAMES = {
    "rings": [f"ring{i}" for i in range(len(RING_RADII))],
    "gmm8": [f"mode{i}" for i in range(8)],
    "grid25": [f"mode{i}" for i in range(25)],
    "spiral": ["arm0", "arm1"],
}


def load_toy_spec(name: str) -> Dataset:
    if name not in _SAMPLERS:
        raise GenlabError(f"unknown toy set 'toy:{name}'; use one of: " + ", ".join(f"toy:{n}" for n in TOY_NAMES))
    rng = np.random.default_rng(TOY_SEED)
    points, labels = _SAMPLERS[name](rng, TOY_TRAIN + TOY_TEST)
    note = (
        f"{TOY_TRAIN} train / {TOY_TEST} test: {TOY_TRAIN + TOY_TEST} seed-{TOY_SEED} draws, "
        f"the first {TOY_TRAIN} train and the last {TOY_TEST} test"
    )
    y_train = None if labels is None else labels[:TOY_TRAIN]
    y_test = None if labels is None else labels[TOY_TRAIN:]
    return points_dataset(
        f"toy:{name}", points[:TOY_TRAIN], points[TOY_TRAIN:], y_train, y_test, _LABEL_NAMES.get(name), note
    )
