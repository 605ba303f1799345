"""`genlab evaluate`, `compare` and `demo`: measure runs, side by side in one report."""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import torch

from genlab.cli.args import data_args, load_run, positive, say, write_json
from genlab.core.config import DataConfig
from genlab.core.errors import GenlabError


def cmd_evaluate(ns: argparse.Namespace) -> None:
    from genlab.data import load_dataset
    from genlab.metrics.evaluate import evaluate, format_report
    from genlab.metrics.spaces import named_space

    positive("iwae-k", ns.iwae_k, 100_000)
    if ns.n:
        positive("n", ns.n, 100_000)
    positive("seeds", ns.seeds, 100)
    if not str(ns.out).endswith(".json"):
        raise GenlabError(f"--out {ns.out}: evaluate writes JSON; give a file name ending in .json")
    run = load_run(ns)
    opts = dict(run.config["data"])
    spec = ns.data or opts.pop("data")
    opts.pop("data", None)
    data = load_dataset(spec, **opts)
    if tuple(data.item_shape) != tuple(run.config["item_shape"]):
        raise GenlabError(
            f"{spec} holds items of shape {data.item_shape} but the run was trained on "
            f"{tuple(run.config['item_shape'])}; pass --data with matching --image-size/--channels data"
        )
    test = data.test[: ns.limit] if ns.limit else data.test
    space = named_space("inception", data, run.model.device, ns.resize) if ns.features == "inception" and ns.n else None
    torch.manual_seed(ns.seed)
    picture = Path(ns.out).with_name(Path(ns.out).stem + "_nearest.png")
    report = {
        "run": str(run.path),
        "model": run.config["model"],
        "data": spec,
        "split": "test",
        "step": run.step,
        **evaluate(
            run.model,
            data,
            test,
            ns.n,
            [ns.seed + i for i in range(ns.seeds)],
            iwae_k=ns.iwae_k,
            seed=ns.seed,
            picture=picture,
            quiet=ns.quiet,
            space=space,
        ),
    }
    write_json(ns.out, report)
    say(format_report(report))
    say(
        f"wrote {ns.out}"
        + (
            f" and {picture} (samples above their nearest training images)"
            if "nearest_picture" in report.get("sample_setup", {})
            else ""
        )
    )


def cmd_compare(ns: argparse.Namespace) -> None:
    from genlab.report.compare import compare

    if ns.n:  # 0: likelihoods and pictures only
        positive("n", ns.n, 100_000)
    positive("seeds", ns.seeds, 100)
    positive("iwae-k", ns.iwae_k, 100_000)
    names = [m.strip() for m in (ns.models or "").split(",") if m.strip()]
    run_dirs = [r.strip() for r in (ns.runs or "").split(",") if r.strip()]
    if ns.jobs is not None:
        positive("jobs", ns.jobs, 1024)
    if run_dirs and data_args(ns):
        raise GenlabError("--runs are evaluated on their own data; leave out the data flags")
    if ns.steps is not None and ns.minutes is not None:
        raise GenlabError("--steps is a budget of its own; give it without --minutes")
    if ns.steps is not None:
        positive("steps", ns.steps, 10_000_000)
    compare(
        ns.out,
        DataConfig(**data_args(ns)),
        names,
        run_dirs,
        minutes=1.0 if ns.minutes is None else ns.minutes,
        n=ns.n,
        seeds=ns.seeds,
        iwae_k=ns.iwae_k,
        limit=ns.limit,
        seed=ns.seed,
        device=ns.device,
        quiet=ns.quiet,
        say=say,
        features=ns.features,
        resize=ns.resize,
        threads=ns.threads,
        jobs=ns.jobs,
        steps=ns.steps,
        conditional=ns.conditional,
    )


DEMO_FAMILIES = ["pixelrnn", "vae", "gan", "gmm"]
# each family's share of the demo's training time, as a multiple of --minutes: the minutes go where they
# buy quality (bench/README.md, "The demo's budget split"). One after another (--jobs 1) they sum to 4
# minutes of wall time; side by side on two or more cores the PixelRNN and the GAN get more CPU minutes
# (each at least its one-core share) while the wall time falls: PixelRNN 2.5 on one core, the GAN 2 then
# the VAE 0.5 on the other, the mixture (EM stops when it converges, in seconds) on whichever frees first
DEMO_SHARES = {"pixelrnn": 1.5, "vae": 0.5, "gan": 1.5, "gmm": 0.5}
DEMO_SHARES_SIDE_BY_SIDE = {"pixelrnn": 2.5, "vae": 0.5, "gan": 2.0, "gmm": 0.5}


def demo_shares(jobs: int | None) -> dict[str, float]:
    """The demo's split for the slots it will have (--jobs, default the cores)."""
    from genlab.core.jobs import default_slots

    return DEMO_SHARES if (jobs or default_slots()) < 2 else DEMO_SHARES_SIDE_BY_SIDE


DEMO_OUTPUTS = ("report.html", "metrics.json", "pictures", "runs")  # what `compare` writes into its folder


def cmd_demo(ns: argparse.Namespace) -> None:
    """`compare` on the 5,000 MNIST digits with every image family: about 5 minutes on a 2-core CPU.

    The report is built in a hidden staging folder and moved into --out only when it is complete,
    so a demo that fails or is killed leaves the previous demo as it was."""
    from genlab.report.compare import compare

    if ns.minutes <= 0:
        raise GenlabError("--minutes must be above 0")
    positive("n", ns.n, 100_000)
    if ns.jobs is not None:
        positive("jobs", ns.jobs, 1024)
    out = Path(ns.out)
    if out.exists() and not out.is_dir():
        raise GenlabError(f"--out {out} is a file; give a folder for the demo's report")
    out.mkdir(parents=True, exist_ok=True)
    recover_demo(out)
    staging = out / f".demo-{time.strftime('%Y%m%d-%H%M%S')}"
    shares = demo_shares(ns.jobs)
    budgets = {name: ns.minutes * shares[name] for name in DEMO_FAMILIES}
    say(
        f"genlab demo: {', '.join(DEMO_FAMILIES)} on mnist5k, {sum(budgets.values()):g} minute(s) of training in "
        f"all ({', '.join(f'{name} {m:g}' for name, m in budgets.items())}), then {ns.n} samples each for the figures"
    )
    try:
        compare(
            staging,
            DataConfig(data="mnist5k"),
            DEMO_FAMILIES,
            minutes=budgets,
            n=ns.n,
            device=ns.device,
            quiet=ns.quiet,
            say=say,
            threads=ns.threads,
            jobs=ns.jobs,
        )
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    swap_in_demo(staging, out)
    say(
        f"the report: {out / 'report.html'} (open it in a browser); figures in {out / 'metrics.json'}, "
        f"pictures in {out / 'pictures'}/, the trained runs in {out / 'runs'}/ (use them with sample, "
        f"complete, interpolate, evaluate and serve)"
    )


def recover_demo(out: Path) -> None:
    """Tidy what a killed demo left: unfinished staging folders go; a previous report that was
    being replaced moves back where it is missing."""
    for leftover in out.glob(".demo-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for old in out.glob(".replaced-*"):
        for name in DEMO_OUTPUTS:
            if (old / name).exists() and not (out / name).exists():
                (old / name).rename(out / name)
        shutil.rmtree(old, ignore_errors=True)


def swap_in_demo(staging: Path, out: Path) -> None:
    """Move a finished report from `staging` into `out`, each entry by one rename; the previous
    demo's entries wait in a hidden folder until the new ones are in place."""
    old = out / f".replaced-{staging.name[len('.demo-') :]}"
    old.mkdir()
    for name in DEMO_OUTPUTS:
        if (out / name).exists():
            (out / name).rename(old / name)
        if (staging / name).exists():
            (staging / name).rename(out / name)
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)
