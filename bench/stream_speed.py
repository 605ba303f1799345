"""Data streamed from a pack (genlab data SPEC --pack DIR) against data held in memory.

(a) images/s of the same VAE run on mnist5k, in memory and streamed from a pack, in alternating
    rounds (median ratio; target >= 0.8x). "loop" counts the training steps only (from the rows of
    metrics.csv, the first window left out), "end to end" the whole `train.start` call.
(b) a synthetic pack of random 64x64 colour images, larger than the memory a run may use (--gb of
    images), trained by the DCGAN for --minutes; the resident memory of the trainer and its DataLoader
    workers is sampled every second. Held in memory, the same run would need the uint8 images and a
    float32 copy (4x) of them; streamed, its anonymous memory must stay flat as the items read pile up.
    The pack is deleted afterwards.

    .venv/bin/python bench/stream_speed.py [--rounds 3] [--workers 2] [--gb 2] [--minutes 1.5] [--parts ab]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import alternate, median_ratio  # noqa: E402

from genlab import train, viz  # noqa: E402
from genlab.core.config import DataConfig, TrainConfig  # noqa: E402
from genlab.data import load_dataset  # noqa: E402
from genlab.data.formats.pack_writer import PackWriter, write_pack  # noqa: E402


def _rates(run: Path, batch: int, wall: float, n_items: int) -> tuple[float, float]:
    """(loop images/s from metrics.csv's train rows after the first, end-to-end images/s)."""
    rows = [r for r in viz.read_metrics(run / "metrics.csv") if r["split"] == "train"]
    first, last = rows[0], rows[-1]
    loop = (int(last["step"]) - int(first["step"])) * batch / (float(last["seconds"]) - float(first["seconds"]))
    return loop, n_items / wall


def part_a(rounds: int, epochs: int, batch: int, workers: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = load_dataset("mnist5k")
        t = time.perf_counter()
        pack = write_pack(data, tmp / "mnist5k")
        print(f"(a) packed mnist5k ({len(data.train)} train items) in {time.perf_counter() - t:.1f} s")
        cfg = TrainConfig(epochs=epochs, batch_size=batch, device="cpu", log_every=5, save_every=1e9, workers=workers)
        count, whole = [0], {"memory": [], "stream": []}

        def run(spec: str, name: str):
            def measure() -> float:
                count[0] += 1
                out = tmp / f"run{count[0]}"
                start = time.perf_counter()
                train.start("vae", {}, DataConfig(data=spec), cfg, out, quiet=True)
                loop, end_to_end = _rates(out, batch, time.perf_counter() - start, epochs * len(data.train))
                whole[name].append(end_to_end)
                return loop

            return measure

        got = alternate(rounds, {"memory": run("mnist5k", "memory"), "stream": run(str(pack), "stream")})
        whole = {k: v[1:] for k, v in whole.items()}  # without the warm-up round
        for name, rates in (("loop", got), ("end to end", whole)):
            print(
                f"(a) {name}: in memory {statistics.median(rates['memory']):,.0f} images/s, streamed "
                f"{statistics.median(rates['stream']):,.0f} images/s; median ratio streamed/memory "
                f"{median_ratio(rates['stream'], rates['memory']):.2f}x"
            )


def _memory_kb(pid: int) -> dict[str, int]:
    """RssAnon and RssFile (kB) of pid and its child processes (the DataLoader workers), summed."""
    total = {"RssAnon": 0, "RssFile": 0, "main_RssAnon": 0}
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for p in [pid, *map(int, children)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in ("RssAnon", "RssFile"):
                    total[key] += int(value.split()[0])
                    if p == pid and key == "RssAnon":
                        total["main_RssAnon"] = int(value.split()[0])
        except FileNotFoundError:
            pass
    return total


def part_b(gb: float, minutes: float, batch: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:  # on a disk (a memory-backed /tmp would defeat the purpose)
        tmp = Path(tmp)
        n = int(gb * 2**30 / (3 * 64 * 64))
        n_test = n // 10
        t = time.perf_counter()
        rng = np.random.default_rng(0)
        with PackWriter(
            tmp / "big", "synthetic", (3, 64, 64), f"{n - n_test} train / {n_test} test (random)", None
        ) as writer:
            for split, count in (("train", n - n_test), ("test", n_test)):
                for start in range(0, count, 8192):
                    writer.add(split, rng.integers(0, 256, (min(8192, count - start), 3, 64, 64), dtype=np.uint8))
            pack = writer.close()
        size = sum(f.stat().st_size for f in pack.iterdir())
        print(
            f"(b) wrote a {size / 2**30:.2f} GiB pack of {n:,} 64x64 colour images in {time.perf_counter() - t:.0f} s"
        )
        out = tmp / "run"
        argv = [
            sys.executable,
            "-m",
            "genlab",
            "train",
            "gan",
            "--data",
            str(pack),
            "--conv-channels",
            "8",
            "--latent",
            "16",
            "--batch-size",
            str(batch),
            "--minutes",
            str(minutes),
            "--device",
            "cpu",
            "--log-every",
            "20",
            "--save-every",
            "1e9",
            "--quiet",
            "--out",
            str(out),
        ]
        proc = subprocess.Popen(argv)
        samples = []
        while proc.poll() is None:
            try:
                samples.append((time.monotonic(), _memory_kb(proc.pid)))
            except FileNotFoundError:
                break
            time.sleep(1.0)
        assert proc.wait() == 0
        rows = [r for r in viz.read_metrics(out / "metrics.csv") if r["split"] == "train"]
        steps = int(rows[-1]["step"])
        print(
            f"(b) trained {steps} steps of {batch} ({steps * batch:,} images, "
            f"{steps * batch * 3 * 64 * 64 / 2**20:,.0f} MiB read) in {minutes} minute(s)"
        )
        t0 = samples[0][0]
        for i in sorted(
            {len(samples) // 10, len(samples) // 4, len(samples) // 2, 3 * len(samples) // 4, len(samples) - 1}
        ):
            when, kb = samples[i]
            print(
                f"    t={when - t0:5.0f} s: RssAnon trainer {kb['main_RssAnon'] / 1024:,.0f} MiB, "
                f"with workers {kb['RssAnon'] / 1024:,.0f} MiB; RssFile (page cache, reclaimable) "
                f"{kb['RssFile'] / 1024:,.0f} MiB"
            )
        late = [kb["RssAnon"] for _, kb in samples[len(samples) // 4 :]]
        print(
            f"(b) RssAnon with workers after the first quarter: min {min(late) / 1024:,.0f} MiB, max "
            f"{max(late) / 1024:,.0f} MiB; held in memory the training split alone would take "
            f"{(n - n_test) * 3 * 64 * 64 / 2**20:,.0f} MiB as uint8 and 4x that prepared as float32"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="ab")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--gb", type=float, default=2.0, help="(b) size of the synthetic images in GiB")
    ap.add_argument("--minutes", type=float, default=1.5, help="(b) training budget")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--workers", type=int, default=2, help="(a) DataLoader workers of the streamed run")
    args = ap.parse_args()
    print(
        f"load average {os.getloadavg()[0]:.1f}; {os.cpu_count()} cores; torch threads "
        f"{__import__('torch').get_num_threads()}"
    )
    if "a" in args.parts:
        part_a(args.rounds, args.epochs, args.batch_size, args.workers)
    if "b" in args.parts:
        part_b(args.gb, args.minutes, args.batch_size)


if __name__ == "__main__":
    main()
