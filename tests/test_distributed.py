"""Distributed training on CPU (gloo): an N-process run equals a 1-process run with the same global
batch, the GAN's two networks stay in sync, and a killed 2-process run resumes exactly.

Worker processes come from a fork server with torch and genlab imported (a worker starts in
milliseconds); one test goes through the real `genlab train --nproc 2` launcher."""

import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
import zlib
from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from genlab import train, viz
from genlab.train import runs
from genlab.core.config import DataConfig, TrainConfig
from genlab.models import model_class
from genlab.models.gan import GAN

DIGITS = DataConfig(data="digits")
PCNN = {"arch": "pixelcnn", "width": 8, "layers": 2}  # no noise and no batch norm: exactly comparable


def _cfg(**kw):
    return TrainConfig(**{**dict(epochs=2, batch_size=64, lr=3e-3, seed=0, device="cpu", log_every=5), **kw})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, world, port, fn, args):
    os.environ.update(
        RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)
    )
    torch.set_num_threads(1)
    fn(rank, *args)


def _in_processes(world, fn, *args):
    """Run fn(rank, *args) in `world` processes joined in one gloo group; all must succeed. They are
    forked from a fork server that has imported torch and genlab once (a fork of the test process
    itself, whose threads have run torch, may hang)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(
        [
            "torch",
            "genlab.train",
            "genlab.models",
            "genlab.data",
            "genlab.viz",
            "safetensors.torch",
            "sklearn.datasets",
            "matplotlib.pyplot",
        ]
    )
    port = _free_port()
    procs = [ctx.Process(target=_worker, args=(r, world, port, fn, args)) for r in range(world)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    for p in procs:
        if p.is_alive():  # stuck in a collective: end it, and fail below
            p.kill()
            p.join()
    assert [p.exitcode for p in procs] == [0] * world


def _start(rank, model, values, data, cfg, run, record_dir=None):
    """Train; with record_dir, save what this rank did at every step: `seen` (its items per step),
    `items` (a CRC of each item's bytes, in step order: exact integers, so batches compare exactly),
    `grad{s}/NAME` (the gradient step s applied, after DDP's all-reduce) and the final weights."""
    seen, items, grads = [], [], {}
    cls = model_class(model)
    step = cls.train_step

    def recording(self, batch, optimizers, **kw):
        seen.append(len(batch))
        items.extend(zlib.crc32(b.cpu().numpy().tobytes()) for b in batch)
        out = step(self, batch, optimizers, **kw)
        grads.update(
            {f"grad{len(seen) - 1}/{k}": p.grad.clone() for k, p in self.named_parameters() if p.grad is not None}
        )
        return out

    cls.train_step = recording
    try:
        trainer = train.start(model, values, data, cfg, run, quiet=True)
    finally:
        cls.train_step = step
    if record_dir is not None:
        state = {k: v.contiguous() for k, v in trainer.model.state_dict().items()}
        state.update(grads, seen=torch.tensor(seen), items=torch.tensor(items, dtype=torch.int64))
        save_file(state, str(record_dir / f"rank{rank}"))


def _resume(rank, run, overrides):
    train.resume(run, overrides, quiet=True)


def _weights(run):
    return load_file(str(run / "model.safetensors"))


def _records(*paths):
    return [load_file(str(p)) for p in paths]


def _merged_items(r0, r1):
    """Both ranks' items step by step, rank 0's share (the head of each global batch) first."""
    steps = zip(r0["items"].split(r0["seen"].tolist()), r1["items"].split(r1["seen"].tolist()))
    return torch.cat([torch.cat(pair) for pair in steps])


def _train_rows(run):
    return [r for r in viz.read_metrics(run / "metrics.csv") if r["split"] == "train"]


# Why the tolerances below are what they are. One process sums a batch's per-item gradients in
# one order; two processes sum their shares, weight them and add them: the same terms in another
# order, through kernels blocked for another batch size. A convolution's bias gradient is a sum over
# n = items x pixel positions (1,494 x 64 ≈ 10^5 terms here); in fp32 a reordering changes it by
# about sqrt(n)·eps = 3.7e-5 of the terms' scale (eps = 2^-23, rounding errors adding up at
# random), more where the terms cancel. Measured: at most 4.1e-5 of each tensor's largest entry,
# the same on AVX-512, AVX2 and plain kernels (ATEN_CPU_CAPABILITY=default) at 1 and 2 threads.
# GRAD_RTOL = 1e-3 leaves a 24x margin, while a real bug moves the gradient by far more: an
# average over the wrong world size by 50 %, a 2 + 1 batch weighted 1:1 by a third of the
# difference between the shards' gradients. Compared step by step from the same weights, nothing
# amplifies it.
GRAD_RTOL = 1e-3


def _assert_same_gradient(got, want, name):
    scale = want.abs().max()
    err = (got - want).abs().max()
    assert err <= GRAD_RTOL * scale, (name, float(err), float(scale))


@pytest.mark.numerics
def test_two_processes_share_every_batch_and_average_the_gradient(tmp_path):
    """Every step from the same weights: a learning rate of 1e-30 moves no fp32 weight (Adam's step
    is at most lr, far below the weights' ulp), so each step's gradient compares without any
    amplification, the ragged last batches (97 = 49 + 48; 3 = 2 + 1) included."""
    cfg = _cfg(epochs=2, batch_size=1494, lr=1e-30, log_every=1)  # 1497 digits: 747 + 747, then 2 + 1
    _in_processes(2, _start, "pixelrnn", PCNN, DIGITS, cfg, tmp_path / "two", tmp_path)
    _start(0, "pixelrnn", PCNN, DIGITS, cfg, tmp_path / "one", tmp_path / "one")
    one, r0, r1 = _records(tmp_path / "one" / "rank0", tmp_path / "rank0", tmp_path / "rank1")
    assert (r0["seen"].tolist(), r1["seen"].tolist(), one["seen"].tolist()) == (
        [747, 2] * 2,
        [747, 1] * 2,
        [1494, 3] * 2,
    )
    assert torch.equal(_merged_items(r0, r1), one["items"])  # every global batch: no item twice, none lost
    grads = [k for k in one if k.startswith("grad")]
    assert len(grads) == 4 * len([k for k in grads if k.startswith("grad0/")]) > 0
    for k in grads:  # the gradient of the whole batch's mean loss, on both ranks: the same all-reduce, the same bits
        _assert_same_gradient(r0[k], one[k], k)
        assert torch.equal(r0[k], r1[k]), k
    two, one_w = _weights(tmp_path / "two"), _weights(tmp_path / "one")
    assert all(torch.equal(two[k], one_w[k]) for k in one_w)  # the premise: no weight moved, in either run
    for a, b in zip(_train_rows(tmp_path / "one"), _train_rows(tmp_path / "two")):  # logged: the whole batch's
        assert float(b["loss"]) == pytest.approx(float(a["loss"]), rel=1e-5), a["step"]  # 2 + 1 weighted 2:1


@pytest.mark.numerics
def test_two_processes_train_as_one_with_the_same_global_batch(tmp_path):
    """Two real epochs. Weights after many Adam steps are the wrong thing to compare: rounding
    differences (above) are amplified by every step (measured: 1e-7 after one step, up to 5e-3
    after 30 on AVX2 kernels with 2 threads against 1). What must match exactly is what each step
    trains on, and the loss curve, which does not amplify: measured within 1e-4 relative over the
    30 steps here, while another batch moves it by over 1e-2 (the batches' losses differ that much)."""
    cfg = _cfg(batch_size=100, log_every=1)  # 1497 digits: 14 batches of 100 (50 + 50), the last 97 (49 + 48)
    _in_processes(2, _start, "pixelrnn", PCNN, DIGITS, cfg, tmp_path / "two", tmp_path)
    _start(0, "pixelrnn", PCNN, DIGITS, cfg, tmp_path / "one", tmp_path / "one")
    one, r0, r1 = _records(tmp_path / "one" / "rank0", tmp_path / "rank0", tmp_path / "rank1")
    assert r0["seen"].tolist() == [50] * 14 + [49] + [50] * 14 + [49] and r1["seen"].tolist() == [50] * 14 + [48] + [
        50
    ] * 14 + [48]
    assert torch.equal(_merged_items(r0, r1), one["items"])  # step by step, the same items in the same order
    rows = {name: _train_rows(tmp_path / name) for name in ("one", "two")}
    assert [r["step"] for r in rows["two"]] == [r["step"] for r in rows["one"]] == [str(s) for s in range(1, 31)]
    losses = torch.tensor([[float(r["loss"]) for r in rows[name]] for name in ("one", "two")])
    assert torch.allclose(losses[1], losses[0], rtol=1e-3, atol=0)
    assert losses[0, -1] < 0.8 * losses[0, 0]  # and the two epochs trained


@pytest.mark.numerics
@pytest.mark.parametrize("options", [{}, {"loss": "wgan-gp", "d_steps": 2, "spectral_norm": True, "conditional": True}])
def test_gan_networks_stay_identical_across_processes(tmp_path, options):
    """Each process draws its own noise, so only synchronised gradients keep G, D (and the EMA
    copy, and spectral norm's power-iteration vectors; a conditional GAN's class vectors in G and
    its projection discriminator) equal on both ranks."""
    values = {"conv_channels": 4, "latent": 8, "ema": 0.9, **options}
    cfg = _cfg(epochs=1, batch_size=64, lr=2e-3)
    _in_processes(2, _start, "gan", values, DataConfig(data="digits"), cfg, tmp_path / "run", tmp_path)
    r0, r1 = load_file(str(tmp_path / "rank0")), load_file(str(tmp_path / "rank1"))
    assert r0.pop("seen").sum() + r1.pop("seen").sum() == 1497  # 24 steps of 64 (the last 25), shared
    stats = ("running_mean", "running_var", "num_batches_tracked")  # batch norm's: each rank keeps its own
    kept = [
        {k: v for k, v in r.items() if not k.endswith(stats) and k != "items" and not k.startswith("grad")}
        for r in (r0, r1)
    ]
    assert kept[0].keys() == kept[1].keys()
    for k in kept[0]:  # both ranks apply the same all-reduced gradients with the same ops: the same bits
        assert torch.equal(kept[0][k], kept[1][k]), (k, (kept[0][k] - kept[1][k]).abs().max())
    torch.manual_seed(0)  # the initial weights, as train.start makes them
    init = GAN(GAN.make_config(**values, label_count=10 if options.get("conditional") else 0), (1, 8, 8)).state_dict()
    moved = ["generator.project.0.weight", "discriminator.convs.0.bias"]
    moved += (
        ["generator.label.table.weight", "discriminator.projection.embed.parametrizations.weight.original"]
        if options.get("conditional")
        else []
    )
    assert min((r0[k] - init[k]).abs().max() for k in moved) > 1e-3


@pytest.mark.numerics
def test_killed_two_process_run_resumes_to_the_unbroken_weights(tmp_path):
    run = tmp_path / "killed"
    argv = [
        sys.executable,
        "-m",
        "genlab",
        "train",
        "pixelrnn",
        "--data",
        "digits",
        "--arch",
        "pixelcnn",
        "--width",
        "8",
        "--layers",
        "2",
        "--epochs",
        "4",
        "--batch-size",
        "64",
        "--lr",
        "3e-3",
        "--device",
        "cpu",
        "--log-every",
        "5",
        "--save-every",
        "0",
        "--nproc",
        "2",
        "--quiet",
        "--out",
        str(run),
    ]
    proc = subprocess.Popen(
        argv,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not (run / "checkpoint.safetensors").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the launcher and both workers, mid-run
    proc.wait()
    _, _, counters, rng = runs.load_checkpoint(run)
    assert counters["step"] < 4 * 24 and "rank1/torch" in rng  # stopped early; rank 1's RNG was saved
    _in_processes(2, _resume, run, {"nproc": 2})
    _in_processes(2, _start, "pixelrnn", PCNN, DIGITS, _cfg(epochs=4), tmp_path / "whole")
    whole, resumed = _weights(tmp_path / "whole"), _weights(run)
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)  # the same arithmetic, so the same bits


def test_a_batch_too_small_to_share_is_refused_before_training():
    from genlab.core.errors import GenlabError
    from genlab.train.distributed import Group

    Group(0, 2).check_batches(1497, 64)  # the last batch holds 25
    with pytest.raises(GenlabError, match="a batch of 1 items cannot be shared by 2 processes"):
        Group(0, 2).check_batches(1497, 1496)  # the last batch holds 1


def _refused(rank, run):
    from genlab.core.errors import GenlabError

    with pytest.raises(GenlabError, match="cannot be shared by 2 processes"):
        train.start("vae", {}, DIGITS, _cfg(batch_size=1496), run, quiet=True)


def test_a_refused_distributed_run_writes_nothing(tmp_path):
    """The batch check needs the data, yet comes before the run folder is made: fixing the batch
    size and running the same command again must not meet a half-made run."""
    _in_processes(2, _refused, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_only_rank_0_prints_the_error_line(monkeypatch, capsys):
    from genlab.cli import main

    monkeypatch.setenv("RANK", "1")
    assert main(["train", "vae", "--data", "digits", "--batch-size", "0", "--out", "x"]) == 2
    assert capsys.readouterr().err == ""


def test_a_minutes_budget_stops_every_process_at_rank_0s_step(tmp_path):
    """Each process has its own clock; were they to stop at different steps, one would wait forever
    in a collective the other never reaches (and the worker would not exit 0)."""
    _in_processes(2, _start, "pixelrnn", PCNN, DIGITS, _cfg(epochs=None, minutes=0.02), tmp_path / "run")
    _, _, counters, _ = runs.load_checkpoint(tmp_path / "run")
    assert counters["step"] > 0 and counters["seconds"] >= 1.2


def test_nproc_auto_gives_each_idle_core_a_process_where_the_network_is_too_small_for_threads(monkeypatch):
    from genlab.core import threads
    from genlab.train import processes

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv(threads.SHARING, raising=False)
    monkeypatch.setattr(threads, "cores", lambda: 4)
    cfg = TrainConfig(device="cpu", batch_size=64, nproc=0)
    assert processes.resolve("pixelrnn", PCNN, DIGITS, cfg, {"batch_size"})[0] == 4  # a tiny net: 1 thread each
    assert (
        processes.resolve("pixelrnn", PCNN, DIGITS, replace(cfg, threads=2), {"batch_size", "threads"})[0] == 2
    )  # --threads 2: two cores per process
    assert (
        processes.resolve("pixelrnn", PCNN, DIGITS, replace(cfg, batch_size=16), {"batch_size"})[0] == 2
    )  # shares of at least MIN_SHARE items
    monkeypatch.setenv(threads.SHARING, "2")  # compare runs two jobs beside this one: half the cores each
    assert processes.resolve("pixelrnn", PCNN, DIGITS, cfg, {"batch_size"})[0] == 2
    assert processes.resolve("gmm", {}, DIGITS, cfg, set())[0] == 1  # EM on the whole split
    monkeypatch.setattr(threads, "cores", lambda: 1)
    assert processes.resolve("pixelrnn", PCNN, DIGITS, cfg, {"batch_size"})[0] == 1
    assert processes.count(threads_per_process=8, cores=8, batch_size=128) == 1  # threads already fill the cores
    packed = np.arange(2 * 64, dtype=np.uint8).reshape(2, 1, 8, 8)  # a pack's split is read, not sliced
    reader = type("Split", (), {"__len__": lambda self: 2, "read": lambda self, rows: packed[rows]})()
    assert torch.equal(processes.first_items(reader, 64), torch.from_numpy(packed))


def test_nproc_takes_auto_or_a_count_of_at_least_one(tmp_path):
    from genlab.cli import main

    assert main(["train", "vae", "--data", "digits", "--steps", "1", "--nproc", "0", "--out", str(tmp_path / "r")]) == 2
    assert not (tmp_path / "r").exists()
