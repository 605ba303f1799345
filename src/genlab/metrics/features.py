"""The feature space of the sample-quality metrics: a small network genlab trains on the data set.

FID/KID (Heusel et al. 2017; Bińkowski et al. 2018) and precision/recall/density/coverage
(Kynkäänniemi et al. 2019; Naeem et al. 2020) compare sets of images in the feature space of a
network. The papers use Inception-v3 trained on ImageNet; genlab instead trains a small
convolutional network on the evaluation data set itself (as Bińkowski et al. suggest for domains
far from ImageNet): a classifier on the labels when the data set has them, else an autoencoder, and
takes its 128-d penultimate layer. Figures from different feature spaces are not comparable, so
every report names its space: `genlab-classifier:mnist5k:<hash>`.

The network is trained deterministically (fixed seed, fixed number of steps) and cached per data
set under `$GENLAB_CACHE` (default `~/.cache/genlab`) as safetensors, keyed by the spec, the image
shape and a hash of the training split. Images larger than 32 pixels are area-downsampled to at
most 32x32 first. 2-D point sets need no network: their feature space is the points themselves.

The standard FID space, Inception-v3's pool3, is `--features inception` (see `inception.py`).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genlab.core.errors import GenlabError
from genlab.core.tensorfile import DamagedFile, load_verified, save_verified
from genlab.data import Dataset
from genlab.data.cache import cache_dir

VERSION = 2  # bump when the network or its training changes: old cache entries are then ignored
WIDTH = 128  # feature dimension
MAX_SIDE = 32  # larger images are area-downsampled to this
STEPS, BATCH, SEED = 600, 64, 0
TRAININGS = 0  # how many feature networks this process trained (tests check the cache with it)


def work_size(h: int, w: int) -> tuple[int, int]:
    scale = max(h, w) / MAX_SIDE
    return (h, w) if scale <= 1 else (max(1, round(h / scale)), max(1, round(w / scale)))


class FeatureNet(nn.Module):
    """conv trunk -> 128-d features -> class logits (classifier) or pixel logits (autoencoder)."""

    def __init__(self, channels: int, size: tuple[int, int], outputs: int, autoencoder: bool):
        super().__init__()
        self.size, self.autoencoder = size, autoencoder
        first_stride = 2 if min(size) >= 16 else 1  # keep the detail of tiny images
        self.trunk = nn.Sequential(
            nn.Conv2d(channels, 16, 3, stride=first_stride, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),  # (B, 64*4*4)
            nn.Linear(64 * 16, WIDTH),
            nn.ReLU(),
        )
        self.head = nn.Linear(WIDTH, outputs)
        self.register_buffer("scale", torch.ones(()))  # set after training: mean ‖f‖²/D = 1 on the train split

    def inputs(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (B, C, H, W) -> float in [0, 1], (B, C, h, w) at the working size."""
        x = images.to(torch.float32) / 255.0
        return x if tuple(x.shape[2:]) == self.size else F.adaptive_avg_pool2d(x, self.size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images (B, C, H, W) -> features (B, WIDTH); the heads see them unscaled."""
        return self.trunk(self.inputs(images) * 2 - 1)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self(images) * self.scale


@dataclass
class FeatureSpace:
    """`embed(items) -> (N, D)` float features; `name` says which space they live in."""

    name: str
    net: nn.Module | None  # None: the items are their own features (2-D points); else has .features(images)
    batch_size: int = 500

    @torch.no_grad()
    def embed(self, items: torch.Tensor) -> torch.Tensor:
        if self.net is None:
            return items.to(torch.float32)
        device = next(self.net.parameters()).device
        return torch.cat(
            [
                self.net.features(items[i : i + self.batch_size].to(device)).cpu()
                for i in range(0, len(items), self.batch_size)
            ]
        )


def feature_space(data: Dataset, device: torch.device | str = "cpu", quiet: bool = True) -> FeatureSpace:
    """The feature space for `data` (trained on its training split once, then read from the cache)."""
    if data.kind == "points":
        return FeatureSpace("raw:points", None)
    if data.kind != "image":
        raise GenlabError(f"sample metrics need images or 2-D points; {data.spec} holds {data.kind} data")
    labels = data.train_labels
    classifier = labels is not None and len(torch.unique(labels)) > 1
    kind = "classifier" if classifier else "autoencoder"
    c, h, w = data.item_shape
    digest = hashlib.sha256(json.dumps([VERSION, kind, data.spec, [c, h, w]]).encode())
    digest.update(data.train.contiguous().numpy().tobytes())
    if classifier:
        digest.update(labels.contiguous().numpy().tobytes())
    key = digest.hexdigest()[:12]
    name = f"genlab-{kind}:{data.spec}:{key}"
    path = cache_dir() / "features" / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', data.spec)[-40:]}-{key}.safetensors"
    outputs = int(labels.max()) + 1 if classifier else c * math.prod(work_size(h, w))
    net = FeatureNet(c, work_size(h, w), outputs, autoencoder=not classifier)
    if not (path.is_file() and _load_cached(net, path)):
        _train(net, data.train, labels if classifier else None, quiet)
        state = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
        save_verified(path, state, {"name": name})
    return FeatureSpace(name, net.to(device).eval())


def _load_cached(net: FeatureNet, path) -> bool:
    """Load a cached network; False when the file is damaged (unreadable, not its recorded SHA-256,
    or not this network's tensors): it is a cache, so the network is trained and stored again."""
    try:
        state, _ = load_verified(path)
        net.load_state_dict(state)
    except (DamagedFile, RuntimeError):
        return False
    return True


def _train(net: FeatureNet, images: torch.Tensor, labels: torch.Tensor | None, quiet: bool) -> None:
    """STEPS Adam steps on seeded minibatches, on one CPU thread (the same weights on every machine,
    and no slow-down when other processes share the cores); the global RNG is left as it was."""
    global TRAININGS
    TRAININGS += 1
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _steps(net, images, labels, quiet)
        net.eval()
        with torch.no_grad():
            f = net(images[torch.randperm(len(images), generator=torch.Generator().manual_seed(SEED))[:2000]])
            net.scale.fill_(float(f.pow(2).mean().clamp_min(1e-12).rsqrt()))
    finally:
        torch.set_num_threads(threads)


def _steps(net: FeatureNet, images: torch.Tensor, labels: torch.Tensor | None, quiet: bool) -> None:
    from genlab.core import progress

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        g = torch.Generator().manual_seed(SEED)
        for p in net.parameters():  # re-initialise from the seed so the cache key fixes the weights
            if p.dim() > 1:
                nn.init.kaiming_uniform_(p, a=5**0.5, generator=g)
            else:
                nn.init.zeros_(p)
        opt = torch.optim.Adam(net.parameters(), lr=2e-3)
        net.train()
        for _ in progress.bar(range(STEPS), quiet=quiet, desc="feature net", leave=False):
            idx = torch.randint(len(images), (BATCH,), generator=g)
            x = images[idx]
            feats = net(x)
            if labels is None:
                target = net.inputs(x).flatten(1)  # (B, C*h*w) in [0, 1]
                loss = F.binary_cross_entropy_with_logits(net.head(feats), target)
            else:
                loss = F.cross_entropy(net.head(feats), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
