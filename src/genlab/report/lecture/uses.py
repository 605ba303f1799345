"""Claim 3 of the notes: PixelRNN trains without any label, completes an occluded image, and can
start a picture from a few random pixels (van den Oord et al. 2016; the one sampling loop behind
completion and sampling is models/pixelrnn/autoregressive.py).

A Row LSTM (genlab's default PixelRNN network) trains on binarized mnist5k with the labels unused.
Test digits get their bottom half hidden and the model draws it several times. The digits
classifier (metrics/features.py, the only thing that sees labels) says how often a completed digit
is still the original digit, against two ways of filling the bottom half that know nothing of the
top: the bottom half of another random test digit, and that of a sample of the same model drawn
from scratch. Completions of one digit must also differ from each other (a model that completes,
not a lookup that copies one answer). Samples started from a few random pixels are shown."""

from __future__ import annotations

import torch

from genlab import viz
from genlab.metrics.classifier import class_probabilities, classifier_scores
from genlab.metrics.features import feature_space
from genlab.report.lecture.base import INCONCLUSIVE, Lab, Outcome, Section, all_of, decide, labelled_rows, spread
from genlab.report.lecture.rnn_prefix import (
    BATCH,
    DATA,
    LR,
    NET,
    paired_noise,
    recognised,
    rows_hidden,
    tint,
    net_words,
)

WAYS = 4  # completions per occluded digit
SHOWN = 8  # digits in the picture
DONOR_INK, DONOR_PAPER = (110, 200, 255), (60, 60, 60)  # a bottom half taken from another digit: blue on grey
SEED_PIXELS = 10  # random pixels a sample starts from (raster order: the top row's first ten)
DIFFER = 0.02  # completions of one digit differ: on average more than this share of the hidden pixels


# --- measures (unit-tested in tests/test_lecture_seq.py) -----------------------------------------
def pairwise_difference(completions: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """completions (B, n, C, H, W) of B images, n each; hidden bool (H, W) -> for each image the mean,
    over its n(n-1)/2 pairs of completions, of the share of hidden pixels that differ: (B,)."""
    b, n = completions.shape[:2]
    inside = completions[..., hidden].flatten(2)  # (B, n, C, H, W) -> (B, n, C, hidden) -> (B, n, C*hidden)
    differ = (inside[:, :, None] != inside[:, None]).double().mean(3)  # (B, n, n)
    return differ.sum((1, 2)) / (n * (n - 1))  # the diagonal is 0; each pair counted twice of n(n-1)


def other_bottoms(images: torch.Tensor, hidden: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image (N, C, H, W) with its hidden pixels taken from another image of the batch (a
    random shift of a random order, so never its own): a fill that knows nothing of the rest."""
    n = len(images)
    order = torch.randperm(n, generator=generator)
    donor = torch.empty_like(order)
    donor[order] = order.roll(1)  # in the random order, each image takes the one before it
    return torch.where(hidden, images[donor], images)


# --- the rule -------------------------------------------------------------------------------------
def judge(figures: dict) -> str:
    """Completions recognised more often than the better of the two blind fills (per seed, against the
    larger of the seeds' spread and the sampling error), and completions that differ (share of hidden
    pixels above DIFFER, against the seeds' spread)."""
    seeds = figures["seeds"]
    margins = [
        s["recognised"]["completions"] - max(s["recognised"]["other_bottoms"], s["recognised"]["sampled_bottoms"])
        for s in seeds
    ]
    recognised_part = decide(margins, max(s["noise"] for s in seeds))
    differ_part = decide([s["pairwise_difference"] - DIFFER for s in seeds])
    return all_of(recognised_part, differ_part)


# --- the experiment ---------------------------------------------------------------------------
def run(lab: Lab) -> Outcome:
    steps = lab.budget(200, 400)
    completed = lab.budget(300, 500)
    per_seed, pictures = [], None
    for seed in lab.seeds():
        trained = lab.train(f"row-lstm-{seed}", "pixelrnn", NET, DATA, steps, batch_size=BATCH, lr=LR, seed=seed)
        model, data = trained.model.eval(), trained.dataset()
        space = feature_space(data, device=lab.device_name())
        test, labels = data.test[:completed], data.test_labels[:completed]
        _, h, w = model.item_shape
        hidden = rows_hidden(h // 2, h, w)  # the bottom half
        g = torch.Generator(device=model.device).manual_seed(seed)
        originals = model.decode(model.prepare(test))  # binarized, as the model sees them
        completions = model.complete(test, hidden, WAYS, g).cpu().view(completed, WAYS, 1, h, w)  # (N, WAYS, 1, H, W)
        hits = recognised(class_probabilities(space, completions.flatten(0, 1)), labels.repeat_interleave(WAYS))
        per_digit = hits.view(completed, WAYS).mean(1)  # (N,): share of a digit's completions recognised
        others = other_bottoms(originals, hidden, torch.Generator().manual_seed(seed))
        sampled = torch.where(hidden, model.sample(completed, g).cpu(), originals)
        blind = {
            "other_bottoms": recognised(class_probabilities(space, others), labels),
            "sampled_bottoms": recognised(class_probabilities(space, sampled), labels),
        }
        seeded = model.sample(2 * SHOWN, g, seed_pixels=SEED_PIXELS).cpu()
        per_seed.append(
            {
                "seed": seed,
                "steps": steps,
                "features": space.name,
                "completed": completed,
                "ways": WAYS,
                "recognised": {
                    "completions": float(per_digit.mean()),
                    **{k: float(v.mean()) for k, v in blind.items()},
                    "originals": float(recognised(class_probabilities(space, originals), labels).mean()),
                },
                "noise": max(paired_noise(per_digit, v) for v in blind.values()),
                "pairwise_difference": float(pairwise_difference(completions, hidden).mean()),
                "hidden_pixels": int(hidden.sum()),
                "random_pixel_samples_confidence": classifier_scores(class_probabilities(space, seeded))["confidence"],
                "test_confidence": classifier_scores(class_probabilities(space, originals))["confidence"],
            }
        )
        if pictures is None:
            pictures = (originals[:SHOWN], completions[:SHOWN], others[:SHOWN], seeded, hidden)
    figures = {
        "data": DATA,
        "net": NET,
        "steps": steps,
        "differ_threshold": DIFFER,
        "seed_pixels": SEED_PIXELS,
        "seeds": per_seed,
    }
    verdict = judge(figures)
    _pictures(lab, *pictures)
    _plot(per_seed, lab.picture("recognised.png"))
    return Outcome(
        figures,
        [
            (
                "completions.png",
                f"Each column is one test digit. Row 2 shows what the model was given (the top half); rows "
                f"3-{2 + WAYS} are {WAYS} completions drawn by the model (orange on navy); the last row "
                "fills the bottom with another test digit's instead (blue on grey). Look whether each "
                "completion still makes the original digit, and whether the completions differ from each other.",
                False,
            ),
            (
                "from_random_pixels.png",
                f"Samples started from {SEED_PIXELS} random pixels (the first {SEED_PIXELS} of "
                "the top row, each black or white at random) with every "
                "other pixel drawn by the model (orange on navy).",
                False,
            ),
            (
                "recognised.png",
                "Left: how often the digits classifier recognises the original digit, for the model's "
                "completions and for two blind fills of the bottom half, one dot per seed (bars: the "
                "mean). Right: how much two completions of one digit differ (share of the hidden "
                f"pixels), against the rule's {100 * DIFFER:g} % line.",
                True,
            ),
        ],
        finding=_finding(figures, verdict),
        verdict=verdict,
        setup=(
            f"Row LSTM PixelRNN ({net_words()}) trained on binarized {DATA} 28x28 with no labels, {steps} steps "
            f"of batch {BATCH}, lr {LR:g}, once per seed; the bottom 14 rows of {completed} test digits hidden and "
            f"completed {WAYS} times each; scored by genlab's digits classifier ({per_seed[0]['features']})."
        ),
    )


def _finding(figures: dict, verdict: str) -> str:
    seeds = figures["seeds"]
    pct = {
        k: spread([100 * s["recognised"][k] for s in seeds])
        for k in ("completions", "other_bottoms", "sampled_bottoms", "originals")
    }
    margins = [
        100
        * (s["recognised"]["completions"] - max(s["recognised"]["other_bottoms"], s["recognised"]["sampled_bottoms"]))
        for s in seeds
    ]
    noise = 100 * max(max(s["noise"] for s in seeds), (max(margins) - min(margins)) / 100)
    differ = [100 * s["pairwise_difference"] for s in seeds]
    text = (
        f"Trained without labels, the model's completions of the hidden bottom half are recognised as the original "
        f"digit {pct['completions']} % of the time, against {pct['other_bottoms']} % with another test digit's "
        f"bottom and {pct['sampled_bottoms']} % with the bottom of a sample drawn from scratch (the binarized "
        f"originals: {pct['originals']} %): {spread(margins)} points above the better blind fill, noise "
        f"{noise:.2g} points. Two completions of one digit differ on {spread(differ)} % of the "
        f"{seeds[0]['hidden_pixels']} hidden pixels (rule: above {100 * DIFFER:g} %). Samples from "
        f"{figures['seed_pixels']} random pixels: classifier confidence "
        f"{spread([s['random_pixel_samples_confidence'] for s in seeds])} (test digits "
        f"{spread([s['test_confidence'] for s in seeds])})."
    )
    if verdict == INCONCLUSIVE:
        text += " A margin is inside the noise."
    return text


def _pictures(lab: Lab, originals, completions, others, seeded, hidden) -> None:
    h, w = hidden.shape
    none = torch.zeros(h, w, dtype=torch.bool)
    given = torch.where(hidden, torch.zeros_like(originals), originals)
    rows = [("test digit", tint(originals, none)), ("given: top half", tint(given, hidden))]
    rows += [(f"completion {k + 1}", tint(completions[:, k], hidden)) for k in range(completions.shape[1])]
    rows.append(("another digit's\nbottom half", tint(others, hidden, DONOR_INK, DONOR_PAPER)))
    labelled_rows(rows, lab.picture("completions.png"), scale=4, label_width=150)
    start = torch.zeros(h * w, dtype=torch.bool)
    start[SEED_PIXELS:] = True  # drawn by the model: every pixel after the random ones
    drawn = start.view(h, w)
    labelled_rows(
        [
            (f"{SEED_PIXELS} random pixels\n+ the rest drawn", tint(seeded[:SHOWN], drawn)),
            ("", tint(seeded[SHOWN:], drawn)),
        ],
        lab.picture("from_random_pixels.png"),
        scale=4,
        label_width=150,
    )


def _plot(per_seed: list, path) -> None:
    plt = viz._pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), dpi=90, gridspec_kw={"width_ratios": [2.2, 1]})
    kinds = [
        ("completions", "model's\ncompletions"),
        ("other_bottoms", "another digit's\nbottom"),
        ("sampled_bottoms", "a sample's\nbottom"),
        ("originals", "original\n(binarized)"),
    ]
    for i, (key, _) in enumerate(kinds):
        values = [100 * s["recognised"][key] for s in per_seed]
        left.bar(i, sum(values) / len(values), color=("tab:orange" if i == 0 else "0.75" if i < 3 else "0.5"))
        left.plot([i] * len(values), values, "k.", ms=8)
    left.axhline(10, color="0.4", ls=":", lw=1, label="chance (10 %)")
    left.set(
        xticks=range(len(kinds)),
        xticklabels=[label for _, label in kinds],
        ylim=(0, 100),
        ylabel="recognised as the original digit  [%]",
        title="bottom half filled by the model vs blind fills",
    )
    left.legend(fontsize=8, loc="upper left")
    values = [100 * s["pairwise_difference"] for s in per_seed]
    right.bar(0, sum(values) / len(values), color="tab:orange", width=0.5)
    right.plot([0] * len(values), values, "k.", ms=8)
    right.axhline(100 * DIFFER, color="tab:red", ls="--", lw=1, label=f"rule: {100 * DIFFER:g} %")
    right.set(
        xticks=[0],
        xticklabels=["two completions\nof one digit"],
        xlim=(-1, 1),
        ylabel="hidden pixels that differ  [%]",
        title="completions differ",
    )
    right.legend(fontsize=8)
    fig.tight_layout()
    viz._save_figure(fig, path)


SECTION = Section(
    "uses",
    data=f"binarized {DATA} (28x28 digits, the built-in split; the model never sees a label, only the classifier "
    "that scores completions does)",
    figure=(
        f"test digits with the bottom half hidden and {WAYS} completions each, how often the digits classifier "
        "recognises the original digit in them and in two blind fills of the bottom half, how much completions "
        f"of one digit differ, and samples started from {SEED_PIXELS} random pixels"
    ),
    rule=(
        "Supported when both hold. (a) The share of completions that the classifier recognises as the original digit "
        "exceeds the better of the two blind fills (another random test digit's bottom half; the bottom half of a "
        "sample of the same model drawn from scratch) by more than the noise, the larger of the seeds' spread of "
        "the difference and twice its standard error over the test digits. (b) Two completions of one digit differ "
        f"on more than {100 * DIFFER:g} % of the hidden pixels, beyond the seeds' spread. Either part short of its "
        "threshold by more than its noise: not supported; otherwise inconclusive. The samples from random pixels are "
        "shown, not judged."
    ),
    run=run,
    cost=110,
)
