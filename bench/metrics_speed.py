"""Speed and memory of genlab's sample-quality metrics on 5,000 vs 5,000 images, on the CPU.

Real set: the 5,000 `mnist5k` digits; "generated" set: the same digits shifted by one pixel with
noise added, so every figure has work to do. Timed stages: embedding both sets with the feature
network (trained first, timed separately, in a fresh cache folder), FID, KID (100 subsets of
1,000), precision/recall/density/coverage, and the memorization nearest-neighbour searches (5,000
samples and 1,000 test images against 4,000 training images, in pixel space (784-d) and in feature
space). Target: the metrics in under a minute, the process's peak memory under 2 GB.

    .venv/bin/python bench/metrics_speed.py

The times are wall-clock seconds on this machine as it is (other processes included).
"""

from __future__ import annotations

import os
import resource
import tempfile
import time

import torch


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    os.environ["GENLAB_CACHE"] = tempfile.mkdtemp(prefix="genlab-bench-")
    from genlab.data import load_dataset
    from genlab.metrics.features import feature_space
    from genlab.metrics.fid import fid, kid
    from genlab.metrics.memorization import flat_pixels, memorization
    from genlab.metrics.prdc import prdc

    data = load_dataset("mnist5k")
    real_images = torch.cat([data.train, data.test])  # (5000, 1, 28, 28)
    g = torch.Generator().manual_seed(0)
    noise = torch.randint(-40, 41, real_images.shape, generator=g)
    fake_images = (real_images.roll(1, dims=3).int() + noise).clamp(0, 255).to(torch.uint8)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; peak memory before the metrics: "
        f"{peak_mb():.0f} MB"
    )

    t = time.perf_counter()
    space = feature_space(data)
    print(f"{'train the feature net (once per data set)':>44}: {time.perf_counter() - t:6.1f} s  ({space.name})")

    times = {}
    start = time.perf_counter()

    def stage(name, fn):
        t = time.perf_counter()
        out = fn()
        times[name] = time.perf_counter() - t
        print(f"{name:>44}: {times[name]:6.1f} s", flush=True)
        return out

    real, fake, train = stage(
        "embed 2 x 5,000 + 4,000 training images",
        lambda: (space.embed(real_images), space.embed(fake_images), space.embed(data.train)),
    )
    value = stage("FID", lambda: fid(real, fake))
    kid_mean, kid_std = stage("KID (100 subsets of 1,000)", lambda: kid(real, fake))
    figures = stage("precision/recall/density/coverage", lambda: prdc(real, fake))
    train_px, test_px = flat_pixels(data.train), flat_pixels(data.test)
    memo_px = stage(
        "nearest training image, pixels (784-d)", lambda: memorization(flat_pixels(fake_images), train_px, test_px)[0]
    )
    memo_f = stage("nearest training image, features", lambda: memorization(fake, train, real[4000:])[0])
    total = time.perf_counter() - start
    print(f"{'all metrics':>44}: {total:6.1f} s  (target < 60 s)")
    print(f"{'peak memory of the process':>44}: {peak_mb():6.0f} MB (target < 2048 MB)")
    print(
        f"figures: FID {value:.2f}, KID {kid_mean:.4f} ± {kid_std:.4f}, "
        + ", ".join(f"{k} {v:.3f}" for k, v in figures.items())
        + f", nn_ratio pixels {memo_px['ratio']:.3f}, features {memo_f['ratio']:.3f}"
    )


if __name__ == "__main__":
    main()
