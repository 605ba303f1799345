"""Two nodes simulated on one machine over loopback: two torchrun launchers (`--nnodes 2`, node ranks
0 and 1, one process each) meet at a rendezvous on 127.0.0.1, take one optimisation step together,
and give the gradient and weights of a one-process run with the same global batch. Each node runs in
its own working directory with the same relative `--out`, so anything global rank 1 wrote would
land in node 1's directory: it must stay empty."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from test_distributed import DIGITS, GRAD_RTOL, PCNN, _assert_same_gradient, _cfg, _free_port, _in_processes, _start

from genlab.core.config import DataConfig
from genlab.data import load_dataset
from genlab.data.formats.pack_writer import write_pack

pytestmark = pytest.mark.numerics  # two nodes' gradient against one process's

WORKER = Path(__file__).with_name("node_worker.py")
BATCH = 1497  # every training digit in one step: ranks 0 and 1 take 749 and 748
FP32_EPS = torch.finfo(torch.float32).eps


def _two_nodes(tmp_path: Path) -> Path:
    """Start both launchers, wait for them; return the folder with each rank's weights and gradients."""
    weights, port = tmp_path / "weights", _free_port()
    weights.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo", "PYTHONPATH": str(WORKER.parent)}
    launchers = []
    for node in (0, 1):
        cwd = tmp_path / f"node{node}"
        cwd.mkdir()
        argv = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nnodes",
            "2",
            "--node-rank",
            str(node),
            "--nproc-per-node",
            "1",
            "--master-addr",
            "127.0.0.1",
            "--master-port",
            str(port),
            str(WORKER),
            "run",
            str(weights),
            str(BATCH),
        ]
        launchers.append(
            subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        )
    try:
        errors = [p.communicate(timeout=180)[1] for p in launchers]
    finally:
        for p in launchers:
            p.kill()
    assert [p.returncode for p in launchers] == [0, 0], errors
    return weights


def test_two_nodes_over_loopback_equal_one_process_and_only_rank_0_writes(tmp_path):
    weights = _two_nodes(tmp_path)
    _start(0, "pixelrnn", PCNN, DIGITS, _cfg(epochs=1, batch_size=BATCH), tmp_path / "one", tmp_path / "one")
    one, r0, r1 = (load_file(str(p)) for p in (tmp_path / "one" / "rank0", weights / "rank0", weights / "rank1"))
    assert (r0["seen"].tolist(), r1["seen"].tolist(), one["seen"].tolist()) == ([749], [748], [BATCH])

    grads = [k for k in one if k.startswith("grad0/")]
    assert grads
    for k in grads:  # the tolerance and why: test_distributed.py
        assert torch.equal(r0[k], r1[k]), k  # the all-reduce hands both nodes the same sum
        _assert_same_gradient(r0[k], one[k], k)
        assert (r0[k] / 2 - one[k]).abs().max() > 100 * GRAD_RTOL * one[k].abs().max(), k  # a halved one is far off

    # Adam's first step moves a weight by lr * g / (|g| + 1e-8): a gradient off by at most
    # e = GRAD_RTOL * max|g| changes that by at most lr * 2e / max(|g|, e), plus the weight's rounding.
    lr = _cfg().lr
    for k in [k[len("grad0/") :] for k in grads]:
        g = one[f"grad0/{k}"]
        e = GRAD_RTOL * float(g.abs().max())
        bound = lr * 2 * e / g.abs().clamp(min=e) + 2 * FP32_EPS * one[k].abs()
        assert torch.equal(r0[k], r1[k]), k
        assert ((r0[k] - one[k]).abs() <= bound).all(), (k, float((r0[k] - one[k]).abs().max()))

    run = tmp_path / "node0" / "run"
    assert {p.name for p in run.iterdir()} >= {
        "config.json",
        "model.safetensors",
        "checkpoint.safetensors",
        "metrics.csv",
    }
    assert torch.equal(load_file(str(run / "model.safetensors"))["net.first.weight"], r0["net.first.weight"])
    assert list((tmp_path / "node1").iterdir()) == []  # global rank 1 wrote nothing


def _other_data_on_rank_1(rank, packs, run):
    from genlab.core.errors import GenlabError

    with pytest.raises(GenlabError, match=r"process\(es\) 1 read other training data"):
        _start(rank, "vae", {}, DataConfig(data=str(packs[rank])), _cfg(batch_size=100), run)


def test_a_node_with_other_data_is_refused_before_the_run_folder_is_made(tmp_path):
    """Each node loads the data itself; a node whose copy differs would train on other items (or,
    with another item count, wait forever in a collective), so all refuse before anything is written."""
    digits = load_dataset("digits")
    same = write_pack(digits, tmp_path / "node0")
    digits.train[0, 0, 0, 0] ^= 1  # node 1's copy: one pixel of one training digit differs
    other = write_pack(digits, tmp_path / "node1")
    _in_processes(2, _other_data_on_rank_1, (same, other), tmp_path / "run")
    assert not (tmp_path / "run").exists()
