"""--lr-schedule linear: the rate holds, then reaches 0 at the end of the budget, is logged, and a
killed and resumed run (also under --minutes, whose budget is measured) ends bit for bit like an
unbroken run with the same step budget (same process, same threads: the same operations)."""

import pytest
import torch
from safetensors.torch import load_file

from genlab import train, viz
from genlab.core.config import DataConfig, TrainConfig
from genlab.core.errors import GenlabError
from genlab.train import runs, schedule

DIGITS = DataConfig(data="digits")
TINY = {"hidden": 16, "latent": 3}


def _cfg(**kw):
    return TrainConfig(
        **{**dict(batch_size=256, lr=3e-3, seed=0, device="cpu", log_every=1, lr_schedule="linear"), **kw}
    )


def _train_rows(run):
    return [r for r in viz.read_metrics(run / "metrics.csv") if r["split"] == "train"]


def test_the_factor_holds_then_falls_to_zero_at_the_budget():
    assert [schedule.factor("linear", s, 100) for s in (0, 9, 10, 55, 100)] == [1.0, 1.0, 1.0, 0.5, 0.0]
    assert schedule.factor("constant", 99, 100) == 1.0 and schedule.factor("linear", 5, 0) == 1.0  # unknown budget
    assert schedule.budget_from_speed(30, 3.0, 60.0) == 600  # 30 steps in 3 s: 600 in a minute
    assert schedule.budget_from_speed(30, 3.0, 6.0) == 300  # never fewer than the held steps allow


def test_epochs_decay_to_zero_and_the_rate_is_logged(tmp_path):
    trainer = train.start("vae", TINY, DIGITS, _cfg(epochs=2), tmp_path / "run", quiet=True)
    rows = _train_rows(tmp_path / "run")
    lrs = [float(r["lr"]) for r in rows]
    assert trainer.counters.step_budget == 12 and len(lrs) == 12  # 2 epochs of 6 steps
    assert lrs[:2] == [3e-3, 3e-3] and lrs[-1] == pytest.approx(
        3e-3 / 10.8
    )  # the last step's rate: (12 - 11) / (12 - 1.2)
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))
    assert trainer.optimizers["model"].param_groups[0]["lr"] == pytest.approx(3e-3 / 10.8)


@pytest.mark.numerics
def test_a_killed_minutes_run_resumes_to_the_weights_of_an_unbroken_run_with_its_budget(tmp_path, monkeypatch):
    measured = tmp_path / "measured"
    seen = []
    original = train.Trainer.save

    def save_then_die(self):  # the first checkpoint after the budget is fixed: stop there, as a kill would
        original(self)
        if self.counters.step_budget and not seen:
            seen.append(self.counters.step)
            raise KeyboardInterrupt

    monkeypatch.setattr(train.Trainer, "save", save_then_die)
    monkeypatch.setattr(schedule, "MEASURE_SHARE", 0.0)  # fix the budget at the first step...
    monkeypatch.setattr(schedule, "budget_from_speed", lambda steps, seconds, total: 15)  # ...to 15 steps
    with pytest.raises(KeyboardInterrupt):
        train.start("vae", TINY, DIGITS, _cfg(minutes=5.0, save_every=0.0), measured, quiet=True)
    monkeypatch.setattr(train.Trainer, "save", original)
    _, _, counters, _ = runs.load_checkpoint(measured)
    assert counters["step_budget"] == 15 and counters["step"] == seen[0] < 15
    resumed = train.resume(measured, quiet=True)
    assert resumed.counters.step == 15  # a --minutes run with a linear schedule stops at its measured budget
    train.start("vae", TINY, DIGITS, _cfg(steps=15), tmp_path / "whole", quiet=True)
    a, b = load_file(str(measured / "model.safetensors")), load_file(str(tmp_path / "whole" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["lr"] for r in _train_rows(measured)] == [r["lr"] for r in _train_rows(tmp_path / "whole")]


def test_steps_is_a_budget_of_its_own(tmp_path):
    with pytest.raises(GenlabError, match="--steps is a budget of its own"):
        train.start("vae", TINY, DIGITS, _cfg(steps=3, epochs=2), tmp_path / "x", quiet=True)
    trainer = train.start("vae", TINY, DIGITS, _cfg(steps=3, lr_schedule="constant"), tmp_path / "y", quiet=True)
    assert trainer.counters.step == 3 and "lr" not in _train_rows(tmp_path / "y")[0]
