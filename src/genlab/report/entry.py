"""One compared run as the report holds it (`Entry`: its label, folder, config, figures and
pictures), and a picture of it (`Picture`); a child process hands its Entry back as JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple


class Picture(NamedTuple):
    path: Path
    caption: str
    plot: bool = False  # a matplotlib figure (shown wider, smoothly scaled) rather than a pixel grid
    sound: Path | None = None  # a .wav the page plays above the picture (its spectrogram)


@dataclass
class Entry:
    """One compared run: its label in the report, the run's folder and config, its figures and pictures."""

    label: str
    path: Path
    config: dict
    report: dict
    training: dict
    pictures: list[Picture] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "label": self.label,
            "path": str(self.path),
            "config": self.config,
            "report": self.report,
            "training": self.training,
            "pictures": [[str(p.path), p.caption, p.plot, p.sound and str(p.sound)] for p in self.pictures],
        }

    @classmethod
    def from_json(cls, d: dict) -> "Entry":
        pictures = [
            Picture(Path(path), caption, plot, Path(sound) if sound else None)
            for path, caption, plot, sound in d["pictures"]
        ]
        return cls(d["label"], Path(d["path"]), d["config"], d["report"], d["training"], pictures)
