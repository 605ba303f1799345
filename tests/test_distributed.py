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

import pytest
import torch
from safetensors.torch import load_file, save_file

from genlab import runs, train, viz
from genlab.config import DataConfig, TrainConfig
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
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    fn(rank, *args)


def _in_processes(world, fn, *args):
    """Run fn(rank, *args) in `world` processes joined in one gloo group; all must succeed. They are
    forked from a fork server that has imported torch and genlab once (a fork of the test process
    itself, whose threads have run torch, may hang)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["torch", "genlab.train", "genlab.models", "genlab.data", "genlab.viz", "safetensors.torch",
                                "sklearn.datasets", "matplotlib.pyplot"])
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


def _start(rank, model, values, data, cfg, run, weights_dir=None):
    """Train; with weights_dir, save this rank's weights, last gradients and items seen per step."""
    seen = []
    step = train.model_class(model).train_step

    def counting(self, batch, optimizers, **kw):
        seen.append(len(batch))
        return step(self, batch, optimizers, **kw)

    train.model_class(model).train_step = counting
    try:
        trainer = train.start(model, values, data, cfg, run, quiet=True)
    finally:
        train.model_class(model).train_step = step
    if weights_dir is not None:
        state = {k: v.contiguous() for k, v in trainer.model.state_dict().items()}
        state.update({f"grad/{k}": p.grad for k, p in trainer.model.named_parameters() if p.grad is not None})
        state["seen"] = torch.tensor(seen)
        save_file(state, str(weights_dir / f"rank{rank}"))


def _resume(rank, run, overrides):
    train.resume(run, overrides, quiet=True)


def _weights(run):
    return load_file(str(run / "model.safetensors"))


def _assert_close(a, b, atol=2e-5):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=atol, rtol=1e-4), (k, (a[k].float() - b[k].float()).abs().max())


def test_two_processes_share_the_batch_and_average_the_gradient(tmp_path):
    cfg = _cfg(epochs=1, batch_size=1497)  # one step on all 1497 training digits, shared 749 / 748
    _in_processes(2, _start, "pixelrnn", PCNN, DIGITS, cfg, tmp_path / "two", tmp_path)
    _start(0, "pixelrnn", PCNN, DIGITS, cfg, tmp_path / "one", tmp_path / "one")
    one, r0, r1 = (load_file(str(p)) for p in (tmp_path / "one" / "rank0", tmp_path / "rank0", tmp_path / "rank1"))
    assert (r0["seen"].tolist(), r1["seen"].tolist(), one["seen"].tolist()) == ([749], [748], [1497])
    grads = [k for k in one if k.startswith("grad/")]
    assert grads
    for k in grads:  # the gradient of the whole batch's mean loss, on both ranks
        assert torch.allclose(r0[k], one[k], atol=1e-6, rtol=1e-4) and torch.equal(r0[k], r1[k]), k


def test_two_processes_equal_one_with_the_same_global_batch(tmp_path):
    cfg = _cfg(batch_size=100)  # 1497 digits: 14 batches of 100 (50 + 50) and a last one of 97 (49 + 48)
    _in_processes(2, _start, "pixelrnn", PCNN, DIGITS, cfg, tmp_path / "two")
    first = train.start("pixelrnn", PCNN, DIGITS, _cfg(epochs=1, batch_size=100), tmp_path / "one", quiet=True)
    first = {k: v.clone() for k, v in first.model.state_dict().items()}
    train.resume(tmp_path / "one", {"epochs": 2}, quiet=True)
    one, two = _weights(tmp_path / "one"), _weights(tmp_path / "two")
    _assert_close(one, two)
    moved = max((one[k].float() - v.float()).abs().max() for k, v in first.items())
    assert moved > 1e-2  # the second epoch moved the weights by far more than the tolerance
    rows = {name: viz.read_metrics(tmp_path / name / "metrics.csv") for name in ("one", "two")}
    assert [(r["step"], r["split"]) for r in rows["two"]] == [(r["step"], r["split"]) for r in rows["one"]]
    for a, b in zip(rows["one"], rows["two"]):  # logged figures: the whole batch's, averaged over processes
        assert float(a["loss"]) == pytest.approx(float(b["loss"]), rel=1e-3)


@pytest.mark.parametrize("options", [{}, {"loss": "wgan-gp", "d_steps": 2, "spectral_norm": True}])
def test_gan_networks_stay_identical_across_processes(tmp_path, options):
    """Each process draws its own noise, so only synchronised gradients keep G, D (and the EMA
    copy, and spectral norm's power-iteration vectors) equal on both ranks."""
    values = {"conv_channels": 4, "latent": 8, "ema": 0.9, **options}
    cfg = _cfg(epochs=1, batch_size=64, lr=2e-3)
    _in_processes(2, _start, "gan", values, DataConfig(data="digits"), cfg, tmp_path / "run", tmp_path)
    r0, r1 = load_file(str(tmp_path / "rank0")), load_file(str(tmp_path / "rank1"))
    assert r0.pop("seen").sum() + r1.pop("seen").sum() == 1497  # 24 steps of 64 (the last 25), shared
    stats = ("running_mean", "running_var", "num_batches_tracked")  # batch norm's: each rank keeps its own
    _assert_close(*({k: v for k, v in r.items() if not k.endswith(stats)} for r in (r0, r1)), atol=1e-6)
    torch.manual_seed(0)  # the initial weights, as train.start makes them
    init = GAN(GAN.make_config(**values), (1, 8, 8)).state_dict()
    assert min((r0[k] - init[k]).abs().max() for k in ("generator.project.0.weight", "discriminator.convs.0.bias")) > 1e-3


def test_killed_two_process_run_resumes_to_the_unbroken_weights(tmp_path):
    run = tmp_path / "killed"
    argv = [sys.executable, "-m", "genlab", "train", "pixelrnn", "--data", "digits", "--arch", "pixelcnn", "--width",
            "8", "--layers", "2", "--epochs", "4", "--batch-size", "64", "--lr", "3e-3", "--device", "cpu",
            "--log-every", "5", "--save-every", "0", "--nproc", "2", "--quiet", "--out", str(run)]
    proc = subprocess.Popen(argv, env={**os.environ, "OMP_NUM_THREADS": "1"}, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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
    from genlab.errors import GenlabError
    from genlab.train.distributed import Group

    Group(0, 2).check_batches(1497, 64)  # the last batch holds 25
    with pytest.raises(GenlabError, match="a batch of 1 items cannot be shared by 2 processes"):
        Group(0, 2).check_batches(1497, 1496)  # the last batch holds 1


def _refused(rank, run):
    from genlab.errors import GenlabError

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
