"""Claim 1 of the notes: an RNN takes the variable-length input of pixel-by-pixel generation: one
network reads however many pixels came before and predicts the next (van den Oord et al. 2016,
"Pixel Recurrent Neural Networks"; the Row LSTM is models/pixelrnn/model.py).

One Row LSTM (genlab's default PixelRNN network) trains on binarized mnist5k, labels unused. The
same network then
- scores every prefix: log p(first r rows) = Σ over the pixels of those rows of log p(x_t | x_<t),
  exact in nats because the model factorises in raster order (a prefix's marginal is the product
  of its own conditionals); it is checked twice: the 28-row value is the full-image log-likelihood,
  and the network fed *only* the first r rows (an r x 28 image, a shorter input) gives the same
  number;
- continues prefixes of 1, 7, 14 and 21 rows, and genlab's digits classifier
  (metrics/features.py, trained on mnist5k's labels) says how often the completion is still the
  original digit: a network that reads its prefix keeps the digit more often the longer the prefix.

The helpers below (per-row log-likelihoods, recognition share, tinted pictures) are shared with the
`uses` section (uses.py)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from genlab import viz
from genlab.metrics.classifier import class_probabilities
from genlab.metrics.features import feature_space
from genlab.report.lecture.base import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    SUPPORTED,
    Lab,
    Outcome,
    Section,
    all_of,
    decide,
    labelled_rows,
    spread,
)

DATA = "mnist5k"
NET = {"arch": "row-lstm", "colors": 2}  # genlab's default PixelRNN network and sizes, binarized digits
LR, BATCH = 3e-3, 16  # PixelRNN's training defaults (models/pixelrnn/model.py)
GIVEN = (1, 7, 14, 21)  # rows given before the model continues
SHOWN = 8  # test digits in the picture
TOLERANCE = 1e-3  # nats per image: float32 sums in another order, or a shorter input, agree to this

# colours of the tinted pictures: what was given, and what the model drew
GIVEN_INK, GIVEN_PAPER = (255, 255, 255), (0, 0, 0)
DRAWN_INK, DRAWN_PAPER = (255, 150, 30), (25, 30, 80)


# --- measures (unit-tested in tests/test_lecture_seq.py) ---------------------------------------
@torch.no_grad()
def row_log_probs(model, x: torch.Tensor) -> torch.Tensor:
    """Prepared images x (B, P, H, W) -> log p of each row's pixels given everything before them,
    in nats, (B, H); the sum over rows is `model.log_prob(x)`."""
    logits = model.logits(x).transpose(1, 2)  # (B, P, K, H, W) -> (B, K, P, H, W)
    return -F.cross_entropy(logits, x, reduction="none").sum((1, 3))  # (B, P, H, W) -> (B, H)


def prefix_log_likelihood(model, x: torch.Tensor) -> torch.Tensor:
    """log p(first r rows), r = 1..H, exact in nats: (B, H), column r-1 for r rows."""
    return row_log_probs(model, x).double().cumsum(1)


@torch.no_grad()
def cropped_log_likelihood(model, x: torch.Tensor, rows: int) -> torch.Tensor:
    """log p(first `rows` rows) with the network fed only those rows (an input `rows` high), (B,)."""
    return row_log_probs(model, x[:, :, :rows].contiguous()).double().sum(1)


def prefix_checks(prefix: torch.Tensor, full: torch.Tensor, cropped: torch.Tensor | None = None) -> dict:
    """The prefix log-likelihoods (B, H) against the full-image ones (B,) and, optionally, those of
    the network fed only the prefix (B', H): finite, falling with every row, the last equal to the
    full image's, the cropped equal to the prefix's (largest differences in nats)."""
    out = {
        "finite": bool(torch.isfinite(prefix).all()),
        "falls_every_row": bool((prefix.diff(dim=1) < 0).all()),
        "sum_vs_full_nats": float((prefix[:, -1] - full.double()).abs().max()),
    }
    if cropped is not None:
        out["cropped_vs_prefix_nats"] = float((cropped - prefix[: len(cropped)]).abs().max())
    out["exact"] = (
        out["finite"]
        and out["falls_every_row"]
        and out["sum_vs_full_nats"] <= TOLERANCE
        and out.get("cropped_vs_prefix_nats", 0.0) <= TOLERANCE
    )
    return out


def recognised(probabilities: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """1.0 where the classifier's top class (probabilities (N, K)) is the label (N,), else 0.0: (N,)."""
    return (probabilities.argmax(1) == labels.to(probabilities.device)).double()


def paired_noise(a: torch.Tensor, b: torch.Tensor) -> float:
    """Twice the standard error of mean(a - b) over N paired items (a, b: (N,)): the sampling
    error of a difference of two shares measured on the same digits."""
    d = (a - b).double()
    return 2.0 * float(d.std(unbiased=True) / math.sqrt(len(d))) if len(d) > 1 else float("inf")


def tint(images: torch.Tensor, drawn: torch.Tensor, ink=DRAWN_INK, paper=DRAWN_PAPER) -> torch.Tensor:
    """uint8 grey images (N, 1, H, W) and a bool mask (H, W) or (N, 1, H, W), True where the model
    drew the pixel -> RGB (N, 3, H, W): given pixels white on black, drawn ones `ink` on `paper`
    (orange on navy)."""
    level = images[:, :1].float() / 255.0  # (N, 1, H, W): 0 paper, 1 ink
    drawn = drawn.expand_as(level)

    def colour(rgb_ink, rgb_paper):
        return (
            torch.tensor(rgb_paper, dtype=torch.float32)[None, :, None, None] * (1 - level)
            + torch.tensor(rgb_ink, dtype=torch.float32)[None, :, None, None] * level
        )  # (N, 3, H, W)

    return torch.where(drawn, colour(ink, paper), colour(GIVEN_INK, GIVEN_PAPER)).round().to(torch.uint8)


def rows_hidden(given: int, height: int, width: int) -> torch.Tensor:
    """bool (H, W): True on rows given..H-1, the ones the model draws."""
    hidden = torch.zeros(height, width, dtype=torch.bool)
    hidden[given:] = True
    return hidden


# --- the rule -----------------------------------------------------------------------------------
def judge(figures: dict) -> str:
    """The rule on this section's figures: every seed's prefix scores exact (else not supported),
    and the recognition margin (21 rows given minus 1 row given, per seed) decided against the
    larger of the seeds' spread and the sampling error `noise`."""
    exact = SUPPORTED if all(s["checks"]["exact"] for s in figures["seeds"]) else NOT_SUPPORTED
    margins = [s["recognised"][str(max(GIVEN))] - s["recognised"][str(min(GIVEN))] for s in figures["seeds"]]
    noise = max(s["noise"] for s in figures["seeds"])
    return all_of(exact, decide(margins, noise))


# --- the experiment ---------------------------------------------------------------------------
def run(lab: Lab) -> Outcome:
    steps = lab.budget(200, 400)
    scored, completed = lab.budget(200, 1000), lab.budget(300, 500)  # test digits scored, and completed
    cropped_n = lab.budget(50, 50)  # of those, scored again fed only their first r rows, r = 1..28
    per_seed, rows_shown = [], None
    for seed in lab.seeds():
        trained = lab.train(f"row-lstm-{seed}", "pixelrnn", NET, DATA, steps, batch_size=BATCH, lr=LR, seed=seed)
        model, data = trained.model.eval(), trained.dataset()
        space = feature_space(data, device=lab.device_name())
        test, labels = data.test, data.test_labels
        x = model.prepare(test[:scored].to(model.device))
        prefix = prefix_log_likelihood(model, x)  # (B, H)
        with torch.no_grad():
            full = model.log_prob(x)
        h, w = x.shape[2:]
        cropped = torch.stack([cropped_log_likelihood(model, x[:cropped_n], r) for r in range(1, h + 1)], 1)  # (B', H)
        checks = prefix_checks(prefix, full, cropped)
        shown = test[:completed]
        g = torch.Generator(device=model.device).manual_seed(seed)
        originals = recognised(class_probabilities(space, model.decode(model.prepare(shown))), labels[:completed])
        hits, completions = {}, {}
        for given in GIVEN:
            completions[given] = model.complete(shown, rows_hidden(given, h, w), 1, g).cpu()  # (N, 1, H, W)
            hits[given] = recognised(class_probabilities(space, completions[given]), labels[:completed])
        per_seed.append(
            {
                "seed": seed,
                "steps": steps,
                "features": space.name,
                "scored": len(x),
                "completed": completed,
                "prefix_mean_nats": prefix.mean(0).tolist(),
                "row_mean_nats": (prefix.mean(0).diff(prepend=prefix.new_zeros(1))).tolist(),
                "full_mean_nats": float(full.mean()),
                "checks": checks,
                "recognised": {str(k): float(v.mean()) for k, v in hits.items()},
                "recognised_originals": float(originals.mean()),
                "noise": paired_noise(hits[max(GIVEN)], hits[min(GIVEN)]),
            }
        )
        if rows_shown is None:
            rows_shown = _picture_rows(model.decode(model.prepare(test[:SHOWN])), completions, h, w)
    figures = {"data": DATA, "net": NET, "steps": steps, "given_rows": list(GIVEN), "seeds": per_seed}
    verdict = judge(figures)
    labelled_rows(rows_shown, lab.picture("completions.png"), scale=4, label_width=150)
    _plot(per_seed, lab.picture("prefixes.png"))
    return Outcome(
        figures,
        [
            (
                "completions.png",
                "Each column is one test digit. Top row: the digit (binarized). Below: the same network "
                "given its first 1, 7, 14 or 21 rows (white on black) and drawing the rest (orange on "
                "navy). Look at where the drawn part starts: from 1 row the model invents some digit; "
                "from 14 or 21 rows it finishes the one it was given.",
                False,
            ),
            (
                "prefixes.png",
                "Left: the exact log-likelihood of the first r rows, nats per digit, for r = 1..28, one "
                "line per seed. It falls with every row and ends at the full-image log-likelihood. "
                "Right: how often the "
                "digits classifier recognises the completion as the original digit, against the rows "
                "given; dashed: the binarized originals themselves, dotted: chance (10 %).",
                True,
            ),
        ],
        finding=_finding(figures, verdict),
        verdict=verdict,
        setup=(
            f"Row LSTM PixelRNN ({net_words()}) trained on binarized {DATA} 28x28 (labels unused) for {steps} "
            f"steps of batch {BATCH}, lr {LR:g}, once per seed; prefixes scored on {scored} test digits, "
            f"completions of {completed} test digits from each prefix length, recognised by genlab's digits "
            f"classifier ({per_seed[0]['features']})."
        ),
    )


def net_words() -> str:
    from genlab.models.pixelrnn.model import DEFAULT_SIZES

    layers, width = DEFAULT_SIZES[NET["arch"]]
    return f"{layers} layers of {width} features, 2 colours"


def _picture_rows(originals: torch.Tensor, completions: dict, h: int, w: int) -> list:
    none = torch.zeros(h, w, dtype=torch.bool)
    rows = [("test digit", tint(originals, none))]
    for given in GIVEN:
        label = f"{given} row{'s' if given > 1 else ''} given\n+ the rest drawn"
        rows.append((label, tint(completions[given][:SHOWN], rows_hidden(given, h, w))))
    return rows


def _finding(figures: dict, verdict: str) -> str:
    seeds = figures["seeds"]
    first, last = str(min(GIVEN)), str(max(GIVEN))
    rec = {k: spread([100 * s["recognised"][k] for s in seeds]) for k in map(str, GIVEN)}
    checks = [s["checks"] for s in seeds]
    worst_sum = max(c["sum_vs_full_nats"] for c in checks)
    worst_crop = max(c["cropped_vs_prefix_nats"] for c in checks)
    full = spread([s["full_mean_nats"] for s in seeds])
    half = spread([s["prefix_mean_nats"][13] for s in seeds])
    margin = [100 * (s["recognised"][last] - s["recognised"][first]) for s in seeds]
    noise = 100 * max(max(s["noise"] for s in seeds), max(margin) / 100 - min(margin) / 100)
    text = (
        f"The exact log-likelihood of a prefix falls from {spread([s['prefix_mean_nats'][0] for s in seeds])} "
        f"nats (first row) through {half} (14 rows) to {full} nats per digit (all 28 rows); on every digit it "
        f"falls with every row ({'yes' if all(c['falls_every_row'] for c in checks) else 'NO'}), the 28-row "
        f"value matches the full-image log-likelihood to {worst_sum:.1g} nats and the network fed only the "
        f"first r rows gives the same to {worst_crop:.1g} nats. Completions recognised as the original digit: "
        + ", ".join(f"{rec[str(k)]} % from {k} row{'s' if k > 1 else ''}" for k in GIVEN)
        + f" (originals {spread([100 * s['recognised_originals'] for s in seeds])} %): {last} rows beat "
        f"{first} by {spread(margin)} points, noise {noise:.2g} points."
    )
    if verdict == INCONCLUSIVE:
        text += " The margin is inside the noise."
    return text


def _plot(per_seed: list, path) -> None:
    plt = viz._pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), dpi=90)
    for s in per_seed:
        rows = list(range(1, len(s["prefix_mean_nats"]) + 1))
        left.plot(rows, s["prefix_mean_nats"], "-", lw=1.2, label=f"seed {s['seed']}")
        right.plot(GIVEN, [100 * s["recognised"][str(k)] for k in GIVEN], "o-", label=f"seed {s['seed']}")
    left.set(
        xlabel="rows given r (of 28)",
        ylabel="mean log p(first r rows)  [nats per digit]",
        title="exact log-likelihood of a prefix: falls with every row",
    )
    left.legend(fontsize=8)
    originals = sum(s["recognised_originals"] for s in per_seed) / len(per_seed)
    right.axhline(100 * originals, color="0.3", ls="--", lw=1, label="binarized originals")
    right.axhline(10, color="0.6", ls=":", lw=1, label="chance (10 %)")
    right.set(
        xlabel="rows given (of 28)",
        ylabel="completions recognised as the original  [%]",
        ylim=(0, 100),
        xticks=list(GIVEN),
        title="longer prefix, more often the original digit",
    )
    right.legend(fontsize=8)
    fig.tight_layout()
    viz._save_figure(fig, path)


SECTION = Section(
    "rnn-prefix",
    data=f"binarized {DATA} (28x28 digits, the built-in split; labels used only by the classifier that scores "
    "completions)",
    figure=(
        "the exact log-likelihood of the first r rows (nats per digit) against r = 1..28, and completions from "
        "1, 7, 14 and 21 given rows, with how often the digits classifier still recognises the original digit"
    ),
    rule=(
        "Supported when both hold. (a) On every test digit the prefix log-likelihood is finite and falls with every "
        "row, its 28-row value equals the full-image log-likelihood and the network fed only the first r rows gives "
        f"the same value, each to {TOLERANCE:g} nats; otherwise not supported. (b) The share of completions from 21 "
        "given rows that the classifier recognises as the original digit exceeds the share from 1 given row by more "
        "than the noise (the larger of the seeds' spread of that difference and twice its standard error over the "
        "test digits): supported; short of it by more than the noise: not supported; otherwise inconclusive."
    ),
    run=run,
    cost=125,
)
