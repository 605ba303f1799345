"""Training on several processes with PyTorch's own engine: torch.distributed + DistributedDataParallel
(Li et al. 2020, "PyTorch Distributed: Experiences on Accelerating Data Parallel Training").

`torchrun --nproc_per_node=N -m genlab train ...` (or `genlab train ... --nproc N`, which starts
torchrun itself) runs N copies of the trainer. What they share:
- the global batch: `--batch-size` is the batch of one optimisation step summed over processes;
  every process takes a contiguous share of each batch of the epoch's order (a pure function of
  (seed, epoch)), so the shards are disjoint and an N-process run takes the same steps as a
  1-process run, and a run may be resumed with another N;
- the gradient: DDP all-reduces it in buckets during backward; a comm hook weights each process's
  gradient by its share of the batch, so uneven shares still give the gradient of the batch mean;
- the decisions: rank 0 decides when to stop (a --minutes budget) and when to checkpoint, and
  broadcasts them, so no process waits on a collective the others never reach;
- the files: only rank 0 writes the run folder; a checkpoint holds every rank's RNG state.

Models call their networks as usual. During a training step the trainer routes the attributes
named in a model's `ddp_modules` (the GAN: generator and discriminator) to their DDP (and
torch.compile) wrappers; a model without `ddp_modules` is wrapped whole, with its `loss` as the
forward. The registered modules never change, so checkpoints keep their keys, and evaluation and
sampling (rank 0 alone) never meet a wrapper.

Backend: gloo on CPU, nccl on CUDA (each process on GPU LOCAL_RANK).
Deviations: batch norm normalises with each process's share of the batch (DDP's default; a
synchronised batch norm has no CPU kernel); noise drawn inside a model (a VAE's codes, a GAN's z)
comes from each process's own RNG stream.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from typing import Any, Iterator

import torch
import torch.distributed as dist
from torch import nn

from genlab.core.errors import GenlabError


def rank() -> int:
    """This process's rank under torchrun; 0 otherwise."""
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    """How many training processes torchrun started; 1 otherwise."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def launched() -> bool:
    """True inside a process started by torchrun with more than one process."""
    return world_size() > 1


class Group:
    """This process's place among the training processes; world 1 means no collectives at all."""

    def __init__(self, rank: int = 0, world: int = 1, local_rank: int = 0):
        self.rank, self.world, self.local_rank = rank, world, local_rank
        self.device = torch.device("cpu")
        self.share = 1.0  # this process's share of the current batch (read by the comm hook)

    @classmethod
    def from_env(cls, device: torch.device) -> "Group":
        """Join the process group torchrun set up (gloo on CPU, nccl on CUDA); world 1 when not launched."""
        if not launched():
            group = cls()
            group.device = device
            return group
        group = cls(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0)))
        if device.type == "cuda":
            group.device = torch.device("cuda", group.local_rank)
            torch.cuda.set_device(group.device)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return group

    @property
    def main(self) -> bool:
        return self.rank == 0

    def close(self) -> None:
        if self.world > 1 and dist.is_initialized():
            dist.destroy_process_group()

    # --- agreeing ----------------------------------------------------------------------------
    def agree(self, flag: bool) -> bool:
        """Rank 0's flag, on every rank."""
        if self.world == 1:
            return flag
        t = torch.tensor([int(flag)], device=self.device)
        dist.broadcast(t, 0)
        return bool(t.item())

    def weighted(self, value: torch.Tensor) -> torch.Tensor:
        """A figure of this rank's share of the batch, weighted so that `mean` over the ranks gives
        the whole batch's figure: share · world · value (uneven shares, e.g. 49 + 48, included)."""
        return value if self.world == 1 else value * (self.share * self.world)

    def from_main(self, value: int) -> int:
        """Rank 0's integer, on every rank."""
        if self.world == 1:
            return value
        t = torch.tensor([value], dtype=torch.int64, device=self.device)
        dist.broadcast(t, 0)
        return int(t.item())

    def mean(self, values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Each figure averaged over the ranks (one all-reduce for all of them)."""
        if self.world == 1 or not values:
            return values
        keys = sorted(values)
        t = torch.stack([values[k].detach().float().to(self.device) for k in keys])
        dist.all_reduce(t)
        return dict(zip(keys, t / self.world))

    def gather_rng(self) -> dict[str, torch.Tensor]:
        """Every rank's RNG states, keyed `rank{r}/torch` (and `rank{r}/cuda`), for the checkpoint."""
        if self.world == 1:
            return {}
        states = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            states["cuda"] = torch.cuda.get_rng_state(self.device)
        out = {}
        for name, state in states.items():
            parts = [torch.empty_like(state, device=self.device) for _ in range(self.world)]
            dist.all_gather(parts, state.to(self.device))
            out.update({f"rank{r}/{name}": p.cpu() for r, p in enumerate(parts)})
        return out

    # --- the data ------------------------------------------------------------------------------
    def check_same_data(self, fingerprint: str, spec: str) -> None:
        """Refuse, on every rank, training data that differs from rank 0's (the fingerprint is a hex
        hash): a node whose copy of the data differs would train on other items, or hang."""
        if self.world == 1:
            return
        mine = torch.tensor(list(bytes.fromhex(fingerprint)), dtype=torch.uint8, device=self.device)
        everyone = [torch.empty_like(mine) for _ in range(self.world)]
        dist.all_gather(everyone, mine)
        differ = [r for r, theirs in enumerate(everyone) if not torch.equal(theirs, everyone[0])]
        if differ:
            raise GenlabError(
                f"process(es) {', '.join(map(str, differ))} read other training data at {spec} than "
                f"process 0; give every node the same data (a shared folder or identical copies)"
            )

    def check_batches(self, n: int, batch: int) -> None:
        """Refuse a split whose batches (the last one of an epoch included) leave a process empty."""
        smallest = min(batch, n - (math.ceil(n / batch) - 1) * batch)
        if smallest < self.world:
            raise GenlabError(
                f"a batch of {smallest} items cannot be shared by {self.world} processes; choose a "
                f"--batch-size whose batches, the last of an epoch of {n} items included, hold at "
                f"least {self.world}"
            )

    def part(self, idx: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous part of a global batch's indices."""
        return idx if self.world == 1 else torch.tensor_split(idx, self.world)[self.rank]

    def shard(self, idx: torch.Tensor) -> torch.Tensor:
        """`part`, for the batch about to be trained on: sets `share` for the comm hook."""
        mine = self.part(idx)
        self.share = len(mine) / len(idx)
        return mine

    def seed(self, seed: int, step: int) -> None:
        """A fresh RNG stream for ranks above 0 (rank 0 keeps the single-process stream)."""
        if self.rank > 0:
            torch.manual_seed((seed * 1_000_003 + step) * 7919 + self.rank)

    def restore_rng(self, rng: dict[str, torch.Tensor], seed: int, step: int) -> None:
        """Rank r's RNG states from the checkpoint; a rank the checkpoint did not know reseeds."""
        if self.rank == 0:
            return
        if f"rank{self.rank}/torch" not in rng:
            self.seed(seed, step)
            return
        torch.set_rng_state(rng[f"rank{self.rank}/torch"])
        if self.device.type == "cuda" and f"rank{self.rank}/cuda" in rng:
            torch.cuda.set_rng_state(rng[f"rank{self.rank}/cuda"], self.device)


def _weighted_allreduce(group, bucket):  # no annotations: DDP checks them, and this file's are strings
    """DDP comm hook, (Group, GradBucket) -> Future: Σ_r share_r · grad_r, the gradient of the global
    batch's mean loss whatever the shares."""
    buf = bucket.buffer().mul_(group.share)
    return dist.all_reduce(buf, async_op=True).get_future().then(lambda fut: fut.value()[0])


class _Objective(nn.Module):
    """A whole model seen as a module whose forward is its `loss`, for DDP and torch.compile."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch: torch.Tensor, **labels: torch.Tensor) -> dict[str, torch.Tensor]:
        return type(self.model).loss(self.model, batch, **labels)  # the class's loss, not the routed attribute


class Wrappers:
    """The DDP / torch.compile wrappers of a model's networks and the attributes they stand in for.

    A model naming `ddp_modules` gets each of those wrapped (DDP, then compiled). Any other model
    is wrapped whole in DDP (its `loss` as forward) and, with --compile, each child network that
    has a forward is compiled: the loss's own code (noise draws, reductions) stays eager."""

    def __init__(self, model: nn.Module, group: Group, compile: bool):
        self.routes: dict[str, Any] = {}
        names = getattr(model, "ddp_modules", ())
        for name in names:
            self.routes[name] = self._wrap(model._modules[name], group, compile)
        if names:
            return
        if group.world > 1:
            self.routes["loss"] = self._wrap(_Objective(model), group, False)
        if compile:
            self.routes.update(
                {
                    name: torch.compile(child)
                    for name, child in model.named_children()
                    if type(child).forward is not nn.Module.forward
                }
            )  # not ModuleList & co

    @staticmethod
    def _wrap(module: nn.Module, group: Group, compile: bool) -> nn.Module:
        if group.world > 1:
            module = nn.parallel.DistributedDataParallel(
                module, device_ids=[group.device.index] if group.device.type == "cuda" else None
            )
            module.register_comm_hook(group, _weighted_allreduce)
        return torch.compile(module) if compile else module

    @contextlib.contextmanager
    def routed(self, model: nn.Module) -> Iterator[None]:
        """Within the block, `model.NAME` is the wrapper (an instance attribute shadows the registered
        module, or the class's `loss`); afterwards the model is exactly as it was."""
        for name, module in self.routes.items():
            object.__setattr__(model, name, module)
        try:
            yield
        finally:
            for name in self.routes:
                model.__dict__.pop(name, None)


def check_compiler(device: torch.device) -> None:
    """Compile and run a one-line function, so a missing toolchain fails before training starts."""
    try:
        torch.compile(lambda x: x * 2 + 1)(torch.ones(4, device=device))
    except Exception as exc:  # the compiler raises many types; all mean "not usable here"
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise GenlabError(
            f"--compile: torch.compile does not work on this machine ({first}); it needs a C++ "
            f"compiler on CPU or triton on CUDA; train without --compile"
        ) from None


def launch(argv: list[str], nproc: int) -> None:
    """Run `python -m genlab ARGV` in `nproc` processes under torchrun (torch.distributed.run) on this
    machine; returns when they all end. When a process stops with a user error, rank 0 has printed
    it: this raises an empty GenlabError (exit code 2, nothing more printed)."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    # each process's share of the cores (torchrun would set 1 and print a banner saying so)
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    args = get_args_parser().parse_args(["--standalone", f"--nproc-per-node={nproc}", "-m", "genlab"])
    args.training_script_args = list(argv)  # set after parsing: torchrun's parser would take --nproc for its own
    elastic = logging.getLogger("torch.distributed.elastic")
    level = elastic.level
    elastic.setLevel(logging.CRITICAL)  # its report of a failed worker would repeat rank 0's error
    try:
        run(args)
    except ChildFailedError as exc:
        if 2 in {f.exitcode for f in exc.failures.values()}:
            raise GenlabError("") from None
        raise
    finally:
        elastic.setLevel(level)
