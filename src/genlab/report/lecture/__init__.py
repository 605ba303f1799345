"""`genlab lecture`: the lecture notes' claims as experiments on built-in data, written as one
self-contained page DIR/lecture.html and DIR/lecture.json (every figure), in the notes' order.

One module per section (its `SECTION`: number, key, title, claim, run); `base.py` is what they
share, `page.py` the HTML. A section run alone (`only`) replaces its own entry and keeps the others.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from genlab.core.errors import GenlabError
from genlab.core.fsutil import atomic_write_text
from genlab.report.lecture import bound, code_space, colours, game, imitate, mixtures, uses, vae_noise
from genlab.report.lecture.base import QUICK, FULL, Lab, Section, verdict
from genlab.report.lecture.page import render

SECTIONS: list[Section] = sorted([colours.SECTION, uses.SECTION, code_space.SECTION, imitate.SECTION, vae_noise.SECTION, mixtures.SECTION, bound.SECTION, game.SECTION], key=lambda s: s.number)
NOTES = {1: "PixelRNN colours", 2: "PixelRNN uses", 3: "Autoencoder vs VAE code space", 4: "Why the constraint",
         5: "Gaussian mixture and distributed representation", 6: "The lower bound", 7: "VAE imitates, GAN generates",
         8: "The game"}  # the notes' claims, in their order
JSON, HTML = "lecture.json", "lecture.html"


def keys() -> list[str]:
    return [s.key for s in SECTIONS]


def lecture(out: str | Path, quick: bool = False, only: str | None = None, device: str = "cpu",
            say: Callable[[str], None] = print) -> dict:
    """Run the sections (all, or `only` one) into `out`; returns lecture.json's content."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise GenlabError(f"--out {out} is a file; give a folder for the lecture page")
    chosen = SECTIONS if only is None else [s for s in SECTIONS if s.key == only]
    if not chosen:
        raise GenlabError(f"no lecture section {only!r}; choose one of {', '.join(keys())}")
    out.mkdir(parents=True, exist_ok=True)
    lecture_json = _read(out / JSON)
    say(f"genlab lecture: {len(chosen)} section(s), {QUICK if quick else FULL} budget -> {out / HTML}")
    for i, section in enumerate(chosen, 1):
        say(f"[{i}/{len(chosen)}] {section.number}. {section.title} ({section.key})")
        lab = Lab.open(out, section.key, quick, device, say)
        started = time.monotonic()
        outcome = section.run(lab)
        lab.finish()
        seconds = time.monotonic() - started
        lecture_json["sections"][section.key] = {
            "number": section.number, "key": section.key, "title": section.title, "claim": section.claim,
            "finding": outcome.finding, "holds": outcome.holds, "verdict": verdict(outcome.holds),
            "figures": outcome.figures, "setup": outcome.setup, "trained": lab.trained,
            "budget": QUICK if quick else FULL, "seconds": seconds,
            "pictures": [{"file": f"pictures/{section.key}/{name}", "caption": caption, "plot": plot}
                         for name, caption, plot in outcome.pictures]}
        say(f"  {outcome.finding} ({verdict(outcome.holds)}; {seconds:.0f} s)")
        _write(out, lecture_json)  # after every section: a stopped lecture keeps what it finished
    say(f"the page: {out / HTML}; every figure: {out / JSON}")
    return lecture_json


def _read(path: Path) -> dict:
    """An earlier lecture.json in the folder (its sections are kept), or a fresh one."""
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(old.get("sections"), dict):
                known = set(keys())
                return {"sections": {k: v for k, v in old["sections"].items() if k in known}}
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            pass  # not ours or damaged: start afresh (it is rewritten whole below)
    return {"sections": {}}


def _write(out: Path, lecture_json: dict) -> None:
    missing = [(n, t) for n, t in NOTES.items() if n not in {s.number for s in SECTIONS}]
    lecture_json["missing"] = [{"number": n, "title": t} for n, t in missing]
    lecture_json["created"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    atomic_write_text(out / JSON, json.dumps(lecture_json, indent=1) + "\n")
    atomic_write_text(out / HTML, render(lecture_json, out, missing))
