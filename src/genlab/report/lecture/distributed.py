"""Claim 8 of the notes: describing an image by which cluster it falls in (a one-hot code) is not enough;
a distributed code, many attributes at once, does better (the notes' argument for the VAE over a
mixture; Hinton, McClelland & Rumelhart 1986 on distributed representations).

On binarized mnist5k, three codes of M numbers per image, M = 10 (as many as there are digits, the
clusters' best case) and M = 32:
- one-hot: k-means with M centres (scikit-learn); an image's code is its nearest centre, and that
  centre is its reconstruction. Parameters: the M centres, M·784 numbers.
- distributed, with the same parameters: the linear autoencoder with M-dimensional codes and tied
  weights, whose optimum is PCA (Baldi & Hornik 1989): code = Wᵀ(x − mean), reconstruction =
  mean + W·code. Parameters: W, M·784 numbers, plus the mean image (784).
- distributed, the notes' model: genlab's VAE with an M-dimensional code (MLP 784-256-M-256-784,
  Bernoulli pixels); code = the posterior mean, reconstruction = the decoder's pixel probabilities.
  Far more parameters (the count is reported).
Two scores per code: the reconstruction error (squared error summed over the 784 pixels, pixel values
0 to 1, per test image), and the test accuracy of a logistic regression (scikit-learn) trained on the
codes of 100 labelled training images (a random 100 per seed; each code scaled by one number to a
mean squared length of 1 over all 4,000 unlabelled training codes, the one-hot code's own length)."""

from __future__ import annotations

import numpy as np
import torch

from genlab.report.lecture.base import Lab, Outcome, Section, all_of, decide, labelled_rows, spread

SIZES = (10, 32)
LABELLED = 100
VAE = {"hidden": 256, "colors": 2, "sample_prior": "normal"}
BATCH = 128
CODES = ("kmeans", "linear", "vae")
NAMES = {"kmeans": "one-hot (k-means)", "linear": "linear code (PCA)", "vae": "VAE code"}
SCORES = ("recon_error", "accuracy")  # lower, higher is better
SHOWN = 12


def kmeans_code(train: np.ndarray, test: np.ndarray, m: int, seed: int) -> dict[str, np.ndarray]:
    """k-means with m centres on train (N, D): one-hot codes (train and test) and the test reconstructions
    (each test image's nearest centre)."""
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    with threadpool_limits(torch.get_num_threads()):
        km = KMeans(m, n_init=3, random_state=seed).fit(train)
    eye = np.eye(m, dtype=np.float32)
    which = km.predict(test)
    return {
        "train": eye[km.labels_],
        "test": eye[which],
        "recon": km.cluster_centers_[which],
        "basis": km.cluster_centers_,
    }


def linear_code(train: np.ndarray, test: np.ndarray, m: int) -> dict[str, np.ndarray]:
    """The optimal tied linear autoencoder with m-dimensional codes (PCA): codes Wᵀ(x − mean), test
    reconstructions mean + W·code; basis: the mean image, then the m directions (rows of Wᵀ)."""
    mean = train.mean(0)
    _, _, vt = np.linalg.svd(train - mean, full_matrices=False)  # rows of vt: orthonormal directions
    w = vt[:m]  # (m, D)
    codes = (test - mean) @ w.T  # (N, m)
    return {"train": (train - mean) @ w.T, "test": codes, "recon": mean + codes @ w, "basis": np.vstack([mean, w])}


def recon_error(images: np.ndarray, reconstructions: np.ndarray) -> np.ndarray:
    """Squared error summed over the pixels, per image (N,)."""
    return ((images - reconstructions) ** 2).sum(1)


def few_label_accuracy(
    train_codes: np.ndarray,
    train_labels: np.ndarray,
    test_codes: np.ndarray,
    test_labels: np.ndarray,
    labelled: int,
    seed: int,
) -> float:
    """Test accuracy of a logistic regression (L2, C = 1) trained on `labelled` random training codes
    (seeded). Every code is first scaled by one number so that its mean squared length over all the
    (unlabelled) training codes is 1, a one-hot code's length: the same penalty means the same for every
    code, and each code keeps its own relative scales (standardizing each dimension would blow up a
    VAE's unused dimensions and PCA's last, noisiest directions)."""
    from sklearn.linear_model import LogisticRegression

    scale = 1.0 / np.sqrt((train_codes**2).sum(1).mean() + 1e-12)
    train_codes, test_codes = train_codes * scale, test_codes * scale
    pick = np.random.default_rng(seed).choice(len(train_codes), labelled, replace=False)
    clf = LogisticRegression(max_iter=2000).fit(train_codes[pick], train_labels[pick])
    return float((clf.predict(test_codes) == test_labels).mean())


def run(lab: Lab) -> Outcome:
    steps = lab.budget(300, 1200)
    seeds = lab.seeds()
    results: dict[str, dict[str, dict[str, list[float]]]] = {}
    params: dict[str, dict[str, int]] = {}
    shown: dict[str, np.ndarray] = {}
    data = None
    for seed in seeds:
        for m in SIZES:
            trained = lab.train(
                f"vae-{m}d-seed{seed}",
                "vae",
                {**VAE, "latent": m},
                "mnist5k",
                steps,
                batch_size=BATCH,
                lr=2e-3,
                seed=seed,
            )
            model = trained.model
            if data is None:
                data = trained.dataset()
                train = model.prepare(data.train.to(model.device)).flatten(1).cpu().numpy().astype(np.float32)
                test = model.prepare(data.test.to(model.device)).flatten(1).cpu().numpy().astype(np.float32)
                train_y, test_y = data.train_labels.numpy(), data.test_labels.numpy()
            with torch.no_grad():
                model.eval()
                probs = model.logits(model.encode_images(data.test)).sigmoid().flatten(1).cpu().numpy()  # (N, 784)
                vae_train = model.training_codes(model.prepare(data.train.to(model.device))).cpu().numpy()
                vae_test = model.encode_images(data.test).cpu().numpy()
            codes = {
                "kmeans": kmeans_code(train, test, m, seed),
                "linear": linear_code(train, test, m),
                "vae": {"train": vae_train, "test": vae_test, "recon": probs},
            }
            for name, code in codes.items():
                entry = results.setdefault(str(m), {}).setdefault(name, {s: [] for s in SCORES})
                entry["recon_error"].append(float(recon_error(test, code["recon"]).mean()))
                entry["accuracy"].append(
                    few_label_accuracy(code["train"], train_y, code["test"], test_y, LABELLED, seed)
                )
                if seed == seeds[0]:
                    shown[f"{name}-{m}"] = code["recon"][:SHOWN]
                    if name != "vae":
                        shown[f"{name}-{m}-basis"] = code["basis"]
            n_vae = sum(p.numel() for p in model.parameters())
            n_decoder = sum(p.numel() for p in model.decoder.parameters())
            params[str(m)] = {"kmeans": m * 784, "linear": m * 784 + 784, "vae": n_vae, "vae_decoder": n_decoder}
    verdict, per_size = judge(results)
    _pictures(test[:SHOWN], shown, lab)
    _plot(results, lab.picture("scores.png"))

    def line(m: str) -> str:
        r = results[m]
        return (
            f"M = {m} ({per_size[m]}): reconstruction error "
            + ", ".join(f"{NAMES[c]} {spread(r[c]['recon_error'])}" for c in CODES)
            + "; accuracy "
            + ", ".join(f"{spread([100 * a for a in r[c]['accuracy']])} %" for c in CODES)
        )

    return Outcome(
        figures={
            "vae_steps": steps,
            "sizes": list(SIZES),
            "labelled": LABELLED,
            "test_images": len(test),
            "parameters": params,
            "scores": results,
            "verdict_per_size": per_size,
        },
        pictures=[
            (
                "reconstructions.png",
                "Row 1: binarized test digits. Then each code's reconstruction: the one-hot code "
                "can only return the nearest of its M centres (a whole prototype digit); the "
                "distributed codes mix their M numbers. Look at which rows keep each digit's own "
                "shape.",
                False,
            ),
            (
                "basis.png",
                "What the M·784 numbers of the two parameter-matched codes are, M = 10. Top: the k-means "
                "centres, one whole digit each. Bottom: the linear code's mean image and its 10 directions "
                "(grey = 0, white positive, black negative): strokes added in varying amounts.",
                False,
            ),
            (
                "scores.png",
                "Left: reconstruction error per test image (summed squared error, pixels 0 to 1; lower is "
                "better); right: test accuracy of a logistic regression trained on the codes of 100 "
                "labelled images (higher is better). Bars: mean over the seeds, whiskers: their range.",
                True,
            ),
        ],
        finding=(
            f"Over {len(seeds)} seed(s), one-hot (k-means), linear code (PCA, the same parameters) and VAE code "
            f"({params[str(SIZES[0])]['vae']:,} parameters at M = {SIZES[0]}): "
            + "; ".join(line(str(m)) for m in SIZES)
            + "."
        ),
        verdict=verdict,
        setup=(
            f"mnist5k binarized at 128: k-means (3 starts per seed) and PCA fitted to the 4,000 training digits; "
            f"the VAE (MLP 784-256-M-256-784, Bernoulli pixels) trained {steps} steps of {BATCH} images, learning "
            f"rate 2e-3; M = {', '.join(map(str, SIZES))}; a logistic regression on {LABELLED} random labelled "
            f"training images per seed (seeds {', '.join(map(str, seeds))}); scored on the {len(test)} test digits."
        ),
    )


def judge(results: dict) -> tuple[str, dict[str, str]]:
    """The rule: at each M, each distributed code (linear, VAE) has a lower reconstruction error and a higher
    accuracy than the one-hot code, each margin (per seed) beyond the seeds' spread; every part must hold."""
    per_size = {}
    for m, by_code in results.items():
        one_hot = by_code["kmeans"]
        parts = []
        for code in ("linear", "vae"):
            ours = by_code[code]
            parts.append(decide([k - d for k, d in zip(one_hot["recon_error"], ours["recon_error"])]))
            parts.append(decide([d - k for k, d in zip(one_hot["accuracy"], ours["accuracy"])]))
        per_size[m] = all_of(*parts)
    return all_of(*per_size.values()), per_size


def _pictures(test: np.ndarray, shown: dict, lab: Lab) -> None:
    def images(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)).reshape(-1, 1, 28, 28)

    rows = [("binarized test digit", images(test))]
    for m in SIZES:
        rows += [(f"{NAMES[c]}, M = {m}", images(shown[f"{c}-{m}"])) for c in CODES]
    labelled_rows(rows, lab.picture("reconstructions.png"), scale=3, label_width=210)
    m = SIZES[0]
    basis = shown[f"linear-{m}-basis"]
    directions = 0.5 + 0.5 * basis[1:] / np.abs(basis[1:]).max(1, keepdims=True)  # grey = 0
    labelled_rows(
        [
            (f"k-means: {m} centres", images(shown[f"kmeans-{m}-basis"])),
            (f"linear code: mean,\nthen {m} directions", images(np.vstack([basis[:1], directions]))),
        ],
        lab.picture("basis.png"),
        scale=3,
        label_width=210,
    )


def _plot(results: dict, path) -> None:
    from genlab import viz

    plt = viz._pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), dpi=90)
    width = 0.26
    colours = {"kmeans": "tab:grey", "linear": "tab:green", "vae": "tab:blue"}
    for ax, score, label in (
        (axes[0], "recon_error", "squared error per test image (pixels 0-1)"),
        (axes[1], "accuracy", f"test accuracy, {LABELLED} labels (%)"),
    ):
        for i, code in enumerate(CODES):
            per_m = [results[str(m)][code][score] for m in SIZES]
            scale = 100 if score == "accuracy" else 1
            mean = [scale * sum(v) / len(v) for v in per_m]
            err = [
                [mu - scale * min(v) for mu, v in zip(mean, per_m)],
                [scale * max(v) - mu for mu, v in zip(mean, per_m)],
            ]
            xs = np.arange(len(SIZES)) + (i - 1) * width
            ax.bar(xs, mean, width, yerr=err, capsize=3, color=colours[code], label=NAMES[code])
        ax.set_xticks(np.arange(len(SIZES)), [f"M = {m}" for m in SIZES])
        ax.set(ylabel=label, xlabel="numbers per code")
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_title("reconstruction (lower is better)")
    axes[1].set_title("classification from 100 labels (higher is better)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    viz._save_figure(fig, path)


SECTION = Section(
    "distributed",
    data="mnist5k binarized at 128: 4,000 training digits (100 of them labelled for the classifier), 1,000 test digits",
    figure=(
        "reconstruction error and 100-label classification accuracy of a one-hot code (k-means, M centres) "
        "against distributed codes of M numbers (a linear code with the same parameters; a VAE), M = 10 and 32"
    ),
    rule=(
        "Supported when, at M = 10 and at M = 32, both distributed codes (the parameter-matched linear code and "
        "the VAE's) have a lower mean reconstruction error and a higher test accuracy than the one-hot k-means "
        "code, each margin (per seed) beyond the seeds' spread; not supported when the one-hot code is better on "
        "any of them by more than the spread; inconclusive otherwise."
    ),
    run=run,
    cost=90.0,
)
