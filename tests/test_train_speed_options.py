"""--precision bf16 and --compile: what they change, what they must not, and a clean refusal when
the compiler is missing. (A real --compile run spends half a minute compiling; bench/ times it.)"""

import json

import pytest
import torch
from safetensors.torch import load_file

from genlab import train
from genlab.core.config import DataConfig, TrainConfig

from clihelp import cli_error

TINY = {"hidden": 16, "latent": 3}
DIGITS = DataConfig(data="digits")


def _cfg(**kw):
    return TrainConfig(**{**dict(epochs=1, batch_size=64, lr=3e-3, seed=0, device="cpu", log_every=5), **kw})


def test_bf16_autocast_computes_in_bf16_and_keeps_fp32_weights(tmp_path):
    fp32 = train.start("vae", TINY, DIGITS, _cfg(), tmp_path / "fp32", quiet=True)
    seen = []
    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda m, i, o: seen.append(o.dtype) if m.training and isinstance(m, torch.nn.Linear) else None
    )
    try:
        bf16 = train.start("vae", TINY, DIGITS, _cfg(precision="bf16"), tmp_path / "bf16", quiet=True)
    finally:
        handle.remove()
    assert seen and set(seen) == {torch.bfloat16}  # every training matrix product ran in bf16
    a, b = (load_file(str(tmp_path / name / "model.safetensors")) for name in ("fp32", "bf16"))
    weights = [k for k, v in a.items() if v.dtype == torch.float32]  # not the sampling mixture's float64 buffers
    assert weights and all(b[k].dtype == a[k].dtype for k in a)  # weights stay fp32, every tensor as fp32 stored it
    diff = max((a[k] - b[k]).abs().max().item() for k in weights)
    assert 0 < diff < 0.05  # rounded differently, the same training
    la, lb = (float(t.metrics.rows[-1]["loss"]) for t in (fp32, bf16))
    assert lb == pytest.approx(la, rel=0.02)


def test_resume_may_change_precision_and_processes(tmp_path):
    run = tmp_path / "run"
    train.start("vae", TINY, DIGITS, _cfg(), run, quiet=True)
    trainer = train.resume(run, {"epochs": 2, "precision": "bf16", "nproc": 1}, quiet=True)
    assert trainer.counters.epoch == 2
    assert json.loads((run / "config.json").read_text())["train"]["precision"] == "bf16"


def test_compile_without_a_working_compiler_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    def broken(fn, *args, **kwargs):
        def call(*a, **kw):
            raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found")

        return call

    monkeypatch.setattr(torch, "compile", broken)
    run = tmp_path / "run"
    line = cli_error(
        capsys,
        ["train", "vae", "--data", "digits", "--epochs", "1", "--compile", "--device", "cpu", "--quiet", "--out", run],
    )
    assert "--compile" in line and "No working C++ compiler" in line
    assert not run.exists()  # refused before the run folder was made


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_bf16_channels_last_trains_and_resumes(tmp_path):
    run = tmp_path / "gan"
    values = {"conv_channels": 8, "latent": 8}
    trainer = train.start("gan", values, DIGITS, _cfg(device="cuda", precision="bf16"), run, quiet=True)
    convs = [p for p in trainer.model.parameters() if p.dim() == 4]
    assert convs and all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    resumed = train.resume(run, {"epochs": 2}, quiet=True)
    assert resumed.counters.epoch == 2
    loss = float(resumed.metrics.rows[-1]["loss"])
    assert loss == loss  # finite, not NaN
