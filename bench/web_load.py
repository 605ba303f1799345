"""Load test of `genlab serve` on loopback: 16 concurrent clients, 2,000 requests mixing the page,
its static files, run listings, sampling, decoding and streamed completions.

Prints the status counts (the target is zero 5xx), p50/p99 latency per kind and overall, and the
server's resident memory (RSS) after a warm-up, half-way and at the end (the target is flat: no
growth from half-way to the end). Tiny runs on `digits` are trained first (about a minute).

    .venv/bin/python bench/web_load.py [--clients 16] [--requests 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import numpy as np
import psutil

TINY = ["--data", "digits", "--epochs", "1", "--device", "cpu", "--quiet"]
MIX = [("page", 0.2), ("static", 0.15), ("runs", 0.15), ("sample", 0.2), ("decode", 0.15), ("complete", 0.15)]


def genlab(*args: str, **kw) -> subprocess.Popen | None:
    command = [sys.executable, "-m", "genlab", *args]
    if kw.get("background"):
        return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    subprocess.run(command, check=True)
    return None


async def one(client: httpx.AsyncClient, kind: str, digit: list[int]) -> int:
    if kind == "page":
        return (await client.get("/")).status_code
    if kind == "static":
        return (await client.get(random.choice(["/static/main.js", "/static/style.css", "/static/gan.js"]))).status_code
    if kind == "runs":
        return (await client.get("/api/runs")).status_code
    if kind == "sample":
        return (
            await client.post("/api/sample", json={"run": "vae", "n": 8, "seed": random.randrange(1000)})
        ).status_code
    if kind == "decode":
        return (
            await client.post("/api/decode", json={"run": "vae", "z": [random.gauss(0, 1), random.gauss(0, 1)]})
        ).status_code
    body = {"run": "pcnn", "pixels": digit, "mask": [0] * 32 + [1] * 32, "n": 2, "seed": random.randrange(1000)}
    async with client.stream("POST", "/api/complete", json=body) as response:
        async for _ in response.aiter_bytes():
            pass
        return response.status_code


async def load(base: str, clients: int, requests: int, server: psutil.Process) -> dict:
    kinds = random.choices([k for k, _ in MIX], [w for _, w in MIX], k=requests)
    latency, statuses, rss = defaultdict(list), Counter(), {}
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        digit = (await client.get("/api/runs/examples", params={"run": "pcnn", "count": 1})).json()["examples"][0][
            "pixels"
        ]
        for kind, _ in MIX:  # warm-up: every kind once
            await one(client, kind, digit)
        rss["after warm-up"] = server.memory_info().rss
        queue = list(enumerate(kinds))

        async def worker():
            while queue:
                i, kind = queue.pop()
                started = time.perf_counter()
                status = await one(client, kind, digit)
                latency[kind].append(time.perf_counter() - started)
                statuses[status] += 1
                if i == requests // 2:
                    rss["half-way"] = server.memory_info().rss

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - started
        rss["end"] = server.memory_info().rss
    return {"latency": latency, "statuses": statuses, "rss": rss, "wall": wall}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    random.seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp)
        genlab(
            "train",
            "pixelrnn",
            "--arch",
            "pixelcnn",
            "--colors",
            "4",
            "--width",
            "8",
            "--layers",
            "2",
            *TINY,
            "--out",
            str(runs / "pcnn"),
        )
        genlab("train", "vae", "--hidden", "32", "--latent", "2", *TINY, "--out", str(runs / "vae"))
        proc = genlab("serve", "--runs", str(runs), "--port", "0", background=True)
        try:
            banner = proc.stdout.readline()
            base = banner.split()[2].rstrip("/")
            result = asyncio.run(load(base, args.clients, args.requests, psutil.Process(proc.pid)))
        finally:
            proc.terminate()
            proc.wait(10)
    all_ms = np.concatenate([np.array(v) for v in result["latency"].values()]) * 1000
    print(
        f"{args.requests} requests from {args.clients} clients in {result['wall']:.1f} s "
        f"({args.requests / result['wall']:.0f} requests/s); load average {psutil.getloadavg()[0]:.1f}"
    )
    print("status counts:", dict(sorted(result["statuses"].items())))
    print(f"{'kind':<10}{'n':>6}{'p50 ms':>10}{'p99 ms':>10}")
    for kind, _ in MIX:
        ms = np.array(result["latency"][kind]) * 1000
        print(f"{kind:<10}{len(ms):>6}{np.percentile(ms, 50):>10.1f}{np.percentile(ms, 99):>10.1f}")
    print(f"{'all':<10}{len(all_ms):>6}{np.percentile(all_ms, 50):>10.1f}{np.percentile(all_ms, 99):>10.1f}")
    rss = {k: v / 2**20 for k, v in result["rss"].items()}
    print(
        "server RSS (MB): "
        + ", ".join(f"{k} {v:.0f}" for k, v in rss.items())
        + f"; growth from half-way to the end {rss['end'] - rss['half-way']:+.0f} MB"
    )
    errors = sum(n for status, n in result["statuses"].items() if status >= 500)
    print(f"5xx answers: {errors} (target 0)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
