"""Quality per CPU minute: each image family trained with genlab's defaults for a wall-clock budget
on mnist5k, beside the plain PyTorch loop of the same classic network for the same budget (the
784-400-20 VAE, the DCGAN of PyTorch's example, the PixelCNN: the loops the speed benchmarks time,
with the tutorials' Adam settings), all scored the same way.

Every `--every` minutes of training (and at the end) 1,000 samples from one fixed seed are scored
against the 1,000 test digits in genlab's feature space for mnist5k (its digit classifier): FID,
KID, precision/recall (k = 3), the classifier's mean top-class confidence, the classifier
"inception score" exp E KL(p(y|x) || p(y)), and the nearest-neighbour ratio to the training set
in the same features (1: new digits, 0: copies). genlab's runs get these through `--quality-every`
(the trainer's probe), the plain loops through the same call at the same times; scoring time is
left out of the training time. The real floor: 1,000 training digits scored the same way.

    .venv/bin/python bench/quality.py [--minutes 4] [--every 1] [--seeds 1] [--families pixelrnn,vae,gan,gmm]
                                      [--variant 'pixelrnn:arch=gated-pixelcnn,layers=8,lr=1e-2'] ...
                                      [--temperatures 0.9,0.8] [--grids] [--quick] [--out bench/quality]

--variant FAMILY:KEY=VALUE,...: one more genlab run with these options (repeatable; the spec is its
label in the table): the family's model options (arch, layers, width, ...), training options
(lr, lr_schedule, batch_size, ...) and `temperature`, the sampling temperature of its scored
samples (likelihoods stay those of temperature 1). --temperatures: each genlab run's final model
is also scored at these temperatures (rows labelled "@T"). --grids: OUT/grids/LABEL.png, 64
samples (seed 0) of each run's final model at each temperature it is scored at.

--quick: 1 minute, scored every half minute. Prints a table (median over seeds at each scored
budget) and the time to FID <= 2x the real floor; writes OUT/time_to_quality.png and OUT/rows.json.
Everything runs on one thread (genlab's policy for these networks on a shared 2-core machine).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gan_speed  # noqa: E402
import genlab  # noqa: E402
from genlab import train, viz  # noqa: E402
from genlab.core import threads  # noqa: E402
from genlab.core.config import DataConfig, TrainConfig  # noqa: E402
from genlab.core.errors import GenlabError  # noqa: E402
from genlab.data import Palette, load_dataset  # noqa: E402
from genlab.metrics.classifier import class_probabilities, classifier_scores  # noqa: E402
from genlab.metrics.evaluate import draw  # noqa: E402
from genlab.metrics.features import feature_space  # noqa: E402
from genlab.metrics.fid import fid, kid  # noqa: E402
from genlab.metrics.memorization import memorization  # noqa: E402
from genlab.metrics.prdc import prdc  # noqa: E402
from genlab.models import model_class  # noqa: E402
from genlab.models.gan import GAN, GANConfig  # noqa: E402
from genlab.models.pixelrnn import PixelRNN, PixelRNNConfig  # noqa: E402
from genlab.models.vae import VAE, VAEConfig  # noqa: E402

N, SAMPLE_SEED = 1000, 0
FIGURES = ("fid", "kid", "precision", "recall", "confidence", "inception_score", "nn_ratio")
EXTRAS = ("steps", "test_nll")  # genlab's runs: steps trained, the final model's test NLL (nats per image)
PLAIN = {"pixelrnn": "plain PixelCNN", "vae": "plain VAE 784-400-20", "gan": "plain DCGAN"}


class Scorer:
    """model or images -> the figures above, against the test split; a Trainer probe as it stands."""

    def __init__(self, data, temperature: float = 1.0):
        self.space = feature_space(data)
        self.real = self.space.embed(data.test)
        self.train_features = self.space.embed(data.train)
        self.temperature = temperature

    def at_temperature(self, temperature: float) -> Scorer:
        """The same scorer (same features) drawing its samples at `temperature`."""
        other = copy.copy(self)
        other.temperature = temperature
        return other

    def images(self, samples: torch.Tensor) -> dict[str, float]:
        fake = self.space.embed(samples)
        pr = prdc(self.real, fake)
        return {
            "fid": fid(self.real, fake),
            "kid": kid(self.real, fake, seed=0, warn=False).mean,
            "precision": pr["precision"],
            "recall": pr["recall"],
            **classifier_scores(class_probabilities(self.space, samples)),
            "nn_ratio": memorization(fake, self.train_features, self.real)[0]["ratio"],
        }

    def __call__(self, model) -> dict[str, float]:
        return self.images(sample(model, N, self.temperature))


def sample(model, n: int, temperature: float = 1.0) -> torch.Tensor:
    """n samples from seed SAMPLE_SEED (metrics.evaluate.draw), at `temperature` where it is not 1."""
    if temperature == 1.0:
        return draw(model, n, SAMPLE_SEED)
    g = torch.Generator(device=model.device).manual_seed(SAMPLE_SEED)
    return torch.cat(
        [model.sample(min(500, n - i), generator=g, temperature=temperature).cpu() for i in range(0, n, 500)]
    )


@dataclasses.dataclass
class Variant:
    """One genlab run: a family and option overrides, parsed from `FAMILY[:KEY=VALUE,...]`."""

    label: str
    family: str
    model: dict
    train: dict
    temperature: float = 1.0

    @classmethod
    def parse(cls, spec: str) -> Variant:
        family, _, rest = spec.partition(":")
        model_fields = {f.name: f for f in dataclasses.fields(model_class(family.strip()).Config)}
        train_fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
        v = cls(f"genlab {spec}", family.strip(), {}, {})
        for item in filter(None, (x.strip() for x in rest.split(","))):
            key, eq, value = item.partition("=")
            key = key.strip().replace("-", "_")
            if not eq:
                raise GenlabError(f"--variant {spec}: {item!r} is not KEY=VALUE")
            if key == "temperature":
                v.temperature = float(value)
            elif key in model_fields:
                v.model[key] = typed_value(model_fields[key], value, spec)
            elif key in train_fields and key not in FIXED:
                v.train[key] = typed_value(train_fields[key], value, spec)
            else:
                raise GenlabError(
                    f"--variant {spec}: unknown option {key!r} (the {family} options, the training "
                    f"options but {', '.join(sorted(FIXED))}, or temperature)"
                )
        return v


FIXED = {"minutes", "seed", "device", "quality_every", "threads", "epochs", "steps"}  # set by the bench itself


def typed_value(field: dataclasses.Field, value: str, spec: str):
    """A variant's text value as its config field's type (bool, int, float or str, from the annotation)."""
    kind = str(field.type)
    try:
        if "bool" in kind:
            return {"true": True, "false": False, "1": True, "0": False}[value.strip().lower()]
        for name, convert in (("int", int), ("float", float)):
            if re.search(rf"\b{name}\b", kind):
                return convert(value)
    except (KeyError, ValueError):
        raise GenlabError(f"--variant {spec}: {field.name}={value!r} is not a {kind}") from None
    return value.strip()


def genlab_run(
    variant: Variant,
    minutes: float,
    every: float,
    seed: int,
    scorer: Scorer,
    folder: Path,
    lr_schedule: str = "constant",
    spec: str = "mnist5k",
) -> list[dict]:
    """Train the variant on `spec` for `minutes`, scored every `every` minutes; the run folder is folder/run."""
    cfg = TrainConfig(
        minutes=minutes, seed=seed, device="cpu", quality_every=every * 60, threads=1, lr_schedule=lr_schedule
    )
    cfg = dataclasses.replace(cfg, **variant.train)
    probe = scorer.at_temperature(variant.temperature)
    train.start(
        variant.family,
        variant.model,
        DataConfig(data=spec),
        cfg,
        folder / "run",
        quiet=True,
        typed={"minutes", "seed", "device", "quality_every", "threads", "lr_schedule", *variant.train},
        probe=lambda data: probe,
    )
    metrics = viz.read_metrics(folder / "run" / "metrics.csv")
    nll = {r["step"]: float(r["nll"]) for r in metrics if r.get("split") == "test" and r.get("nll")}  # nats per image
    return [
        {
            "seconds": float(r["seconds"]),
            "steps": float(r["step"]),
            **{k: float(r[k]) for k in FIGURES},
            **({"test_nll": nll[r["step"]]} if r["step"] in nll else {}),
        }
        for r in metrics
        if r.get("fid")
    ]


def slug(label: str) -> str:
    """A file name for a run's label."""
    return re.sub(r"[^A-Za-z0-9.=-]+", "_", label).strip("_")


def plain_model(family: str, palette: Palette, spec: str = "mnist5k"):
    """(model to sample from, its training data, one step of the plain loop on a batch); the VAE and
    the PixelCNN on `palette` (mnist5k: binarized)."""
    data = load_dataset(spec).train
    shape = tuple(data.shape[1:])  # (1, 28, 28) for mnist5k
    if family == "gan":
        loop = gan_speed.ExampleLoop(GAN(GANConfig(), shape))
        return loop.gan, data.float() / 127.5 - 1, loop.step  # (N, C, H, W) in [-1, 1]
    model = (
        VAE(VAEConfig(colors=palette.k, sample_prior="normal"), shape, palette)
        if family == "vae"  # codes from N(0, I)
        else PixelRNN(PixelRNNConfig(arch="pixelcnn", layers=5, width=32, colors=palette.k, ema=0.0), shape, palette)
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)  # the tutorials' setting

    def step(x: torch.Tensor) -> None:
        opt.zero_grad()
        loss = model.loss(x)["loss"]
        loss.backward()
        opt.step()
        loss.item()  # the tutorials log every step

    return model, model.prepare(data), step


def plain_run(
    family: str, minutes: float, every: float, seed: int, scorer: Scorer, palette: Palette, spec: str = "mnist5k"
) -> list[dict]:
    """The tutorial loop (DataLoader, shuffle) for `minutes` of training, scored every `every` minutes."""
    torch.manual_seed(seed)
    model, data, step = plain_model(family, palette, spec)
    loader = DataLoader(TensorDataset(data), batch_size=gan_speed.BATCH if family == "gan" else 128, shuffle=True)
    rows, trained, last = [], 0.0, 0.0

    def score() -> None:
        model.eval()
        with torch.random.fork_rng(devices=[]):
            rows.append({"seconds": trained, **scorer(model)})
        model.train()

    while trained < minutes * 60:
        for (x,) in loader:
            start = time.perf_counter()
            model.train()
            step(x)
            trained += time.perf_counter() - start
            if trained - last >= every * 60:
                score()
                last = trained
            if trained >= minutes * 60:
                break
    if rows[-1]["seconds"] != trained:
        score()
    return rows


def median(rows: list[dict], key: str) -> str:
    """The median of `key` over the rows that have it, for the table ("" where none has)."""
    values = [r[key] for r in rows if key in r]
    return f"{statistics.median(values):.3g}" if values else ""


def at(rows: list[dict], minutes: float) -> dict | None:
    """The first row scored at or after `minutes` of training, else the last (a run that stopped early)."""
    later = [r for r in rows if r["seconds"] >= minutes * 60 - 1e-9]
    return later[0] if later else (rows[-1] if rows else None)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=4.0)
    p.add_argument("--every", type=float, default=1.0, help="minutes between scorings")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--families", default="pixelrnn,vae,gan,gmm", help="genlab's defaults ('' for none)")
    p.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="FAMILY:KEY=VALUE,...",
        help="one more genlab run with these options (repeatable), e.g. 'pixelrnn:arch=gated-pixelcnn,layers=8'",
    )
    p.add_argument("--temperatures", default="", help="also score each genlab run's final model at these, e.g. 0.9,0.8")
    p.add_argument("--grids", action="store_true", help="save 64 samples of each run's final model: OUT/grids/")
    p.add_argument("--quick", action="store_true")
    p.add_argument(
        "--lr-schedule",
        default="constant",
        choices=("constant", "linear"),
        help="genlab's runs: linear decays to 0 at the budget's end (then only the last row is that budget's)",
    )
    p.add_argument("--no-plain", action="store_true", help="genlab's runs only (for sweeps)")
    p.add_argument("--out", default="bench/quality")
    args = p.parse_args()
    if args.quick:
        args.minutes, args.every = 1.0, 0.5
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    try:
        variants = [Variant.parse(f) for f in families] + [Variant.parse(v) for v in args.variant]
        temperatures = [float(t) for t in args.temperatures.split(",") if t.strip()]
    except (GenlabError, ValueError) as e:
        p.error(str(e))  # one line, exit 2
    threads.apply(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_dataset("mnist5k")
    scorer = Scorer(data)
    floor = scorer.images(data.train[:N])
    palette = Palette.fit(data.train, 2, seed=0)
    if args.grids:
        (out / "grids").mkdir(exist_ok=True)
    load = [os.getloadavg()[0]]
    runs: dict[str, list[list[dict]]] = {}
    for seed in range(args.seeds):
        for variant in variants:
            with tempfile.TemporaryDirectory() as tmp:
                runs.setdefault(variant.label, []).append(
                    genlab_run(variant, args.minutes, args.every, seed, scorer, Path(tmp), args.lr_schedule)
                )
                finals = {variant.temperature: runs[variant.label][-1][-1]}
                model = genlab.load(Path(tmp) / "run").model if temperatures or args.grids else None
                for t in temperatures:
                    final = finals[variant.temperature]
                    finals[t] = {
                        "seconds": final["seconds"],
                        "steps": final["steps"],
                        **scorer.at_temperature(t)(model),
                    }
                    runs.setdefault(f"{variant.label} @T{t:g}", []).append([finals[t]])
                if args.grids and seed == 0:
                    for t in finals:
                        viz.save_grid(sample(model, 64, t), out / "grids" / f"{slug(variant.label)}@T{t:g}.png", nrow=8)
            family = variant.family
            if variant.label == f"genlab {family}" and family in PLAIN and not args.no_plain:
                runs.setdefault(PLAIN[family], []).append(
                    plain_run(family, args.minutes, args.every, seed, scorer, palette)
                )
            load.append(os.getloadavg()[0])
            print(
                f"seed {seed}: {variant.label} done (load average {load[-1]:.2f}); final FID "
                + ", ".join(f"{r[-1]['fid']:.3g}" for r in runs[variant.label]),
                file=sys.stderr,
                flush=True,
            )
    budgets = [round(args.every * i, 6) for i in range(1, int(round(args.minutes / args.every)) + 1)]
    print(
        f"torch {torch.__version__}, 1 thread; genlab --lr-schedule {args.lr_schedule}; mnist5k, {N} samples vs {len(data.test)} test digits in "
        f"{scorer.space.name}; {args.seeds} seed(s), medians; load average {min(load):.1f}-{max(load):.1f}"
    )
    print(
        f"real floor ({N} training digits, not in the test split; their nn_ratio is 0 by construction): "
        + ", ".join(f"{k} {v:.3g}" for k, v in floor.items() if k != "nn_ratio")
    )
    print("| run | minutes | " + " | ".join(EXTRAS + FIGURES) + " |\n|---|---:|" + "---:|" * len(EXTRAS + FIGURES))
    lines = {}
    for name, seeds in runs.items():
        for b in budgets if "@T" not in name else budgets[-1:]:  # a temperature row: the final model only
            rows = [r for r in (at(s, b) for s in seeds) if r]
            print(f"| {name} | {b:g} | " + " | ".join(median(rows, k) for k in EXTRAS + FIGURES) + " |")
        reach = [next((r["seconds"] / 60 for r in s if r["fid"] <= 2 * floor["fid"]), None) for s in seeds]
        reached = [m for m in reach if m is not None]
        print(
            f"  {name}: FID <= 2x the real floor ({2 * floor['fid']:.3g}) after "
            + (
                f"{statistics.median(reached):.2f} min"
                if len(reached) == len(reach)
                else f"more than {args.minutes:g} min (not reached in {len(reach) - len(reached)} of {len(reach)} seed(s))"
            )
        )
        if "@T" not in name:
            lines[name] = [[r["seconds"] / 60, r["fid"]] for r in seeds[0]]
    viz.save_line_plot(
        lines,
        out / "time_to_quality.png",
        xlabel="training minutes (scoring left out)",
        ylabel=f"FID, {N} samples, domain features (log)",
        title="mnist5k: time to quality",
        log_y=True,
    )
    (out / "rows.json").write_text(json.dumps({"floor": floor, "runs": runs}, indent=1))
    print(f"wrote {out / 'time_to_quality.png'} and {out / 'rows.json'}")


if __name__ == "__main__":
    main()
