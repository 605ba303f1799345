"""One self-contained HTML page: inline CSS, images as base64 PNG data URIs, sounds as base64 WAV
data URIs in audio elements, no script, nothing fetched. A Content-Security-Policy in the page
forbids every external resource, so a browser would report anything that slipped in."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

CSP = "default-src 'none'; img-src data:; media-src data:; style-src 'unsafe-inline'"

STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; color: #222; max-width: 1100px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 1em 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
figure { display: inline-block; margin: 0.5em 1em 1em 0; vertical-align: top; }
figure img { max-width: 520px; image-rendering: pixelated; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #555; max-width: 520px; }
figure.plot img { max-width: 100%; image-rendering: auto; } figure.plot { display: block; }
figure audio { display: block; width: 100%; max-width: 520px; margin-bottom: 0.3em; }
.note { color: #555; font-size: 0.9em; } code { background: #f3f3f3; padding: 0 0.2em; }
"""


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def data_uri(png: Path | bytes) -> str:
    raw = png if isinstance(png, bytes) else Path(png).read_bytes()
    return "data:image/png;base64," + base64.b64encode(raw).decode("ascii")


def wav_uri(wav: Path) -> str:
    """A .wav as a data URI a browser plays: below 8 kHz resampled, as the web page serves it."""
    from genlab.data.sound.wav import playable_wav

    raw = playable_wav(wav) or Path(wav).read_bytes()
    return "data:audio/wav;base64," + base64.b64encode(raw).decode("ascii")


def figure(png: Path | bytes, caption: str, plot: bool = False, sound: Path | None = None) -> str:
    """A picture with its caption; `sound`: a .wav played by an audio element above the picture."""
    audio = f'<audio controls preload="auto" src="{wav_uri(sound)}"></audio>' if sound else ""
    return (
        f'<figure{" class=plot" if plot else ""}>{audio}<img src="{data_uri(png)}" alt="{esc(caption)}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def table(
    header: list[str],
    rows: list[list[tuple[str, dict[str, str]]]],
    titles: list[str] | None = None,
    table_id: str = "metrics",
) -> str:
    """header cells, then rows of (text, attributes) cells; titles: hover help per column."""
    titles = titles or [""] * len(header)
    head = "".join(f'<th title="{esc(t)}">{esc(h)}</th>' for h, t in zip(header, titles))
    body = "".join(
        "<tr>" + "".join(f"<td{_attributes(attrs)}>{esc(text)}</td>" for text, attrs in row) + "</tr>" for row in rows
    )
    return f'<table id="{esc(table_id)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _attributes(attrs: dict[str, str]) -> str:
    return "".join(f' {name}="{esc(value)}"' for name, value in attrs.items())


def page(title: str, body: str, style: str = "") -> str:
    """A whole self-contained page; `style`: CSS rules added after the shared ones."""
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}{style}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


# --- the compare report ---------------------------------------------------------------------------
COLUMNS = [  # (metrics key, header, hover help); the likelihood column is chosen per model
    ("fid", "FID ↓", "Fréchet distance of Gaussian fits to sample and test features (0 = same mean and covariance)"),
    ("kid", "KID ↓", "kernel distance (unbiased MMD², cubic kernel) of sample and test features; about 0 when alike"),
    ("precision", "precision ↑", "share of samples inside the test set's k-NN manifold (k=3): realism"),
    ("recall", "recall ↑", "share of test items inside the samples' k-NN manifold (k=3): variety"),
    (
        "density",
        "density",
        "real k-NN balls (k=5, strictly inside) per sample / k: about 1 when samples look like the data",
    ),
    ("coverage", "coverage ↑", "share of test items whose k-NN ball (k=5) holds a sample"),
    (
        "confidence",
        "confidence ↑",
        "the data's classifier's mean top-class probability on the samples: near 1 when "
        "each sample is clearly one class",
    ),
    (
        "nn_ratio",
        "NN ratio",
        "median distance of samples to their nearest training image / the same for test "
        "images: 1 healthy, near 0 copying",
    ),
    ("copy_share", "copy share ↓", "share of samples closer to a training image than the closest test image is"),
]
LIKELIHOOD_KEYS = ("nll_bits_per_dim", "iwae", "elbo_nll_bits_per_dim")  # exact first, then the tightest bound


def fmt(value) -> str:
    """A figure as the table shows it: 3 significant digits, ± the std over seeds when there are several."""
    if isinstance(value, dict):
        text = fmt(value["mean"])
        return text + (f" ± {value['std']:.2g}" if len(value["values"]) > 1 else "")
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def likelihood_key(report: dict) -> str | None:
    for prefix in LIKELIHOOD_KEYS:
        for key in report:
            if key.startswith(prefix) and key.endswith("_bits_per_dim"):
                return key
    return None


def _row(label: str, figures: dict) -> list[tuple[str, dict[str, str]]]:
    cells = [(label, {})] + _training_cells(label, figures["training"])
    colors = figures["model_config"].get("colors")
    key = likelihood_key(figures)
    cells.append((fmt(figures[key]) if key else "—", {"data-model": label, "data-key": key} if key else {}))
    cells.append((str(colors) if colors else "raw", {}))
    space = "pixels" if "nn_ratio_pixels" in figures else "features"
    for name, _, _ in COLUMNS:
        k = f"{name}_{space}" if name in ("nn_ratio", "copy_share") else name
        cells.append((fmt(figures[k]), {"data-model": label, "data-key": k}) if k in figures else ("—", {}))
    return cells


def _training_cells(label: str, t: dict) -> list[tuple[str, dict[str, str]]]:
    """Epochs, steps, wall and CPU seconds of a family's training, as TRAINING_COLUMNS."""

    def cell(key: str, text: str | None) -> tuple[str, dict[str, str]]:
        return (text, {"data-model": label, "data-key": f"training/{key}"}) if text is not None else ("—", {})

    def seconds(key: str) -> str | None:
        return f"{t[key]:.0f}" if isinstance(t.get(key), (int, float)) else None

    return [
        cell("epochs", f"{t['epochs']:.1f}" if "epochs" in t else None),
        cell("steps", str(t["steps"])),
        cell("wall_seconds", seconds("wall_seconds")),
        cell("cpu_seconds", seconds("cpu_seconds")),
    ]


TRAINING_COLUMNS = [  # (header, hover help) of the cells _training_cells makes
    ("epochs", "passes over the training split"),
    ("steps", "optimisation steps the budget bought"),
    (
        "wall s",
        "seconds on the clock of the family's training job, from its start to its end (loading the data, "
        "the budget of training time and the sample-quality rows); families trained side by side (--jobs) "
        "each have their own",
    ),
    (
        "CPU s",
        "CPU seconds (user + system, every thread) the training job got: below its wall seconds when the "
        "process waited for a core, so a --minutes budget on a busy machine buys fewer steps",
    ),
]
HEADER = ["model"] + [h for h, _ in TRAINING_COLUMNS] + ["NLL bits/dim ↓", "colours"] + [h for _, h, _ in COLUMNS]
TITLES = (
    [""]
    + [t for _, t in TRAINING_COLUMNS]
    + [
        "negative log-likelihood of the test images in bits per dimension: exact for autoregressive models "
        "and the mixture, the IWAE bound for the VAE; compare only models with the same colours",
        "palette size the likelihood is measured on (2 = binarized; raw = the pixel values)",
    ]
    + [t for *_, t in COLUMNS]
)


SOUND_COLUMNS = [  # (metrics key, header, hover help) of `evaluate` on sound (metrics/audio.py)
    (
        "nll_bits_per_sample",
        "NLL bits/sample ↓",
        "negative log-likelihood of the test clips in bits per sample "
        "(256 mu-law levels: 8 bits is a uniform guess), exact",
    ),
    (
        "spectral_flatness",
        "flatness",
        "median spectral flatness of the samples: white noise about 0.56, a pure "
        "tone about 0, voiced speech a few hundredths; compare with the test clips' (— when "
        "every 1024-sample frame is silent or the sounds are shorter)",
    ),
    ("spectral_flatness_test", "flatness of test clips", "the same for the test clips"),
    (
        "log_mel_distance_db",
        "log-mel distance dB ↓",
        "RMS difference over 40 mel bands of the mean log-mel spectra "
        "of samples and test clips: 0 when their average envelopes agree",
    ),
    ("rms", "RMS", "loudness of the samples (root mean square, mean removed per sound)"),
    ("rms_test", "RMS of test clips", "the same for the test clips"),
    (
        "recognised_as_asked",
        "recognised as asked ↑",
        "class-conditional runs: share of samples that a word classifier "
        "(trained on the training split) assigns to the class asked for",
    ),
]
SOUND_HEADER = ["model"] + [h for h, _ in TRAINING_COLUMNS] + [h for _, h, _ in SOUND_COLUMNS]
SOUND_TITLES = [""] + [t for _, t in TRAINING_COLUMNS] + [t for *_, t in SOUND_COLUMNS]


def _sound_row(label: str, figures: dict) -> list[tuple[str, dict[str, str]]]:
    cells = _row(label, figures)[: 1 + len(TRAINING_COLUMNS)]  # the model and how long it trained
    for key, _, _ in SOUND_COLUMNS:
        value = figures.get(key)
        cells.append((fmt(value), {"data-model": label, "data-key": key}) if value is not None else ("—", {}))
    return cells


def recognition_table(models: dict) -> str:
    """Class-conditional sound runs: the share of samples recognised as the class asked for, per class
    (columns named as the data names its classes); "" when no run has such figures."""
    by_model = {
        label: figures["recognised_by_class"] for label, figures in models.items() if figures.get("recognised_by_class")
    }
    if not by_model:
        return ""
    classes = list(dict.fromkeys(name for shares in by_model.values() for name in shares))  # first-seen order
    rows = [
        [(label, {})]
        + [
            (fmt(shares[c]), {"data-model": label, "data-key": f"recognised_by_class/{c}"})
            if c in shares
            else ("—", {})
            for c in classes
        ]
        for label, shares in by_model.items()
    ]
    chance = ", ".join(f"{label} {fmt(models[label]['recognised_chance'])}" for label in by_model)
    return (
        '<h3>Recognised as asked, per class</h3><p class="note">The share of each class’s samples that the word '
        f"classifier assigns to that class (chance: {esc(chance)}; classifier accuracy on the test clips: "
        + esc(", ".join(f"{label} {fmt(models[label]['classifier_test_accuracy'])}" for label in by_model))
        + ").</p>"
        + table(["model"] + classes, rows, table_id="recognition")
    )


def asked_class_table(models: dict) -> str:
    """Class-conditional image runs: one row per class, for each such run the data classifier's mean
    confidence that a sample asked for the class is that class, and the share it recognises as it;
    "" when no run has such figures."""
    by_model = {label: figures["asked_by_class"] for label, figures in models.items() if figures.get("asked_by_class")}
    if not by_model:
        return ""
    classes = list(dict.fromkeys(name for per_class in by_model.values() for name in per_class))  # first-seen order
    header = ["asked class"] + [f"{label}: {what}" for label in by_model for what in ("confidence ↑", "recognised ↑")]
    rows = [
        [(name, {})]
        + [
            (fmt(per_class[name][key]), {"data-model": label, "data-key": f"asked_by_class/{name}/{key}"})
            if name in per_class
            else ("—", {})
            for label, per_class in by_model.items()
            for key in ("confidence", "recognised")
        ]
        for name in classes
    ]
    rows.append(
        [("all", {})]
        + [
            (fmt(models[label][key]), {"data-model": label, "data-key": key})
            for label in by_model
            for key in ("asked_confidence", "recognised_as_asked")
        ]
    )
    chance = ", ".join(f"{label} {fmt(1 / len(per_class))}" for label, per_class in by_model.items())
    return (
        '<h3>The asked class, per class</h3><p class="note">Class-conditional runs: sample i is asked for '
        "class i mod classes; <i>confidence</i> is the data classifier’s mean p(asked class | sample), "
        f"<i>recognised</i> the share whose most likely class is the asked one (chance: {esc(chance)}).</p>"
        + table(header, rows, table_id="asked-class")
    )


def _figures_note(metrics: dict) -> str:
    """What the table's figures are, before the table."""
    if metrics.get("kind") == "audio":
        first = next(iter(metrics["models"].values()), {})
        if "sounds" not in first:
            return "<p>No sound figures were computed (--n 0). "
        return (
            f"<p>Sound figures compare {first['sounds']} samples of {first['sound_seconds']:g} s per model "
            f"(seed {metrics['seeds'][0]}) with the test clips. "
        )
    if not metrics["features"]:
        return "<p>No sample figures were computed. "
    return (
        f"<p>Sample figures compare {metrics['n']:,} samples per seed ({len(metrics['seeds'])} seed(s); mean ± std "
        f"over seeds) with the test split in the feature space <code>{esc(metrics['features'])}</code>, "
        + (
            "the standard FID Inception's pool3"
            if metrics["features"].startswith("inception-")
            else "a network genlab trained on this data set"
        )
        + ": numbers are comparable only within one feature space. "
    )


def markdown_table(metrics: dict) -> str:
    """The report's metrics table as Markdown (the README shows the demo's)."""
    rows = [[text for text, _ in _row(label, figures)] for label, figures in metrics["models"].items()]
    lines = [HEADER, ["---"] + ["---:"] * (len(HEADER) - 1)] + rows
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines) + "\n"


def budget_words(budget: float | dict[str, float] | None) -> str:
    """metrics.json's budget_minutes in words ("" for runs trained beforehand): one number for every
    family, or each family's."""
    if not budget:
        return ""
    if isinstance(budget, dict) and len(set(budget.values())) > 1:
        return "trained for " + ", ".join(f"{name} {m:g}" for name, m in budget.items()) + " minute(s)"
    minutes = next(iter(budget.values())) if isinstance(budget, dict) else budget
    return f"each family trained for {minutes:g} minute(s)"


def render_report(
    metrics: dict, entries: list, words: list[str], shared: list | None = None, reference: list | None = None
) -> str:
    """The page: setup, metrics table, memorization in words (when there are any), the pictures of
    every run together (`shared`: the time-to-quality lines), the data's own sounds (`reference`:
    test clips), then each model's pictures (sounds played above their spectrograms)."""
    models = metrics["models"]
    trained = budget_words(metrics["budget_minutes"])
    if trained:
        budget = f"{trained[0].upper()}{trained[1:]} of wall-clock time"
    elif metrics.get("budget_steps"):
        budget = f"Each family trained for {metrics['budget_steps']} optimisation step(s)"
    else:
        budget = "Runs trained beforehand"
    if metrics.get("jobs", 1) > 1:
        budget += f", {metrics['jobs']} families at a time side by side, one process each"
    sound = metrics.get("kind") == "audio"
    header, titles, row = (SOUND_HEADER, SOUND_TITLES, _sound_row) if sound else (HEADER, TITLES, _row)
    parts = [
        f"<h1>genlab compare: {esc(metrics['data'])}</h1>",
        f'<p class="note">{esc(metrics["split"])}. {esc(budget)}. Created {esc(metrics["created"])}.</p>',
        "<h2>Figures</h2>",
        _figures_note(metrics) + "↑ higher is better, ↓ lower is better; hover over a heading for its definition.</p>",
        table(header, [row(label, models[label]) for label in models], titles),
    ]
    if metrics.get("failed"):
        parts += [
            '<h2 id="failed">Failed</h2>',
            "<p>These families are missing from the figures and pictures:</p><ul>"
            + "".join(
                f"<li><b>{esc(label)}</b> failed in {esc(f['stage'])}: {esc(f['why'])}"
                + ("" if f["user_error"] else " (a bug in genlab: its traceback is in the log)")
                + "</li>"
                for label, f in metrics["failed"].items()
            )
            + "</ul>",
        ]
    parts.append(recognition_table(models) if sound else asked_class_table(models))
    if words:
        parts += [
            "<h2>Memorization, in plain words</h2>",
            "<ul>" + "".join(f"<li>{esc(w)}</li>" for w in words) + "</ul>",
        ]
    if shared:
        parts.append('<h2 id="time-to-quality">Time to quality</h2>')
        parts.extend(figure(p.path, p.caption, p.plot) for p in shared)
    if reference:
        parts.append('<h2 id="test-clips">Test clips</h2>')
        parts.extend(figure(p.path, p.caption, p.plot, p.sound) for p in reference)
    for e in entries:
        parts.append(f'<h2 id="{esc(e.label)}">{esc(e.label)}</h2>')
        parts.append(
            f'<p class="note">run <code>{esc(models[e.label]["run"])}</code>; options '
            f"<code>{esc(json.dumps(models[e.label]['model_config']))}</code></p>"
        )
        parts.extend(figure(p.path, p.caption, p.plot, p.sound) for p in e.pictures)
    return page(f"genlab compare: {metrics['data']}", "\n".join(parts))
