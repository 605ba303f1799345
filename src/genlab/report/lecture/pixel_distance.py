"""Claim 10 of the notes: pixel-by-pixel closeness, the VAE's measure of how near an image is to the
data, "describes similarity imprecisely" (在描述相似度的时候会存在一定的不准确性). The notes' own
example made measurable on the built-in 28x28 digits:

- a *harmful* edit: the fewest pixels that change the digit's strokes, i.e. its topology: a small
  square erased where it cuts a stroke in two or opens a loop, or painted where it joins two strokes
  or closes a loop (found by trying every square of side 2, then 3, then 4, and keeping the one with
  the smallest pixel distance that changes the number of pieces or holes of the digit binarized at
  grey level 64 and at 128 alike; chosen on the pixels alone, never by the classifier);
- a *harmless* edit: many pixels changed where a reader does not mind: the whole digit shifted by
  one pixel, its strokes a pixel thicker (grey dilation by a 3x3 cross, kept only where it leaves the
  strokes' topology alone, else the shift), or grey noise in the empty 4-pixel margin (in turn over
  the pairs).

Pixel L2 (in [0, 1] units) between each edit and its original, against the classifier's distance:
the total variation between the class probabilities it gives the original and the edit (the
classifier is genlab's domain feature network, genlab.metrics.features, trained on mnist5k's training
digits; the pairs come from its test digits). Also reported: the distance in its 128-d feature space.
"""

from __future__ import annotations


import numpy as np
import torch
from scipy import ndimage

from genlab.report.lecture.base import Lab, Outcome, Section, decide, spread

DATA = "mnist5k"
THRESHOLDS = (64, 128)  # ink: a pixel at or above the grey level; a harmful edit changes the strokes at both
SIDES = (2, 3, 4)  # the squares a harmful edit tries, smallest first
MARGIN = 4  # mnist's empty border, where the margin noise goes
NOISE = 80  # the margin noise: uniform grey levels up to this
HARMLESS = ("shift", "thicken", "margin noise")
BOOTSTRAP = 200
SHOWN = 8
EIGHT = np.ones((3, 3), dtype=bool)  # ink is connected through corners (8-connectivity), background is not
MIN_PIECE, MIN_HOLE = 6, 4  # smaller pieces of ink and holes are specks a reader does not count


def _count(labels: np.ndarray, n: int, least: int) -> int:
    return int((np.bincount(labels.ravel(), minlength=n + 1)[1:] >= least).sum())


def topology(ink: np.ndarray) -> tuple[int, int]:
    """(pieces, holes) of a boolean image: 8-connected ink components of at least MIN_PIECE pixels,
    and 4-connected background components of at least MIN_HOLE pixels that do not reach the border."""
    pieces = _count(*ndimage.label(ink, structure=EIGHT), MIN_PIECE)
    background = np.pad(~ink, 1, constant_values=True)  # one outer background, touching the padded border
    labels, n = ndimage.label(background)
    outer = labels[0, 0]
    labels[labels == outer] = 0
    return pieces, _count(labels, n, MIN_HOLE)


def _break(before: tuple[int, int], after: tuple[int, int], paint: bool) -> str | None:
    """What an edit did to the strokes: erasing cuts one in two ('cut') or opens a loop ('open');
    painting joins two ('join') or closes a loop ('close'); None for anything else (a piece erased
    whole, a hole punched into a thick stroke or filled in)."""
    (pieces, holes), (pieces_now, holes_now) = before, after
    if paint:
        return "join" if pieces_now < pieces else "close" if holes_now > holes else None
    return "cut" if pieces_now > pieces else "open" if holes_now < holes else None


def strokes(image: np.ndarray) -> tuple[tuple[int, int], ...]:
    """The (pieces, holes) of a uint8 digit at each of THRESHOLDS."""
    return tuple(topology(image >= t) for t in THRESHOLDS)


def harmful_edit(image: np.ndarray) -> tuple[np.ndarray, str] | None:
    """The smallest-L2 square erased or painted (side 2, then 3, then 4: the first side that works)
    that changes the (pieces, holes) of a uint8 digit (H, W) in the same way at every threshold of
    THRESHOLDS (a clean gap, not a faint edge removed); with what it did ('cut', 'open', 'join',
    'close'), or None when no such square exists."""
    ink = image >= THRESHOLDS[-1]
    before = strokes(image)
    h, w = image.shape
    near = ndimage.binary_dilation(image >= THRESHOLDS[0], EIGHT, iterations=2)  # painting far off changes nothing
    for side in SIDES:
        best = None
        for top in range(h - side + 1):
            for left in range(w - side + 1):
                window = (slice(top, top + side), slice(left, left + side))
                patch = ink[window]
                for paint in (False, True):
                    if (patch.all() if paint else not patch.any()) or (paint and not near[window].any()):
                        continue
                    edited = image.copy()
                    edited[window] = 255 if paint else 0
                    kinds = {_break(b, a, paint) for b, a in zip(before, strokes(edited))}
                    kind = kinds.pop() if len(kinds) == 1 else None
                    cost = float(np.square(edited.astype(np.float64) - image).sum())
                    if kind and (best is None or cost < best[0]):
                        best = (cost, edited, kind)
        if best is not None:
            return best[1], best[2]
    return None


def harmless_edit(image: np.ndarray, kind: str, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Many pixels changed where a reader does not mind: a one-pixel shift (a random direction), a
    grey dilation by the 3x3 cross (strokes a pixel thicker), or uniform grey noise up to NOISE in the
    MARGIN-wide border; (the edit, its kind). A thickening that changes the strokes (fills a loop,
    joins two strokes) is not harmless: that digit gets the shift instead."""
    if kind == "thicken":
        edited = ndimage.grey_dilation(image, footprint=np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool))
        if strokes(edited) == strokes(image):
            return edited, kind
        kind = "shift"
    if kind == "shift":
        dy, dx = [(0, 1), (0, -1), (1, 0), (-1, 0)][rng.integers(4)]
        return np.roll(image, (dy, dx), axis=(0, 1)), kind  # the margin is empty: nothing wraps round
    edited = image.copy()
    border = np.ones(image.shape, dtype=bool)
    border[MARGIN:-MARGIN, MARGIN:-MARGIN] = False
    noise = rng.integers(0, NOISE + 1, size=image.shape).astype(np.uint8)
    edited[border] = np.maximum(edited[border], noise[border])
    return edited, kind


def pixel_l2(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Euclidean distance of uint8 images (N, C, H, W), pixels in [0, 1] units -> (N,)."""
    return ((a.double() - b.double()) / 255).flatten(1).norm(dim=1)


def total_variation(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """½ Σ |p − q| of probability rows (N, K) -> (N,): 0 same verdict and confidence, 1 disjoint."""
    return 0.5 * (p - q).abs().sum(1)


def class_probabilities(net, images: torch.Tensor) -> torch.Tensor:
    """The domain classifier's class probabilities for uint8 images, (N, classes)."""
    with torch.no_grad():
        return torch.softmax(net.head(net(images)), 1)


def make_pairs(images: torch.Tensor, seed: int) -> dict:
    """For uint8 digits (N, 1, H, W): the originals that have a harmful edit, each with its harmful
    edit, what it did, a harmless edit (the kinds in turn, starting at a seeded place) and its kind."""
    rng = np.random.default_rng(seed)
    start = int(rng.integers(len(HARMLESS)))
    kept, harmful, did, harmless, kinds = [], [], [], [], []
    for image in images[:, 0].numpy():
        found = harmful_edit(image)
        if found is None:
            continue
        edited, kind = harmless_edit(image, HARMLESS[(start + len(kept)) % len(HARMLESS)], rng)
        kept.append(image)
        harmful.append(found[0])
        did.append(found[1])
        harmless.append(edited)
        kinds.append(kind)
    stack = lambda xs: torch.from_numpy(np.stack(xs))[:, None] if xs else images[:0]  # (N, 1, H, W)
    return {"original": stack(kept), "harmful": stack(harmful), "did": did, "harmless": stack(harmless), "kind": kinds}


def score(pairs: dict, net) -> dict:
    """Per pair (tensors (N,)): pixel L2 of each edit, the classifier's total variation and feature
    distance from the original, its class for each image and its probability."""
    original, harmful, harmless = pairs["original"], pairs["harmful"], pairs["harmless"]
    probs = {k: class_probabilities(net, pairs[k]) for k in ("original", "harmful", "harmless")}
    with torch.no_grad():
        feats = {k: net.features(pairs[k]) for k in ("original", "harmful", "harmless")}
    return {
        "l2_harmful": pixel_l2(original, harmful),
        "l2_harmless": pixel_l2(original, harmless),
        "tv_harmful": total_variation(probs["original"], probs["harmful"]),
        "tv_harmless": total_variation(probs["original"], probs["harmless"]),
        "feat_harmful": (feats["original"] - feats["harmful"]).norm(dim=1),
        "feat_harmless": (feats["original"] - feats["harmless"]).norm(dim=1),
        **{f"class_{k}": p.argmax(1) for k, p in probs.items()},
        **{f"confidence_{k}": p.max(1).values for k, p in probs.items()},
    }


def notes_way(scores: dict) -> torch.Tensor:
    """Per pair, bool: pixel L2 ranks the harmless edit farther and the classifier ranks the harmful
    one farther (its class probabilities move more), the disagreement the notes predict."""
    return (scores["l2_harmless"] > scores["l2_harmful"]) & (scores["tv_harmful"] > scores["tv_harmless"])


def bootstrap_std(hits: torch.Tensor, draws: int = BOOTSTRAP, seed: int = 0) -> float:
    """Standard deviation of the share of True in `hits` (N,) over `draws` resamples of the pairs."""
    if len(hits) < 2:
        return float("nan")
    g = torch.Generator().manual_seed(seed)
    index = torch.randint(len(hits), (draws, len(hits)), generator=g)
    return float(hits.double()[index].mean(1).std())


def judge(figures: dict) -> str:
    """From per-seed lists `figures["notes_way"]` (share of pairs disagreeing the notes' way) and
    `figures["bootstrap_std"]`: supported when the share is above one half by more than the seeds'
    spread and twice the largest bootstrap standard deviation, not supported when below by as much."""
    slack = 2 * max(figures["bootstrap_std"])
    return decide([s - 0.5 for s in figures["notes_way"]], slack)


def run(lab: Lab) -> Outcome:
    from genlab.data import load_dataset
    from genlab.metrics.features import feature_space

    data = load_dataset(DATA)
    seeds = lab.seeds()
    count = min(lab.budget(200, 333), len(data.test) // len(seeds))
    order = torch.randperm(len(data.test), generator=torch.Generator().manual_seed(0))
    lab.say(f"  the classifier: genlab's domain feature network on {DATA} (trained once, then cached)")
    space = feature_space(data, device="cpu")
    net = space.net
    keys = (
        "notes_way",
        "bootstrap_std",
        "pixel_says_harmless_farther",
        "classifier_says_harmful_farther",
        "features_say_harmful_farther",
        "class_changed_harmful",
        "class_changed_harmless",
        "pairs",
    )
    figures = {k: [] for k in keys}
    by_kind = {k: {"l2": [], "tv": [], "class_changed": [], "notes_way": []} for k in HARMLESS}
    l2 = {"harmful": [], "harmless": []}
    first = None
    for i, seed in enumerate(seeds):
        digits = data.test[order[i * count : (i + 1) * count]]
        lab.say(f"  seed {seed}: edits of {len(digits)} test digits")
        pairs = make_pairs(digits, seed)
        s = score(pairs, net)
        hits = notes_way(s)
        figures["pairs"].append(len(hits))
        figures["notes_way"].append(float(hits.double().mean()))
        figures["bootstrap_std"].append(bootstrap_std(hits, seed=seed))
        figures["pixel_says_harmless_farther"].append(float((s["l2_harmless"] > s["l2_harmful"]).double().mean()))
        figures["classifier_says_harmful_farther"].append(float((s["tv_harmful"] > s["tv_harmless"]).double().mean()))
        figures["features_say_harmful_farther"].append(float((s["feat_harmful"] > s["feat_harmless"]).double().mean()))
        for edit in ("harmful", "harmless"):
            figures[f"class_changed_{edit}"].append(float((s[f"class_{edit}"] != s["class_original"]).double().mean()))
            l2[edit].append(float(s[f"l2_{edit}"].mean()))
        kinds = np.array(pairs["kind"])
        for kind in HARMLESS:
            mask = torch.from_numpy(kinds == kind)
            by_kind[kind]["l2"].append(float(s["l2_harmless"][mask].mean()))
            by_kind[kind]["tv"].append(float(s["tv_harmless"][mask].mean()))
            by_kind[kind]["class_changed"].append(
                float((s["class_harmless"] != s["class_original"])[mask].double().mean())
            )
            by_kind[kind]["notes_way"].append(float(hits[mask].double().mean()))
        if first is None:
            first = (pairs, s)
    verdict = judge(figures)
    figures.update(
        {
            "data": DATA,
            "digits_per_seed": count,
            "classifier": space.name,
            "mean_l2": l2,
            "harmless_kinds": by_kind,
            "thresholds": list(THRESHOLDS),
            "squares": list(SIDES),
        }
    )
    _pairs_picture(*first, lab.picture("pairs.png"))
    _scatter(*first, lab.picture("disagreement.png"))
    f = figures
    finding = (
        f"Over {sum(f['pairs'])} pairs: pixel L2 puts the harmless edit farther from the original in "
        f"{spread([100 * v for v in f['pixel_says_harmless_farther']])} % of pairs (mean L2 "
        f"{spread(l2['harmless'])} vs {spread(l2['harmful'])} for the harmful edit); the classifier's "
        f"probabilities move more for the harmful edit in {spread([100 * v for v in f['classifier_says_harmful_farther']])} "
        f"% (its class changes for {spread([100 * v for v in f['class_changed_harmful']])} % of harmful and "
        f"{spread([100 * v for v in f['class_changed_harmless']])} % of harmless edits; its 128-d features move "
        f"more for the harmful edit in {spread([100 * v for v in f['features_say_harmful_farther']])} %). Both "
        f"at once, the notes' disagreement: {spread([100 * v for v in f['notes_way']])} % of pairs (bootstrap "
        f"std {100 * max(f['bootstrap_std']):.1f} points; the rule asks above 50 %). By harmless kind: "
        + "; ".join(f"{k} {spread([100 * v for v in by_kind[k]['notes_way']])} %" for k in HARMLESS)
        + "."
    )
    return Outcome(
        figures=figures,
        pictures=[
            (
                "pairs.png",
                "Top: test digits and the classifier's reading; middle: the harmful edit (a few pixels "
                "that cut, open, join or close a stroke); bottom: the harmless edit (many pixels). Under "
                "each edit: its pixel distance to the original and the classifier's reading. Does the "
                "pixel distance order them the way your eye does?",
                False,
            ),
            (
                "disagreement.png",
                "One dot per pair (first seed): right of 0, pixel L2 says the harmless edit is "
                "farther; above 0, the classifier says the harmful one is. The notes predict "
                "the top right",
                True,
            ),
        ],
        finding=finding,
        verdict=verdict,
        setup=(
            f"{count} test digits of {DATA} per seed (seeds {', '.join(map(str, seeds))}: disjoint digits); harmful "
            f"edit: the smallest-L2 square (side {', '.join(map(str, SIDES))}) erased or painted that changes the "
            f"digit's pieces or holes at grey levels {' and '.join(map(str, THRESHOLDS))}; harmless: a one-pixel shift, a "
            f"cross-shaped dilation (the shift where it would change the strokes) or "
            f"noise up to {NOISE} grey levels in the {MARGIN}-pixel margin, in turn; classifier {space.name}"
        ),
    )


def _pairs_picture(pairs: dict, s: dict, path, count: int = SHOWN, scale: int = 4) -> None:
    """Columns of (original, harmful edit, harmless edit), each tile captioned below."""
    from PIL import Image, ImageDraw, ImageFont

    from genlab import viz

    count = min(count, len(pairs["original"]))
    h, w = pairs["original"].shape[2:]
    tile_w, tile_h, text_h, pad, label_w = w * scale, h * scale, 30, 6, 118
    rows = (
        ("original", "original"),
        ("harmful\n(few pixels,\nbreaks a stroke)", "harmful"),
        ("harmless\n(many pixels)", "harmless"),
    )
    sheet = Image.new(
        "RGB", (label_w + count * (tile_w + pad) + pad, len(rows) * (tile_h + text_h + pad) + pad), (255, 255, 255)
    )
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=11)
    for r, (label, key) in enumerate(rows):
        y = pad + r * (tile_h + text_h + pad)
        draw.multiline_text((4, y + 4), label, fill=(20, 20, 20), font=font)
        for i in range(count):
            x = label_w + pad + i * (tile_w + pad)
            tile = viz.image_grid(pairs[key][i : i + 1], nrow=1, pad=0, min_side=1).convert("RGB")
            sheet.paste(tile.resize((tile_w, tile_h), Image.NEAREST), (x, y))
            says = f"reads {int(s[f'class_{key}'][i])} ({float(s[f'confidence_{key}'][i]):.2f})"
            if key == "original":
                text = says
            else:
                what = pairs["did"][i] if key == "harmful" else pairs["kind"][i]
                text = f"{what}, L2 {float(s[f'l2_{key}'][i]):.2f}\n{says}"
            draw.multiline_text((x, y + tile_h + 2), text, fill=(20, 20, 20), font=font)
    viz.save_png(sheet, path)


def _scatter(pairs: dict, s: dict, path) -> None:
    from genlab import viz

    plt = viz._pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.6), dpi=90)
    x = (s["l2_harmless"] - s["l2_harmful"]).numpy()
    y = (s["tv_harmful"] - s["tv_harmless"]).numpy()
    kinds = np.array(pairs["kind"])
    for kind, colour in zip(HARMLESS, ("tab:blue", "tab:green", "tab:red")):
        mask = kinds == kind
        ax.scatter(x[mask], y[mask], s=10, alpha=0.6, color=colour, label=f"harmless edit: {kind}")
    ax.axhline(0, color="0.5", lw=0.8)
    ax.axvline(0, color="0.5", lw=0.8)
    ax.set_yscale("symlog", linthresh=0.01)
    top_right = float(((x > 0) & (y > 0)).mean()) if len(x) else float("nan")
    ax.set(
        xlabel="pixel L2 of the harmless edit − of the harmful edit ([0, 1] pixel units)",
        ylabel="classifier's change: harmful − harmless\n(total variation of class probabilities)",
        title=f"pixel distance vs the classifier: {100 * top_right:.0f} % of pairs in the top right",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    viz._save_figure(fig, path)


SECTION = Section(
    "pixel-distance",
    data=f"pairs of edits of the built-in 28x28 test digits ({DATA}); 3 seeds (disjoint digits) at the full budget",
    figure=(
        "the share of pairs where pixel L2 ranks the harmless edit farther from the original while the classifier "
        "ranks the harmful edit farther"
    ),
    rule=(
        "Supported when the share of pairs where pixel L2 ranks the harmless edit farther from the original while "
        "the classifier ranks the harmful edit farther is above 50 % by more than both the seeds' spread (max − min) and twice the "
        "bootstrap standard deviation of the share (200 resamples of the pairs); not supported when it is below 50 % "
        "by as much; inconclusive otherwise."
    ),
    run=run,
    cost=110,
)
