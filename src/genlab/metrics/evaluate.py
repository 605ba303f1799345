"""`genlab evaluate` and `genlab compare`: a run's likelihoods and the quality of its samples.

Sample figures are computed for each of several sampling seeds and reported as
{"mean", "std", "values"} (std over seeds, 0 for one seed); likelihoods are computed once (with
`seed`). Every sample figure compares `n` samples with the reference (test) items in the named
feature space; the memorization figures also use the training split (see `memorization`).
"""

from __future__ import annotations

import statistics
from pathlib import Path

import torch

from genlab.core.errors import GenlabError
from genlab.data import Dataset
from genlab.metrics.classifier import class_probabilities, classifier_scores, has_classifier
from genlab.metrics.features import FeatureSpace, feature_space
from genlab.metrics.fid import fid, kid, kid_subset_size
from genlab.metrics.likelihood import likelihood_report
from genlab.metrics.memorization import flat_pixels, memorization, save_nearest_picture
from genlab.metrics.prdc import prdc
from genlab.metrics.spaces import warn_few, weights_note
from genlab.models import GenerativeModel

K_PR, K_DC = 3, 5  # k of precision/recall (Kynkäänniemi et al.) and density/coverage (Naeem et al.)
MIN_ITEMS = K_DC + 1  # k-NN figures need more than k items per set


def summary(values: list[float]) -> dict:
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "values": values,
    }


@torch.no_grad()
def draw(model: GenerativeModel, n: int, seed: int, batch_size: int = 500) -> torch.Tensor:
    """n samples from one seeded generator on the model's device, drawn in batches, on the CPU; a
    class-conditional model's sample i is asked for class i mod classes (`asked_classes`)."""
    g = torch.Generator(device=model.device).manual_seed(seed)
    asked = asked_classes(model, n)
    return torch.cat(
        [
            model.sample(
                min(batch_size, n - i), generator=g, **({} if asked is None else {"labels": asked[i : i + batch_size]})
            ).cpu()
            for i in range(0, n, batch_size)
        ]
    )


def asked_classes(model: GenerativeModel, n: int) -> torch.Tensor | None:
    """The class each of `draw`'s n samples is asked for, (n,): i mod classes; None for an
    unconditional model."""
    return torch.arange(n) % model.label_count if model.label_count else None


def item_kind(model: GenerativeModel) -> str:
    """What the model draws: "image", "points" or "audio" (families that take several kinds of data
    tell by the item shape they were built for)."""
    if model.data_kind == "audio":
        return "audio"
    return "points" if len(model.item_shape) == 1 else "image"


def as_seen(model: GenerativeModel, items: torch.Tensor) -> torch.Tensor:
    """Items as the model can draw them: through its palette for palette models (a binarized model
    that copied a training image would draw its binarized version), else unchanged."""
    if not getattr(model, "uses_palette", False):
        return items
    return model.palette.decode(model.palette.encode(items.to(model.device))).cpu()


def samples_apply(model: GenerativeModel, data: Dataset) -> str | None:
    """None when sample figures apply to this model and data, else why not."""
    kind = item_kind(model)
    if kind not in ("image", "points"):
        return f"sample figures cover images and 2-D points, not {kind}"
    if data.kind != kind:
        return f"the model draws {kind} items but {data.spec} holds {data.kind} items"
    return None


def sample_report(
    model: GenerativeModel,
    data: Dataset,
    reference: torch.Tensor,
    n: int,
    seeds: list[int],
    space: FeatureSpace | None = None,
    picture: str | Path | None = None,
    quiet: bool = True,
) -> dict:
    """Sample figures of `model` against `reference` (test items of `data`), one value per seed.
    picture: where to draw the first seed's samples beside their nearest training images."""
    if min(n, len(reference), len(data.train)) < MIN_ITEMS:
        raise ValueError(f"sample figures need at least {MIN_ITEMS} samples, reference and training items")
    space = space or feature_space(data, quiet=quiet)
    warn_few(space, n)
    images = data.kind == "image"
    real = space.embed(reference)
    train_seen, reference_seen = as_seen(model, data.train), as_seen(model, reference)
    spaces = {"features": (space.embed(train_seen), space.embed(reference_seen))}
    if images:
        spaces["pixels"] = (flat_pixels(train_seen), flat_pixels(reference_seen))
    values: dict[str, list[float]] = {}
    by_class: dict[str, list[dict]] = {}  # a conditional model's per-class figures, one dict per seed
    for i, seed in enumerate(seeds):
        samples = draw(model, n, seed)
        fake = space.embed(samples)
        figures = {
            "fid": fid(real, fake),
            "kid": kid(real, fake, seed=seed, warn=i == 0).mean,
            **prdc(real, fake, k_pr=K_PR, k_dc=K_DC),
        }
        if has_classifier(space):  # the data's classifier: how clearly each sample is one of its classes
            figures["confidence"] = classifier_scores(class_probabilities(space, samples))["confidence"]
        if model.label_count:
            figures.update(_asked_figures(model, data, space, samples, by_class, quiet))
        for name, (train_vectors, test_vectors) in spaces.items():
            vectors = fake if name == "features" else flat_pixels(samples)
            found, index = memorization(vectors, train_vectors, test_vectors)
            figures[f"nn_ratio_{name}"], figures[f"copy_share_{name}"] = found["ratio"], found["copy_share"]
            if i == 0 and name == "pixels" and picture is not None:
                save_nearest_picture(samples, train_seen, index, picture)
        for k, v in figures.items():
            values.setdefault(k, []).append(v)
    about = {
        "n": n,
        "seeds": seeds,
        "reference": f"{len(reference)} test items of {data.spec}",
        "k": {"precision_recall": K_PR, "density_coverage": K_DC},
        "kid_subsets": {"subsets": 100, "subset_size": kid_subset_size(len(reference), n), "std_ddof": 1},
        "memorization": "nn_ratio = median distance of samples to their nearest training item / the same "
        "for test items (1 healthy, 0 copying); copy_share = share of samples at most as "
        "far from the training set as the closest test item; pixels: Euclidean in [0, 1] "
        "pixel values, features: in the feature space; palette models are compared with "
        "training and test images drawn in their palette",
    }
    if picture is not None and images:
        about["nearest_picture"] = str(picture)
    conventions = (
        f"precision/recall k={K_PR} (inside: <= radius), density/coverage k={K_DC} (inside: < radius); "
        f"KID over 100 subsets of {about['kid_subsets']['subset_size']}"
    )
    asked = (
        {
            "asked_by_class": {
                name: {k: statistics.fmean(d[k] for d in per_seed) for k in per_seed[0]}
                for name, per_seed in by_class.items()
            },
            "asked_classes": "sample i of every seed is asked for class i mod classes; confidence = the data "
            "classifier's mean p(asked class | sample), recognised = share whose top class is "
            f"the asked one (chance 1/{model.label_count}); per class: mean over seeds",
        }
        if by_class
        else {}
    )
    return {
        "features": space.name,
        **weights_note(space),
        "metric_settings": conventions,
        "sample_setup": about,
        **{k: summary(v) for k, v in values.items()},
        **asked,
    }


def _asked_figures(
    model: GenerativeModel,
    data: Dataset,
    space: FeatureSpace,
    samples: torch.Tensor,
    by_class: dict[str, list[dict]],
    quiet: bool,
) -> dict[str, float]:
    """A class-conditional model's samples as the data's classifier reads them: the overall figures
    (returned) and each class's (appended to `by_class`); {} where the data has no classifier."""
    from genlab.metrics.classifier import asked_class_figures

    if data.kind != "image" or data.train_labels is None:
        return {}
    classifier = space if has_classifier(space) else feature_space(data, quiet=quiet)
    try:
        probabilities = class_probabilities(classifier, samples)
    except ValueError:  # no classifier head: the data has a single class
        return {}
    if probabilities.shape[1] < model.label_count:
        return {}  # evaluated on data with fewer classes than the model was trained on
    found = asked_class_figures(probabilities, asked_classes(model, len(samples)), data.label_names)
    for name, figures in found.pop("asked_by_class").items():
        by_class.setdefault(name, []).append(figures)
    return found


def evaluate(
    model: GenerativeModel,
    data: Dataset,
    test: torch.Tensor,
    n: int,
    seeds: list[int],
    iwae_k: int = 100,
    seed: int = 0,
    picture: str | Path | None = None,
    quiet: bool = True,
    space: FeatureSpace | None = None,
) -> dict:
    """Likelihood figures (when the model has them), model-specific extras and sample figures."""
    why_not = samples_apply(model, data) if n > 0 else "--n 0"
    if why_not is None and min(n, len(test), len(data.train)) < MIN_ITEMS:  # refused before any work
        raise GenlabError(
            f"sample figures need at least {MIN_ITEMS} samples, test and training items "
            f"(--n {n}, {len(test)} test, {len(data.train)} train); raise --n or --limit"
        )
    report = likelihood_report(model, test, iwae_k=iwae_k, seed=seed, quiet=quiet)
    report.update(model.extra_figures(data, seed=seed))
    if why_not is None:
        report.update(sample_report(model, data, test, n, seeds, space=space, picture=picture, quiet=quiet))
    elif item_kind(model) == "audio" and n > 0:  # sound: spectral figures, and word recognition when conditional
        from genlab.metrics.audio import audio_report

        report["nll_bits_per_sample"] = report.get("nll_bits_per_dim")
        report.update(audio_report(model, data, test, n, seed=seeds[0]))
    else:
        report["sample_figures"] = f"not computed: {why_not}"
    return report


def format_report(report: dict) -> str:
    """One line per figure; mean ± std for figures over several seeds."""
    lines = []
    for k, v in report.items():
        if isinstance(v, dict) and "mean" in v:
            text = f"{v['mean']:.4g} ± {v['std']:.2g}" if len(v["values"]) > 1 else f"{v['mean']:.4g}"
        elif isinstance(v, float):
            text = f"{v:.4f}"
        elif isinstance(v, dict) and v and all(isinstance(x, float) for x in v.values()):
            text = ", ".join(f"{name} {x:.2f}" for name, x in v.items())  # e.g. the share recognised per class
        elif isinstance(v, dict):
            continue
        else:
            text = str(v)
        lines.append(f"{k:>28}: {text}")
    return "\n".join(lines)
