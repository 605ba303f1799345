"""The README's picture of the demo: its key pictures copied under docs/ and its metrics table,
written between two marker lines so that `scripts/dev.sh readme` can regenerate them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from genlab.core.errors import GenlabError
from genlab.core.fsutil import atomic_write_text
from genlab.report.compare_page import markdown_table
from genlab.report.words import budget_words

BEGIN, END = "<!-- demo:begin -->", "<!-- demo:end -->"
# (picture in the report's pictures/ folder, its heading, what it shows); missing ones are left out
KEY_PICTURES = [
    ("pixelrnn_samples.png", "PixelRNN samples", "64 PixelRNN samples, drawn pixel by pixel"),
    (
        "pixelrnn_completions.png",
        "PixelRNN completions",
        "test digits (row 1), their bottom half hidden (row 2), two completions of each (rows 3-4)",
    ),
    (
        "vae_samples.png",
        "VAE samples",
        "64 VAE samples: codes drawn from the mixture fitted to the training codes, decoded",
    ),
    ("vae_interpolations.png", "VAE interpolations", "straight lines in the VAE's latent space between test digits"),
    ("gan_samples.png", "GAN samples", "64 GAN samples"),
    (
        "gan_nearest.png",
        "GAN vs. training set",
        "GAN samples (rows 1, 3) above their nearest training digits (rows 2, 4)",
    ),
    ("gmm_samples.png", "Gaussian mixture samples", "64 samples of the Gaussian mixture"),
]
PER_ROW = 4


def demo_section(demo: Path, docs: Path, readme_dir: Path) -> str:
    """Copy the demo's key pictures into `docs` and return the README's Markdown for them and the
    metrics table; picture links are relative to `readme_dir`."""
    metrics_path = demo / "metrics.json"
    if not metrics_path.is_file():
        raise GenlabError(f"{demo} holds no finished demo (no metrics.json); run `genlab demo --out {demo}` first")
    metrics = json.loads(metrics_path.read_text())
    docs.mkdir(parents=True, exist_ok=True)
    shown = []  # (heading, Markdown image)
    for name, heading, caption in KEY_PICTURES:
        source = demo / "pictures" / name
        if source.is_file():
            shutil.copyfile(source, docs / name)
            shown.append((heading, f"![{caption}]({(docs / name).relative_to(readme_dir).as_posix()})"))
    tables = []
    for start in range(0, len(shown), PER_ROW):
        group = shown[start : start + PER_ROW]
        tables += [
            "| " + " | ".join(h for h, _ in group) + " |",
            "|" + "---|" * len(group),
            "| " + " | ".join(image for _, image in group) + " |",
            "",
        ]
    budget = budget_words(metrics.get("budget_minutes"))
    return (
        "\n".join(
            [
                f"Measured by `scripts/dev.sh readme` on {metrics['created'][:10]}: {budget} "
                f"on {metrics['data']} ({metrics['split'].split(':')[0]}), then {metrics['n']:,} samples each "
                f"compared with the test split in the feature space `{metrics['features']}`.",
                "",
                *tables,
                markdown_table(metrics).rstrip("\n"),
            ]
        )
        + "\n"
    )


def replace_section(text: str, section: str) -> str:
    """`text` with everything between the BEGIN and END marker lines replaced by `section`."""
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise GenlabError(f"the README needs one {BEGIN} line and one {END} line after it")
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    return f"{head}{BEGIN}\n{section}{END}{tail}"


def update_readme(readme: Path, demo: Path, docs: Path) -> None:
    section = demo_section(demo, docs, readme.parent)
    atomic_write_text(readme, replace_section(readme.read_text(), section))
