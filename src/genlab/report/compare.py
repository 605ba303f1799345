"""`genlab compare`: train several families on the same data under the same wall-clock budget (or
take given runs), evaluate them in one feature space, and write DIR/report.html + DIR/metrics.json.

The families train side by side, then are evaluated side by side, one child process each and as
many at once as `--jobs` (default: the cores); families.py runs them, and a family that fails is
named in the report while the others go on. DIR/runs/NAME holds each trained run (usable with every
other command); DIR/pictures/ the PNGs (and, for sound, the WAVs) the page embeds. The page itself
needs nothing beside it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, NamedTuple

import torch

from genlab import viz
from genlab.core.config import DataConfig, to_dict
from genlab.core.errors import GenlabError
from genlab.core.fsutil import atomic_write_text
from genlab.data import Dataset, load_dataset
from genlab.metrics.evaluate import draw, evaluate, item_kind
from genlab.metrics.features import feature_space
from genlab.metrics.spaces import named_space
from genlab.models import REGISTRY, Capability
from genlab.models.base import takes_labels
from genlab.report import families as family_jobs
from genlab.train import runs

PICTURE_SEED = 0
SHOWN = 8  # test images per row in reconstructions, interpolations and completions
SOUNDS = 4  # sounds of each audio family, and test clips, played in the report


class Picture(NamedTuple):
    path: Path
    caption: str
    plot: bool = False  # a matplotlib figure (shown wider, smoothly scaled) rather than a pixel grid
    sound: Path | None = None  # a .wav the page plays above the picture (its spectrogram)


@dataclass
class Entry:
    """One compared run: its label in the report, the run's folder and config, its figures and pictures."""

    label: str
    path: Path
    config: dict
    report: dict
    training: dict
    pictures: list[Picture] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "label": self.label,
            "path": str(self.path),
            "config": self.config,
            "report": self.report,
            "training": self.training,
            "pictures": [[str(p.path), p.caption, p.plot, p.sound and str(p.sound)] for p in self.pictures],
        }

    @classmethod
    def from_json(cls, d: dict) -> "Entry":
        pictures = [
            Picture(Path(path), caption, plot, Path(sound) if sound else None)
            for path, caption, plot, sound in d["pictures"]
        ]
        return cls(d["label"], Path(d["path"]), d["config"], d["report"], d["training"], pictures)


def kinds_of(name: str) -> tuple[str, ...]:
    return REGISTRY[name].kinds()


def check_families(names: list[str], data: Dataset, conditional: bool = False) -> None:
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise GenlabError(
            f"no model family {', '.join(unknown)} in this genlab; the registered families are "
            f"{', '.join(sorted(REGISTRY))}"
        )
    wrong = [n for n in names if data.kind not in kinds_of(n)]
    if wrong:
        raise GenlabError(
            f"{', '.join(wrong)} cannot train on {data.spec}, which holds {data.kind} data; "
            f"families for it: {', '.join(default_families(data)) or 'none'}"
        )
    if conditional:
        if data.train_labels is None or len(torch.unique(data.train_labels)) < 2:
            raise GenlabError(
                f"--conditional needs class labels, and {data.spec} has none; compare without --conditional"
            )
        plain = [n for n in names if not takes_labels(REGISTRY[n])]
        if plain:
            raise GenlabError(
                f"{', '.join(plain)} cannot train class-conditional; families that can: "
                f"{', '.join(default_families(data, True)) or 'none'}"
            )


def default_families(data: Dataset, conditional: bool = False) -> list[str]:
    return [n for n in sorted(REGISTRY) if data.kind in kinds_of(n) and (takes_labels(REGISTRY[n]) or not conditional)]


def training_summary(run: runs.LoadedRun | Path, step: int = 0) -> dict:
    """Epochs, steps and seconds from the run's metrics.csv (its last row), its sample-quality rows
    (--quality-every) as [training seconds, FID] pairs, and the wall and CPU seconds of the job that
    trained it when a compare did (families.STATS). `run`: a loaded run, or a run folder."""
    path, step = (run.path, run.step) if isinstance(run, runs.LoadedRun) else (Path(run), step)
    csv = path / "metrics.csv"
    rows = viz.read_metrics(csv) if csv.is_file() else []
    job = family_jobs.read_stats(path)
    if not rows:
        return {"steps": step, **job}
    last = rows[-1]
    quality = [[float(r["seconds"]), float(r["fid"])] for r in rows if r["split"] == "test" and r.get("fid")]
    return {
        "steps": int(last["step"]),
        "epochs": float(last["epoch"]),
        "seconds": float(last["seconds"]),
        **job,
        **({"quality": quality} if quality else {}),
    }


def quality_picture(entries: list[Entry], folder: Path) -> Picture | None:
    """FID against training seconds, one line per run that logged sample-quality rows."""
    lines = {e.label: e.training["quality"] for e in entries if e.training.get("quality")}
    if not lines:
        return None
    path = folder / "time_to_quality.png"
    viz.save_line_plot(
        lines,
        path,
        xlabel="training seconds",
        ylabel="FID (250 samples, domain features; log scale)",
        title="time to quality",
        log_y=True,
    )
    return Picture(
        path,
        "FID of 250 samples while training, against training seconds, one line per family "
        "(measured in the data's own feature space every tenth of the budget; biased upward by the "
        "few samples, so compare the lines, not these values with the table's)",
        plot=True,
    )


class CompareFailed(GenlabError):
    """Some families failed; the report holds the others. Exit code 2 when every failure was a user
    error (data, options), else 1 (a bug)."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def compare(
    out: str | Path,
    data_cfg: DataConfig | None = None,
    families: list[str] | None = None,
    run_dirs: list[str] | None = None,
    minutes: float | dict[str, float] | None = 1.0,
    n: int = 1000,
    seeds: int = 1,
    iwae_k: int = 100,
    limit: int | None = None,
    seed: int = 0,
    device: str = "cpu",
    quiet: bool = False,
    say: Callable[[str], None] = print,
    features: str = "domain",
    resize: str = "tf1",
    threads: int | None = None,
    jobs: int | None = None,
    steps: int | None = None,
    conditional: bool = False,
) -> dict:
    """Train (or take) the runs, evaluate them and write the report; returns metrics.json's content.
    `minutes`: every family's training budget, or each family's ({name: minutes}, the demo's split);
    `steps`: a budget of optimisation steps instead (the same weights however busy the machine);
    `jobs`: families trained and evaluated side by side (default: the cores; 1: one after another
    in this process); `conditional`: train the class-conditional model of every family. A family that
    fails is named in the report, and CompareFailed is raised after it."""
    from genlab.core.jobs import default_slots
    from genlab.report.html import budget_words, render_report
    from genlab.train.trainer import resolve_device

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise GenlabError(f"--out {out} is a file; give a folder for the report")
    if len(set(families or [])) < len(families or []) or len(set(map(str, run_dirs or []))) < len(run_dirs or []):
        raise GenlabError("a family or run is named twice; name each once")
    if jobs is not None and jobs < 1:
        raise GenlabError(f"--jobs must be at least 1, not {jobs}")
    slots = jobs or default_slots()
    failures: list[family_jobs.Failure] = []
    job_figures: dict[str, dict] = {}
    budgets: dict[str, float] | None = None
    if run_dirs:
        if families or conditional:
            raise GenlabError(
                "give --models (train them now) or --runs (compare trained runs), not both; --runs "
                "are compared as they were trained (leave out --conditional)"
            )
        loaded = [runs.load(r, device=resolve_device(device)) for r in run_dirs]
        specs = {json.dumps(r.config["data"], sort_keys=True) for r in loaded}
        if len(specs) > 1:
            raise GenlabError(
                "the runs were trained on different data ("
                + "; ".join(f"{r.path}: {r.config['data']['data']}" for r in loaded)
                + "); compare runs of one data set"
            )
        data = loaded[0].dataset()
        targets = [(r.path, r.config, r.step) for r in loaded]
    else:
        data_cfg = data_cfg or DataConfig()
        if steps is not None:
            if steps < 1:
                raise GenlabError("--steps must be at least 1")
            minutes = None
        elif any(m is None or not m > 0 for m in (minutes.values() if isinstance(minutes, dict) else [minutes])):
            raise GenlabError("--minutes must be above 0")
        data = load_dataset(
            data_cfg.data, image_size=data_cfg.image_size, channels=data_cfg.channels, sample_rate=data_cfg.sample_rate
        )
        families = families or default_families(data, conditional)
        check_families(families, data, conditional)
        if isinstance(minutes, dict) and set(families) - set(minutes):
            raise GenlabError(f"no training budget for {', '.join(sorted(set(families) - set(minutes)))}")
        if minutes is not None:
            budgets = {name: minutes[name] if isinstance(minutes, dict) else minutes for name in families}
        quality = data.kind in ("image", "points") and steps is None
        _check_features(features, n, data)
        if data.kind == "image" and (quality or n > 0 and features == "domain"):
            feature_space(data, quiet=quiet)  # trained once here, so the families' children read it from the cache
        say(
            f"genlab compare: {len(families)} famil{'y' if len(families) == 1 else 'ies'} "
            f"({', '.join(families)}), "
            + (budget_words(budgets) if budgets else f"each family trained for {steps} step(s)")
        )
        requests = [
            family_jobs.TrainRequest(
                name,
                str(out),
                to_dict(data_cfg),
                budgets[name] if budgets else None,
                steps,
                seed,
                device,
                threads,
                quality,
                quiet,
                conditional,
            )
            for name in families
        ]
        job_figures, failures = family_jobs.train_all(requests, slots, say, quiet)
        targets = [(r.final, runs.read_config(r.final), 0) for r in requests if r.name in job_figures]
    labels = _labels([(path, config) for path, config, _ in targets])
    options = {
        "out": str(out),
        "n": n,
        "seeds": seeds,
        "iwae_k": iwae_k,
        "limit": limit,
        "seed": seed,
        "device": device,
        "quiet": quiet,
        "features": features,
        "resize": resize,
        "threads": threads,
    }
    entries, evaluation_failures = _evaluate_all(labels, targets, data, options, slots, budgets, say)
    failures += evaluation_failures
    space_name = next((e.report["features"] for e in entries if "features" in e.report), None)
    metrics = {
        "data": data.spec,
        "kind": data.kind,
        "split": data.split_note,
        "budget_minutes": None if run_dirs else budgets,
        **({"budget_steps": steps} if steps is not None and not run_dirs else {}),
        "features": space_name if n > 0 and data.kind in ("image", "points") else None,
        "n": n,
        "seeds": [seed + i for i in range(seeds)],
        "jobs": min(slots, max(1, len(targets))),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "models": {
            e.label: {
                "family": e.config["model"],
                "run": shown_path(e.path, out),
                "model_config": e.config["model_config"],
                "training": e.training,
                **e.report,
            }
            for e in entries
        },
        **(
            {
                "failed": {
                    f.label: {
                        "stage": f.stage,
                        "why": f.why,
                        "user_error": f.user_error,
                        "wall_seconds": f.wall_seconds,
                        "cpu_seconds": f.cpu_seconds,
                    }
                    for f in failures
                }
            }
            if failures
            else {}
        ),
    }
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    quality_plot = quality_picture(entries, out / "pictures")
    sound = data.kind == "audio"  # no copying figures for sound; the test clips to listen to instead
    words = [] if sound else memorization_words(entries)
    reference = reference_clips(data, out / "pictures") if sound else []
    atomic_write_text(
        out / "report.html", render_report(metrics, entries, words, [quality_plot] if quality_plot else [], reference)
    )
    say(f"wrote {out / 'report.html'} (open it in a browser) and {out / 'metrics.json'}")
    if failures:
        raise CompareFailed(
            f"{len(failures)} of {len(failures) + len(entries)} famil"
            f"{'y' if len(failures) + len(entries) == 1 else 'ies'} failed: "
            + "; ".join(f.words() for f in failures)
            + f"; {out / 'report.html'} holds the others",
            2 if all(f.user_error for f in failures) else 1,
        )
    return metrics


def _check_features(features: str, n: int, data: Dataset) -> None:
    """Refuse, before any training, Inception features that are not in the cache."""
    if features == "inception" and n > 0 and data.kind == "image":
        from genlab.metrics.inception_weights import MISSING, weights_path

        if not weights_path().is_file():
            raise GenlabError(MISSING)


def _evaluate_all(
    labels: list[str],
    targets: list[tuple[Path, dict, int]],
    data: Dataset,
    options: dict,
    slots: int,
    budgets: dict[str, float] | None,
    say: Callable[[str], None],
) -> tuple[list[Entry], list]:
    """Every run's Entry, in the order given: side by side in child processes with several slots,
    else one after another here (sharing the data and the feature space); and the failures."""
    if slots > 1 and len(targets) > 1:
        costs = [budgets.get(config["model"], 1.0) if budgets else 1.0 for _, config, _ in targets]
        found, failures = family_jobs.evaluate_side_by_side(
            [(label, path, cost) for label, (path, _, _), cost in zip(labels, targets, costs)],
            options,
            slots,
            say,
            options["quiet"],
        )
        entries = []
        for label in labels:
            if label in found:
                entry = Entry.from_json(found[label])
                entry.training["evaluation"] = found[label]["evaluation"]
                entries.append(entry)
        return entries, failures
    from genlab.train.trainer import resolve_device

    device = resolve_device(options["device"])
    space = (
        named_space(options["features"], data, device, options["resize"], options["quiet"])
        if options["n"] > 0 and data.kind in ("image", "points") and targets
        else None
    )
    entries, failures = [], []
    for label, (path, config, step) in zip(labels, targets):
        found: list[Entry] = []
        wall, cpu = time.monotonic(), family_jobs._cpu_seconds()
        failure = family_jobs._in_process(
            label,
            "evaluation",
            lambda: found.append(evaluate_family(label, runs.load(path, device=device), data, space, options, say)),
            say,
        )
        if failure:
            failures.append(failure)
        else:
            found[0].training["evaluation"] = {
                "wall_seconds": round(time.monotonic() - wall, 3),
                "cpu_seconds": round(family_jobs._cpu_seconds() - cpu, 3),
            }
            entries.append(found[0])
    return entries, failures


def evaluate_family(
    label: str, run: runs.LoadedRun, data: Dataset, space, options: dict, say: Callable[[str], None]
) -> Entry:
    """One run's figures and pictures (written into OUT/pictures) as the report's Entry."""
    out, n, seeds, seed = Path(options["out"]), options["n"], options["seeds"], options["seed"]
    test = data.test[: options["limit"]] if options["limit"] else data.test
    say(f"evaluating {label} ({n} samples x {seeds} seed(s) against {len(test)} test items)")
    nearest = out / "pictures" / f"{label}_nearest.png"
    report = evaluate(
        run.model,
        data,
        test,
        n,
        [seed + i for i in range(seeds)],
        iwae_k=options["iwae_k"],
        seed=seed,
        picture=nearest,
        quiet=options["quiet"],
        space=space,
    )
    entry = Entry(label, run.path, run.config, report, training_summary(run))
    entry.pictures = _pictures(entry, run, data, out / "pictures", nearest)
    if "nearest_picture" in report.get("sample_setup", {}):  # named from the report folder, which may move
        report["sample_setup"]["nearest_picture"] = shown_path(nearest, out)
    return entry


def evaluate_piece(request: dict, say: Callable[[str], None]) -> None:
    """A child's part (families.py): evaluate one run and write its Entry to OUT/.pieces/LABEL.json."""
    from genlab.train.trainer import resolve_device

    device = resolve_device(request["device"])
    run = runs.load(request["run"], device=device)
    data = run.dataset()
    space = (
        named_space(request["features"], data, device, request["resize"], request["quiet"])
        if request["n"] > 0 and data.kind in ("image", "points")
        else None
    )
    entry = evaluate_family(request["label"], run, data, space, request, say)
    atomic_write_text(
        Path(request["out"]) / family_jobs.PIECES / f"{request['label']}.json", json.dumps(entry.as_json()) + "\n"
    )


def shown_path(path: Path, out: Path) -> str:
    """A run's path as the report names it: relative to the report folder when inside it (so the
    folder can be moved), else as given."""
    try:
        return str(Path(path).resolve().relative_to(out.resolve()))
    except ValueError:
        return str(path)


def _labels(trained: list[tuple[Path, dict]]) -> list[str]:
    """Each run's label: its family, or family-FOLDER where one family appears twice."""
    names = [config["model"] for _, config in trained]
    return [name if names.count(name) == 1 else f"{name}-{Path(path).name}" for (path, _), name in zip(trained, names)]


@torch.no_grad()
def _pictures(entry: Entry, run: runs.LoadedRun, data: Dataset, folder: Path, nearest: Path) -> list[Picture]:
    """The run's pictures for the report, written into `folder`."""
    model, label, shown = run.model, entry.label, []
    g = torch.Generator(device=model.device).manual_seed(PICTURE_SEED)
    path = folder / f"{label}_samples.png"
    if item_kind(model) == "points":
        viz.save_points_plot(draw(model, 1000, PICTURE_SEED), path, reference=data.test, title=f"{label} samples")
        shown.append(Picture(path, f"{label}: 1,000 samples (red) over the test points (grey)", plot=True))
    elif data.kind == "image" and model.label_count:  # one column per class, as `genlab sample` draws them
        classes = model.label_count
        viz.save_grid(draw(model, classes * -(-64 // classes), PICTURE_SEED), path, nrow=classes)
        names = run.label_names or [str(k) for k in range(classes)]
        shown.append(
            Picture(path, f"{label}: samples (seed {PICTURE_SEED}), column k asked for class k ({', '.join(names)})")
        )
    elif data.kind == "image":
        viz.save_grid(draw(model, 64, PICTURE_SEED), path, nrow=8)
        shown.append(Picture(path, f"{label}: 64 samples (seed {PICTURE_SEED})"))
    elif data.kind == "audio":
        shown += _sound_samples(entry, run, folder)
    if "nearest_picture" in entry.report.get("sample_setup", {}):
        shown.append(
            Picture(
                nearest, f"{label}: samples (rows 1, 3) above their nearest training images in pixel space (rows 2, 4)"
            )
        )
    if data.kind != "image":
        return shown + _curves(entry)
    test = data.test[:SHOWN].to(model.device)  # fewer where the test split is smaller
    count = len(test)
    if model.can(Capability.COMPLETES):
        from genlab.data.inputs.masks import occlude, parse_mask

        hidden = parse_mask("bottom", *data.item_shape[1:])
        done = model.complete(test, hidden, n=2, generator=g).cpu()  # (count*2, C, H, W), each image's two in turn
        done = done.view(count, 2, *done.shape[1:]).transpose(0, 1).reshape(-1, *done.shape[1:])  # completion-major
        path = folder / f"{label}_completions.png"
        viz.save_grid(torch.cat([test.cpu(), occlude(test.cpu(), hidden), done]), path, nrow=count)
        shown.append(
            Picture(
                path,
                f"{label}: test images (row 1), their bottom half hidden (row 2), and two "
                f"completions of each (rows 3-4)",
            )
        )
    if model.can(Capability.ENCODES):
        path = folder / f"{label}_reconstructions.png"
        own = data.test_labels[:count] if model.label_count else None  # a conditional model: each image's own class
        viz.save_grid(viz.interleave_rows(test.cpu(), model.reconstruct(test, own).cpu(), count), path, nrow=count)
        shown.append(Picture(path, f"{label}: test images (row 1) and their reconstructions (row 2)"))
    pairs = min(SHOWN // 2, count // 2)  # lines between test images 0..P-1 and P..2P-1
    if model.can(Capability.ENCODES) and model.can(Capability.LATENT) and pairs:
        from genlab.models.latent import lerp_codes

        held = data.test_labels[:pairs] if model.label_count else None  # a conditional model: the start's class
        ends = model.encode_images(data.test[:pairs], held), model.encode_images(data.test[pairs : 2 * pairs], held)
        path = folder / f"{label}_interpolations.png"
        line = {"labels": held.repeat_interleave(10)} if held is not None else {}
        viz.save_grid(model.decode(lerp_codes(*ends, 10), **line).cpu(), path, nrow=10)
        shown.append(
            Picture(
                path,
                f"{label}: straight lines in latent space between the codes of two test images "
                f"(one per row, ends included)",
            )
        )
    return shown + _curves(entry)


def _sound_samples(entry: Entry, run: runs.LoadedRun, folder: Path) -> list[Picture]:
    """SOUNDS samples of the length `evaluate` judges, each a .wav with its spectrogram; a
    class-conditional run's sound i asks for class i mod classes."""
    from genlab.metrics.audio import EVAL_SECONDS

    model = run.model
    g = torch.Generator(device=model.device).manual_seed(PICTURE_SEED)
    sounds = model.sample(SOUNDS, generator=g, seconds=EVAL_SECONDS).cpu()  # (SOUNDS, S)
    names = run.label_names or []
    asked = [
        f" asked for {_class_name(i % model.label_count, names)}" if model.label_count else "" for i in range(SOUNDS)
    ]
    wavs = viz.save_audio(sounds, folder / f"{entry.label}_samples", model.sample_rate)  # one .wav + .png each
    return [
        Picture(
            wav.with_suffix(".png"),
            f"{entry.label}: sample {i}{asked[i]} (seed {PICTURE_SEED}), its waveform and spectrogram",
            plot=True,
            sound=wav,
        )
        for i, wav in enumerate(wavs)
    ]


def _class_name(label: int, names: list[str]) -> str:
    return f"“{names[label]}”" if label < len(names) else f"class {label}"


def reference_clips(data: Dataset, folder: Path) -> list[Picture]:
    """The first SOUNDS test clips, to hear what the families were trained to say."""
    (rate,) = data.item_shape  # one-second clips
    wavs = viz.save_audio(data.test[:SOUNDS], folder / "test_clips", rate)
    labels = data.test_labels.tolist() if data.test_labels is not None else []
    return [
        Picture(
            wav.with_suffix(".png"),
            f"test clip {i}" + (f", {_class_name(labels[i], data.label_names or [])}" if labels else ""),
            plot=True,
            sound=wav,
        )
        for i, wav in enumerate(wavs)
    ]


def _curves(entry: Entry) -> list[Picture]:
    names = {"loss.png": "training (line) and test (dots) figures per step", "game.png": "the game: D's and G's losses"}
    return [
        Picture(entry.path / f, f"{entry.label}: {what}", plot=True)
        for f, what in names.items()
        if (entry.path / f).is_file()
    ]


def memorization_words(entries: list[Entry]) -> list[str]:
    """Plain sentences: does each model copy its training images? Then how the families differ."""
    lines, ratios = [], {}
    for e in entries:
        space = "pixels" if "nn_ratio_pixels" in e.report else "features"
        if f"nn_ratio_{space}" not in e.report:
            lines.append(f"{e.label}: no sample figures ({e.report.get('sample_figures', 'not computed')}).")
            continue
        ratio, share = e.report[f"nn_ratio_{space}"]["mean"], e.report[f"copy_share_{space}"]["mean"]
        ratios[e.label] = ratio
        if ratio < 0.5:
            verdict = (
                "copies its training images: its samples lie much closer to a training image than new test images do"
            )
        elif ratio < 0.85:
            verdict = "leans on its training images: its samples lie closer to them than new test images do"
        elif ratio <= 1.2:
            verdict = (
                "makes new images: its samples lie about as far from their nearest training image as "
                "unseen test images do"
            )
        else:
            verdict = (
                "makes images unlike any training image, further from the training set than test images "
                "are: a sign of unrealistic samples (blur, artefacts) rather than of copying"
            )
        lines.append(
            f"{e.label} {verdict} (distance ratio {ratio:.2f} in {space}; {100 * share:.1f}% of its "
            f"samples are closer to a training image than the closest test image is)."
        )
    if len(ratios) > 1:
        low = min(ratios, key=ratios.get)
        lines.append(
            f"Closest to its training images: {low} (ratio {ratios[low]:.2f}); a ratio well below 1 is "
            f"what copying looks like."
        )
    if "vae" in ratios and "gan" in ratios:
        vae, gan = ratios["vae"], ratios["gan"]
        if min(vae, gan) >= 0.85:
            found = "neither copies its training images"
        elif vae < gan:
            found = "the VAE stays closer to the images it was shown, as the notes expect"
        else:
            found = "the GAN's samples are the closer ones, against the notes' expectation"
        lines.append(
            f"The notes expect the VAE to imitate the images it has seen and the GAN, whose generator "
            f"never sees one, to make new ones. Here {found} (ratio {vae:.2f} for the VAE, {gan:.2f} "
            f"for the GAN)."
        )
    return lines
