"""The trainer: exact resume after SIGKILL (a stopped run's: test_family_contract.py, every family), refusal to
overwrite, NaN guard, run-dir files."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

import genlab
from genlab import train
from genlab.train import runs
from genlab.core.config import DataConfig, TrainConfig
from genlab.core.errors import GenlabError
from genlab.models.vae import VAE

TINY = {"hidden": 16, "latent": 3}
DIGITS = DataConfig(data="digits")


def _cfg(**kw):
    base = dict(epochs=2, batch_size=64, lr=3e-3, seed=0, device="cpu", log_every=5)
    return TrainConfig(**{**base, **kw})


def _weights(run):
    return load_file(str(run / "model.safetensors"))


def _assert_same_weights(a, b):
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


def test_run_dir_contents_and_load(tmp_path):
    run = tmp_path / "run"
    trainer = train.start("vae", TINY, DIGITS, _cfg(epochs=2), run, quiet=True)
    for name in (
        "config.json",
        "model.safetensors",
        "checkpoint.safetensors",
        "metrics.csv",
        "loss.png",
        "samples/epoch_0001.png",
        "samples/epoch_0002.png",
    ):
        assert (run / name).is_file(), name
    loaded = genlab.load(run)
    assert isinstance(loaded.model, VAE) and not loaded.model.training
    for k, v in trainer.model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[k].cpu(), v.cpu()), k
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(loaded.model.sample(5, g1), trainer.model.sample(5, g2))
    assert torch.equal(loaded.palette.colors, torch.tensor([[0], [255]], dtype=torch.uint8))
    assert loaded.dataset().train.shape[1:] == (1, 8, 8)
    test_rows = [r for r in genlab.viz.read_metrics(run / "metrics.csv") if r["split"] == "test"]
    assert float(test_rows[-1]["nll_bound"]) < float(test_rows[0]["nll_bound"])  # it learns


def test_existing_run_is_never_overwritten(tmp_path):
    run = tmp_path / "run"
    train.start("vae", TINY, DIGITS, _cfg(epochs=1), run, quiet=True)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    with pytest.raises(GenlabError, match="already holds a run"):
        train.start("vae", TINY, DIGITS, _cfg(epochs=1), run, quiet=True)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(GenlabError, match="not empty"):
        train.start("vae", TINY, DIGITS, _cfg(epochs=1), tmp_path / "other", quiet=True)
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"
    (tmp_path / "killed").mkdir()  # a process killed while writing config.json leaves only its temp file
    (tmp_path / "killed" / ".config.json.abc123.tmp").write_text("{")
    train.start("vae", TINY, DIGITS, _cfg(epochs=1), tmp_path / "killed", quiet=True)
    assert (tmp_path / "killed" / "model.safetensors").is_file()


def test_resume_refuses_changed_settings(tmp_path):
    run = tmp_path / "run"
    train.start("vae", TINY, DIGITS, _cfg(epochs=1), run, quiet=True)
    with pytest.raises(GenlabError, match="lr cannot change"):
        train.resume(run, {"lr": 0.1, "epochs": 2}, quiet=True)
    with pytest.raises(GenlabError, match="is a vae run"):
        train.resume(run, {"epochs": 2}, quiet=True, model_name="gan")
    trainer = train.resume(run, {"lr": 3e-3, "epochs": 2, "data": "digits"}, quiet=True)  # unchanged values pass
    assert trainer.counters.epoch == 2


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    run = tmp_path / "run"
    train.start("vae", TINY, DIGITS, _cfg(epochs=1), run, quiet=True)
    good = _weights(run)
    original = VAE.loss
    calls = {"n": 0}

    def poisoned(self, batch):
        calls["n"] += 1
        out = original(self, batch)
        if calls["n"] >= 4:
            out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(VAE, "loss", poisoned)
    with pytest.raises(GenlabError, match="training diverged: loss became nan"):
        train.resume(run, {"epochs": 3, "save_every": 0.0}, quiet=True)
    kept = _weights(run)
    assert all(torch.isfinite(v.float()).all() for v in kept.values())
    assert all(torch.equal(good[k], kept[k]) for k in good)  # the NaN steps never reached the disk


def _cli(*args):
    return [sys.executable, "-m", "genlab", *args]


@pytest.mark.numerics
def test_sigkill_at_any_moment_then_resume_matches_unbroken_run(tmp_path):
    args = [
        "train",
        "vae",
        "--data",
        "digits",
        "--hidden",
        "16",
        "--latent",
        "3",
        "--epochs",
        "30",
        "--batch-size",
        "32",
        "--log-every",
        "2",
        "--save-every",
        "0",
        "--device",
        "cpu",
        "--quiet",
    ]
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run(_cli(*args, "--out", str(whole)), check=True, timeout=300)
    proc = subprocess.Popen(_cli(*args, "--out", str(killed)))
    deadline = time.monotonic() + 120
    while not (killed / "checkpoint.safetensors").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # somewhere in the middle of training, most likely mid-write of something (a quiet
    # machine trains this tiny VAE's 47 steps an epoch in well under a second, so 30 epochs leave room)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    step = runs.load_checkpoint(killed)[2]["step"]
    print("killed after checkpoint at step", step)
    assert 0 < step < 30 * 47  # 47 batches of 32 per epoch: the kill came mid-run
    subprocess.run(_cli(*args, "--out", str(killed), "--resume"), check=True, timeout=300)
    _assert_same_weights(whole, killed)


TRAIN_ARGV = [
    sys.executable,
    "-m",
    "genlab",
    "train",
    "vae",
    "--data",
    "digits",
    "--hidden",
    "16",
    "--latent",
    "3",
    "--epochs",
    "6",
    "--batch-size",
    "256",
    "--device",
    "cpu",
]


def test_a_log_gets_an_epoch_line_every_few_seconds_and_always_the_last(monkeypatch, capsys):
    """Fast epochs (the demo's VAE: 184 in a minute) would flood a log: a line at most every
    LINE_EVERY seconds, the skipped ones held back so that the last epoch's is printed at the end."""
    from types import SimpleNamespace

    from genlab.train import trainer

    clock = iter([0.0, 1.0, 4.9, 5.0, 6.0, 12.0])
    monkeypatch.setattr(trainer.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(trainer.progress, "interactive", lambda: False)
    stub = SimpleNamespace(_line_at=None, _held_line=None)
    for epoch in range(1, 6):
        trainer.Trainer._log_line(stub, f"epoch {epoch}")
    assert capsys.readouterr().err.split("\n") == ["epoch 1", "epoch 4", ""] and stub._held_line == "epoch 5"
    trainer.Trainer._log_line(stub, "epoch 6")  # 12 s: due again
    assert capsys.readouterr().err == "epoch 6\n" and stub._held_line is None


def test_a_log_gets_epoch_lines_and_a_terminal_gets_a_bar(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    logged = subprocess.run(
        [*TRAIN_ARGV, "--out", str(tmp_path / "log")], env=env, capture_output=True, text=True, timeout=120
    )
    assert logged.returncode == 0, logged.stderr
    lines = logged.stderr.splitlines()
    epochs = [int(line.split(":")[0].removeprefix("epoch ")) for line in lines]
    assert "\r" not in logged.stderr and epochs[0] == 1 and epochs[-1] == 6 and epochs == sorted(set(epochs)), lines
    assert "loss" in lines[-1] and "test nll_bound" in lines[-1] and "step 36" in lines[-1]  # 6 steps an epoch
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()  # stderr on a terminal: the bar redraws in place, no epoch lines
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a new pty is 0 columns wide
    proc = subprocess.Popen(
        [*TRAIN_ARGV, "--out", str(tmp_path / "tty")], env=env, stdout=subprocess.DEVNULL, stderr=follower
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert proc.wait(timeout=120) == 0
    assert b"\r" in shown and b"epoch 1" in shown and b"epoch 1: step" not in shown
