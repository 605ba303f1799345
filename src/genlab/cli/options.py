"""The options several verbs share, each declared once here; what differs between verbs (a default,
a help text) is a parameter. `genlab train` gets its own from the config dataclasses (config_flags.py);
the help of --device and --threads is theirs, so a flag reads the same on every verb."""

from __future__ import annotations

import argparse
import dataclasses

from genlab.core.config import TrainConfig

DEVICES = ("auto", "cpu", "cuda")


def _train_help(name: str) -> str:
    """The help text of a `genlab train` flag (a TrainConfig field)."""
    return next(f for f in dataclasses.fields(TrainConfig) if f.name == name).metadata["help"]


def add_device(parser: argparse.ArgumentParser, default: str = "cpu") -> None:
    """--device: where the verb runs (cpu unless the verb says; `demo` and `lecture` take auto)."""
    parser.add_argument(
        "--device", default=default, choices=DEVICES, help=f"{_train_help('device')} (default: {default})"
    )


def add_out(parser: argparse.ArgumentParser, help: str, required: bool = True, default: str | None = None) -> None:
    """--out: what the verb writes (a file or a folder, as `help` says); required unless optional or defaulted."""
    parser.add_argument("--out", required=required and default is None, default=default, help=help)


def add_seed(parser: argparse.ArgumentParser, help: str = "the same seed gives the same result (default 0)") -> None:
    """--seed, 0 by default."""
    parser.add_argument("--seed", type=int, default=0, help=help)


def add_quiet(parser: argparse.ArgumentParser, help: str = "no progress bar") -> None:
    parser.add_argument("--quiet", action="store_true", help=help)


def add_threads(parser: argparse.ArgumentParser) -> None:
    """--threads, as `genlab train` has it (TrainConfig.threads)."""
    parser.add_argument("--threads", type=int, default=None, metavar="THREADS", help=_train_help("threads"))


def add_jobs(parser: argparse.ArgumentParser, what: str) -> None:
    """--jobs: how many child processes run side by side (core/jobs.py)."""
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help=f"{what} run side by side, one process each (default: the cores this process may use; "
        f"1: one after another in this process)",
    )


def add_resize(parser: argparse.ArgumentParser, help: str) -> None:
    """--resize: how images are resized for the Inception network."""
    parser.add_argument("--resize", choices=("tf1", "torch"), default="tf1", help=help)


def add_features(parser: argparse.ArgumentParser) -> None:
    """--features / --resize for evaluate and compare."""
    parser.add_argument(
        "--features",
        choices=("domain", "inception"),
        default="domain",
        help="feature space of FID/KID/precision/recall: domain = genlab's network trained on the "
        "data (default), inception = the standard FID Inception (`genlab fetch inception` first)",
    )
    add_resize(parser, "Inception input resize: tf1 (TF1 bilinear, default) or torch (pytorch-fid's)")
