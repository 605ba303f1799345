"""The thread policy (genlab.core.threads): the count it chooses from the cores, the processes and
the work; that a training process and `genlab serve` run with it; that --threads (and, without it,
OMP_NUM_THREADS) overrides it."""

import os
import subprocess
import sys

import pytest
import torch
from torch import nn

from clihelp import cli_error
from genlab.cli import main as cli_main
from genlab.core import threads
from genlab.core.errors import GenlabError
from genlab.data import Palette, load_dataset
from genlab.models import model_class
from genlab.serve.limits import Limits
from genlab.train.work import step_flops


def main(argv) -> int:
    return cli_main([str(a) for a in argv])


TINY_VAE = [
    "train",
    "vae",
    "--hidden",
    "8",
    "--latent",
    "2",
    "--data",
    "digits",
    "--steps",
    "2",
    "--device",
    "cpu",
    "--quiet",
]


@pytest.fixture
def restore_threads(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # the policy decides unless a test sets it
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_the_policy_shares_the_cores_and_gives_small_work_one_thread():
    per = threads.FLOPS_PER_THREAD
    assert threads.choose(None, cores=8) == 8 and threads.choose(None, processes=3, cores=8) == 2
    assert threads.choose(None, processes=4, cores=2) == 1  # never below one
    assert threads.choose(0.5 * per, cores=8) == 1  # too little work to split
    assert threads.choose(3.5 * per, cores=8) == 3  # a thread per FLOPS_PER_THREAD of work
    assert threads.choose(100 * per, processes=2, cores=8) == 4  # never more than the share
    assert threads.cores() == len(os.sched_getaffinity(0))


def test_requested_counts_win_over_the_policy(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads.requested(None) == 3 and threads.requested(5) == 5  # --threads beats the environment
    monkeypatch.setenv("OMP_NUM_THREADS", "")
    assert threads.requested(None) is None
    with pytest.raises(GenlabError, match="--threads must be at least 1"):
        threads.requested(0)


def test_step_flops_counts_forward_and_backward_of_the_whole_batch_and_changes_nothing():
    data = load_dataset("digits")
    cls = model_class("vae")
    torch.manual_seed(0)
    cfg = cls.make_config(hidden=8, latent=2)
    model = cls(cfg, data.item_shape, Palette.fit(data.train, cfg.colors, seed=0))
    batch = model.prepare(data.train[:40])
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    macs_per_item = sum(m.in_features * m.out_features for m in model.modules() if isinstance(m, nn.Linear))
    # one pass through encoder and decoder: 2 FLOPs per multiply-add, x3 for the backward pass, 40 items
    assert step_flops(model, batch) == 3 * 2 * macs_per_item * 40
    assert torch.equal(torch.get_rng_state(), rng) and model.training
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())


def test_step_flops_counts_through_a_gradient_penalty():
    """WGAN-GP's evaluation calls autograd.grad, which torch's per-module FLOP attribution refuses."""
    cls = model_class("gan")
    torch.manual_seed(0)
    model = cls(cls.make_config(loss="wgan-gp", width=16, layers=2, latent=4), (2,), None)
    flops = step_flops(model, torch.randn(16, 2))
    assert flops > 0 and flops == step_flops(model, torch.randn(8, 2)) * 2  # linear in the batch


def test_training_applies_the_policy_and_threads_overrides_it(tmp_path, monkeypatch, restore_threads):
    monkeypatch.setattr(threads, "cores", lambda: 4)
    monkeypatch.setattr(threads, "FLOPS_PER_THREAD", 1.0)  # any work is enough for every core
    assert main([*TINY_VAE, "--out", tmp_path / "a"]) == 0
    assert torch.get_num_threads() == 4
    monkeypatch.setattr(threads, "FLOPS_PER_THREAD", 1e30)  # no work is enough for a second thread
    assert main([*TINY_VAE, "--out", tmp_path / "b"]) == 0
    assert torch.get_num_threads() == 1
    assert main([*TINY_VAE, "--threads", "3", "--out", tmp_path / "c"]) == 0
    assert torch.get_num_threads() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert main([*TINY_VAE, "--out", tmp_path / "d"]) == 0
    assert torch.get_num_threads() == 2
    assert main(["train", "vae", "--out", tmp_path / "c", "--resume", "--steps", "3", "--threads", "1", "--quiet"]) == 0
    assert torch.get_num_threads() == 1  # an execution setting: a resume may change it


def test_a_bad_thread_count_is_one_line_and_writes_nothing(tmp_path, capsys):
    assert "--threads must be at least 1" in cli_error(capsys, [*TINY_VAE, "--threads", "0", "--out", tmp_path / "r"])
    assert not (tmp_path / "r").exists()
    assert "--threads must be at least 1" in cli_error(
        capsys, ["sample", tmp_path / "r", "--threads", "0", "--out", tmp_path / "s.png"]
    )


def _serve_threads(*flags, env=None) -> int:
    """Start `genlab serve --port 0` and read the thread count it runs with from its first line."""
    env = {**{k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}, **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "genlab", "serve", "--port", "0", *flags],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(10)
    assert "torch threads " in line, line
    return int(line.split("torch threads ")[1].split(";")[0])


def test_serve_applies_the_policy_and_threads_overrides_it():
    limits = Limits()
    assert _serve_threads() == threads.choose(processes=limits.jobs + limits.gan_sessions)
    assert _serve_threads("--threads", "3") == 3
    assert _serve_threads(env={"OMP_NUM_THREADS": "2"}) == 2
