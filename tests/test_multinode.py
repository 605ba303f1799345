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
from test_distributed import DIGITS, PCNN, _cfg, _free_port, _in_processes, _start

from genlab.config import DataConfig
from genlab.data import load_dataset
from genlab.data.pack_writer import write_pack

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
        argv = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--node-rank", str(node),
                "--nproc-per-node", "1", "--master-addr", "127.0.0.1", "--master-port", str(port),
                str(WORKER), "run", str(weights), str(BATCH)]
        launchers.append(subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                          text=True))
    try:
        errors = [p.communicate(timeout=180)[1] for p in launchers]
    finally:
        for p in launchers:
            p.kill()
    assert [p.returncode for p in launchers] == [0, 0], errors
    return weights


def _reduction_tolerance(grad: torch.Tensor, terms: int) -> float:
    """How far two fp32 sums of the same `terms` products may drift apart when added in another order.

    A gradient element here is a mean over the batch and the image positions (terms = B*H*W). The
    two-node run sums each rank's share, weights it by its share and adds the two partial sums; the
    one-process run sums all terms in one pass. Rounding errors of a reassociated sum add up like a
    random walk, about eps * sqrt(terms) relative to the magnitude of the terms; 8x that covers the
    kernels' blocking (AVX2, AVX-512 or scalar) and the tail of the walk. The terms' magnitude is
    bounded by the tensor's largest gradient (a mean is not smaller than its terms' typical size
    unless they cancel; cancellation makes the bound looser, never tighter). A gradient averaged
    over the wrong world size (off by 2x) or a batch sharded twice (another mean) is off by O(|grad|),
    far beyond this."""
    return 8 * FP32_EPS * terms ** 0.5 * float(grad.abs().max())


def test_two_nodes_over_loopback_equal_one_process_and_only_rank_0_writes(tmp_path):
    weights = _two_nodes(tmp_path)
    _start(0, "pixelrnn", PCNN, DIGITS, _cfg(epochs=1, batch_size=BATCH), tmp_path / "one", tmp_path / "one")
    one, r0, r1 = (load_file(str(p)) for p in (tmp_path / "one" / "rank0", weights / "rank0", weights / "rank1"))
    assert (r0["seen"].tolist(), r1["seen"].tolist(), one["seen"].tolist()) == ([749], [748], [BATCH])

    grads = [k for k in one if k.startswith("grad/")]
    assert grads
    for k in grads:
        assert torch.equal(r0[k], r1[k]), k  # the all-reduce hands both nodes the same sum
        tol = _reduction_tolerance(one[k], BATCH * 8 * 8)
        assert (r0[k] - one[k]).abs().max() <= tol, (k, float((r0[k] - one[k]).abs().max()), tol)
        assert (r0[k] / 2 - one[k]).abs().max() > 100 * tol, k  # the check tells a halved gradient apart

    # One Adam step moves each weight by lr * g / (|g| + 1e-8) (bias-corrected, first step): the gradient
    # differences above change that by a relative ~tol / |g|; weights must agree far below the step (3e-3).
    params = [k for k in one if not k.startswith(("grad/", "seen")) and f"grad/{k}" in one]
    for k in params:
        assert torch.equal(r0[k], r1[k]), k
        assert torch.allclose(r0[k], one[k], rtol=0, atol=1e-6), (k, float((r0[k] - one[k]).abs().max()))

    run = tmp_path / "node0" / "run"
    assert {p.name for p in run.iterdir()} >= {"config.json", "model.safetensors", "checkpoint.safetensors",
                                                 "metrics.csv"}
    assert torch.equal(load_file(str(run / "model.safetensors"))["net.first.weight"], r0["net.first.weight"])
    assert list((tmp_path / "node1").iterdir()) == []  # global rank 1 wrote nothing


def _other_data_on_rank_1(rank, packs, run):
    from genlab.errors import GenlabError

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
