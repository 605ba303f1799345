"""The runs `genlab serve --runs DIR` offers: found once per request by scanning DIR, named by
their path relative to it, loaded on demand and kept in a small cache.

A request names a run by that name and a picture by its path inside the run; both are looked up
in what the scan found, never joined onto a folder, so no request reaches a file outside the runs
(`..`, encoded dots, absolute paths and symbolic links are simply not in the lists).
"""

from __future__ import annotations

import csv
import math
import threading
from collections import OrderedDict
from pathlib import Path

from genlab import viz
from genlab.core.errors import GenlabError
from genlab.models import REGISTRY, Capability, model_class
from genlab.train import runs

SCAN_DEPTH = 3  # DIR/a/b/c/config.json is found (a compare report's runs/ sit two levels down)
PICTURE_FOLDERS = ("", "samples", "frames", "mixture")  # where a run keeps its pictures
PICTURE_TYPES = {
    ".png": "image/png",
    ".gif": "image/gif",  # training.gif of a 2-D GAN run
    ".wav": "audio/wav",
}  # a WaveNet run's samples/epoch_NNNN.wav, played in the page
CACHED_RUNS = 4
CURVE_POINTS = 300  # each metric curve is thinned to at most this many points for the page
UNITS = {
    "bits_per_dim": "bits/dim",
    "nll": "nats/image",
    "nll_bound": "nats/image",
    "kl": "nats/image",
    "recon": "nats/image",
}  # the figures logged with a unit; the rest (loss, fid, ...) are plain numbers


class UnknownRun(GenlabError):
    """A run or a file the catalog does not list (answered with 404)."""


def family(config: dict) -> str:
    """What a page can do with a run, from its family's capabilities: "complete" (images it
    completes), "latent" (images decoded from a latent space), "sample" (other images), "points"
    (2-D points) or "browse" (sound)."""
    cls = model_class(config["model"])
    if len(config["item_shape"]) != 3:  # 2-D points or sound
        return "points" if "points" in cls.kinds() and len(config["item_shape"]) == 1 else "browse"
    return _image_view(cls.capabilities_for(config["model_config"]))


def _image_view(capabilities) -> str:
    if Capability.COMPLETES in capabilities:
        return "complete"
    return "latent" if Capability.LATENT in capabilities else "sample"


def class_names(config: dict) -> list[str]:
    """A class-conditional run's classes as the data names them (digits 0-9, emoji groups); [] otherwise."""
    model = config["model_config"]
    count = model.get("label_count", 0) if model.get("conditional") else 0
    names = config.get("label_names") or []
    return [names[k] if k < len(names) else str(k) for k in range(count)]


def encodes(config: dict) -> bool:
    """Whether the run's model maps an image to q(z|x) (a VAE): the latent tab opens on such a run."""
    return Capability.POSTERIOR in model_class(config["model"]).capabilities_for(config["model_config"])


def view_words(view: str) -> str:
    """The runs a page view takes, for a message: "pixelrnn run on images"."""
    names = [
        n for n, cls in sorted(REGISTRY.items()) if "image" in cls.kinds() and _image_view(cls.capabilities) == view
    ]
    return f"{' or '.join(names)} run on images"


def _thin(points: list, most: int = CURVE_POINTS) -> list:
    if len(points) <= most:
        return points
    stride = math.ceil(len(points) / most)
    return points[::stride] + ([points[-1]] if (len(points) - 1) % stride else [])


def _is_plain(path: Path) -> bool:
    return path.is_file() and not path.is_symlink() and not path.name.startswith(".")


class RunCatalog:
    def __init__(self, root: str | Path | None):
        self.root = Path(root).resolve() if root is not None else None
        self._cache: OrderedDict[str, tuple[float, runs.LoadedRun]] = OrderedDict()
        self._tests: dict[str, tuple[runs.LoadedRun, object]] = {}
        self._lock = threading.Lock()

    def scan(self) -> dict[str, Path]:
        """name -> run folder, for every folder under root holding a config.json (no symlinks)."""
        if self.root is None or not self.root.is_dir():
            return {}
        found: dict[str, Path] = {}

        def visit(folder: Path, depth: int) -> None:
            if (folder / runs.CONFIG).is_file():
                found[folder.relative_to(self.root).as_posix() if folder != self.root else folder.name] = folder
                return
            if depth == SCAN_DEPTH:
                return
            for child in sorted(folder.iterdir()):
                if child.is_dir() and not child.is_symlink() and not child.name.startswith("."):
                    visit(child, depth + 1)

        visit(self.root, 0)
        return found

    def folder(self, name: str) -> Path:
        found = self.scan().get(name)
        if found is None:
            raise UnknownRun(f"no run named {name!r} under --runs")
        return found

    def describe(self, name: str, folder: Path) -> dict:
        config = runs.read_config(folder)
        return {
            "name": name,
            "model": config["model"],
            "family": family(config),
            "data": config["data"]["data"],
            "item_shape": config["item_shape"],
            "model_config": config["model_config"],
            "latent": config["model_config"].get("latent"),
            "encoder": encodes(config),
            "classes": class_names(config),
            "trained": (folder / runs.WEIGHTS).is_file(),
        }

    def listing(self) -> list[dict]:
        out = []
        for name, folder in self.scan().items():
            try:
                out.append(self.describe(name, folder))
            except GenlabError as exc:  # a damaged run is listed as such, not hidden
                out.append({"name": name, "model": None, "family": "broken", "error": str(exc)})
        return out

    def load(self, name: str) -> runs.LoadedRun:
        """The run's model (cached; reloaded when its weights file changes)."""
        folder = self.folder(name)
        weights = folder / runs.WEIGHTS
        stamp = weights.stat().st_mtime if weights.is_file() else -1.0
        with self._lock:
            hit = self._cache.get(name)
            if hit is not None and hit[0] == stamp:
                self._cache.move_to_end(name)
                return hit[1]
        run = runs.load(folder)
        with self._lock:
            self._cache[name] = (stamp, run)
            self._cache.move_to_end(name)
            while len(self._cache) > CACHED_RUNS:
                self._cache.popitem(last=False)
        return run

    def pictures(self, name: str) -> list[str]:
        """Paths (relative, posix) of the run's pictures (PNG, GIF) and sounds (WAV): top level, samples/,
        frames/, mixture/."""
        folder = self.folder(name)
        found = []
        for sub in PICTURE_FOLDERS:
            where = folder / sub if sub else folder
            if where.is_dir() and not where.is_symlink():
                found += [
                    p.relative_to(folder).as_posix()
                    for p in sorted(where.iterdir())
                    if p.suffix in PICTURE_TYPES and _is_plain(p)
                ]
        return found

    def picture(self, name: str, path: str) -> Path:
        if path not in self.pictures(name):
            raise UnknownRun(f"run {name!r} has no picture {path!r}")
        return self.folder(name) / path

    def metrics(self, name: str) -> dict:
        """Curves per logged figure {key: {"train": [[step, value]...], "test": [...]}}, each figure's
        last test value (a row of sample-quality figures holds only those, so each figure is taken
        from the last test row that has it) and the units of those that have one."""
        csv_path = self.folder(name) / "metrics.csv"
        if not csv_path.is_file():
            return {"curves": {}, "last": {}, "units": {}}
        try:
            rows = [r for r in viz.read_metrics(csv_path) if _complete_row(r)]  # a row being appended is skipped
        except (csv.Error, UnicodeDecodeError) as exc:
            raise GenlabError(f"run {name!r} has a damaged metrics.csv ({' '.join(str(exc).split())})") from None
        keys = [k for k in (rows[0] if rows else {}) if k not in ("step", "epoch", "seconds", "split")]
        curves = {}
        for key in keys:
            curves[key] = {
                split: _thin(
                    [
                        [int(r["step"]), _number(r[key])]
                        for r in rows
                        if r["split"] == split and r.get(key) not in ("", None)
                    ]
                )
                for split in ("train", "test")
            }
        last = {k: c["test"][-1][1] for k, c in curves.items() if c["test"]}
        return {"curves": curves, "last": last, "units": {k: UNITS[k] for k in last if k in UNITS}}

    def test_items(self, name: str):
        """The run's test split (uint8 items), cached with the run."""
        run = self.load(name)
        with self._lock:
            items = self._tests.get(name)
            if items is not None and items[0] is run:
                return items[1]
        test = run.dataset().test
        with self._lock:
            self._tests = {k: v for k, v in self._tests.items() if k in self._cache}
            self._tests[name] = (run, test)
        return test


def _complete_row(row: dict) -> bool:
    try:
        int(row["step"])
        [float(v) for k, v in row.items() if k != "split" and v not in ("", None)]
        return row["split"] in ("train", "test")
    except (TypeError, ValueError, KeyError):
        return False


def _number(text: str) -> float | None:
    """A metrics.csv value for JSON: None for nan / inf (JSON has no such numbers)."""
    value = float(text)
    return value if math.isfinite(value) else None
