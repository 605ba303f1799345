"""`genlab lecture`: the lecture notes' claims as experiments on built-in data, written as one
self-contained page DIR/lecture.html and DIR/lecture.json (every figure), in the notes' order.

claims.py is the table of the notes' claims; one module per section (its `SECTION`: the claim's
key, data, figure, rule fixed in advance, run); `base.py` is what they share, `page.py` the HTML.
Several sections run side by side, one child process each (core/jobs.py, `python -m
genlab.report.lecture.worker`); a section run alone runs in this process. A section that is rerun
replaces its own entry and keeps the others.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Callable

from genlab.core.errors import GenlabError
from genlab.core.fsutil import atomic_write_text
from genlab.report.lecture import (
    bound,
    code_space,
    colours,
    distributed,
    game,
    imitate,
    mixtures,
    pixel_distance,
    rnn_prefix,
    speech,
    uses,
    vae_noise,
)
from genlab.report.lecture.base import FULL, QUICK, Lab, Section
from genlab.report.lecture.claims import CLAIMS
from genlab.report.lecture.page import render

SECTIONS: list[Section] = sorted(
    [
        rnn_prefix.SECTION,
        colours.SECTION,
        uses.SECTION,
        speech.SECTION,
        code_space.SECTION,
        vae_noise.SECTION,
        mixtures.SECTION,
        distributed.SECTION,
        bound.SECTION,
        pixel_distance.SECTION,
        imitate.SECTION,
        game.SECTION,
    ],
    key=lambda s: s.number,
)
JSON, HTML, ENTRY = "lecture.json", "lecture.html", "section.json"


def keys() -> list[str]:
    return [s.key for s in SECTIONS]


def choose(only: str | None) -> list[Section]:
    """The sections `--only` names (comma-separated keys), or all."""
    if only is None:
        return list(SECTIONS)
    wanted = [k.strip() for k in only.split(",") if k.strip()]
    unknown = [k for k in wanted if k not in keys()]
    if unknown or not wanted:
        raise GenlabError(f"no lecture section {', '.join(unknown) or repr(only)}; choose among {', '.join(keys())}")
    return [s for s in SECTIONS if s.key in wanted]


def lecture(
    out: str | Path,
    quick: bool = False,
    only: str | None = None,
    device: str = "cpu",
    say: Callable[[str], None] = print,
    jobs: int | None = None,
) -> dict:
    """Run the sections (all, or those `only` names) into `out`, `jobs` at once (default: the cores;
    1: in this process); returns lecture.json's content."""
    from genlab.core import jobs as side_by_side

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise GenlabError(f"--out {out} is a file; give a folder for the lecture page")
    chosen = choose(only)
    if out.is_dir() and any(out.iterdir()) and not (out / JSON).is_file():
        raise GenlabError(
            f"--out {out} holds files and no {JSON}: it is not a lecture folder; give a new or empty "
            f"folder (or an earlier lecture's, whose sections are then replaced one by one)"
        )
    out.mkdir(parents=True, exist_ok=True)
    lecture_json = _read(out / JSON)
    _write(out, lecture_json)  # the folder is a lecture folder from now on, even if this run is stopped
    slots = min(jobs or side_by_side.default_slots(), len(chosen))
    say(f"genlab lecture: {len(chosen)} section(s), {QUICK if quick else FULL} budget, {slots} at once -> {out / HTML}")
    started = time.monotonic()
    if slots <= 1:
        for i, section in enumerate(chosen, 1):
            say(f"[{i}/{len(chosen)}] {section.number}. {section.title} ({section.key})")
            lecture_json["sections"][section.key] = run_section(out, section, quick, device, say)
            _write(out, lecture_json)  # after every section: a stopped lecture keeps what it finished
    else:
        failed = []

        def done(result) -> None:
            if result.ok:
                entry = json.loads((out / "runs" / result.name / ENTRY).read_text(encoding="utf-8"))
                entry["cpu_seconds"] = result.cpu_seconds
                lecture_json["sections"][result.name] = entry
                _write(out, lecture_json)
            else:
                failed.append(f"{result.name} ({result.why()})")
                say(f"[{result.name}] failed: {result.why()}")

        work = [
            side_by_side.Job(
                s.key,
                [sys.executable, "-m", "genlab.report.lecture.worker", str(out), s.key, device]
                + (["--quick"] if quick else []),
                cost=s.cost,
            )
            for s in chosen
        ]
        side_by_side.run_jobs(work, slots, say=say, on_done=done)
        if failed:
            raise GenlabError(
                f"{len(failed)} lecture section(s) failed: {'; '.join(failed)}; the page holds the others"
            )
    say(
        f"{len(chosen)} section(s) in {time.monotonic() - started:.0f} s. The page: {out / HTML}; every figure: {out / JSON}"
    )
    return lecture_json


def run_section(out: Path, section: Section, quick: bool, device: str, say: Callable[[str], None]) -> dict:
    """Run one section into out/pictures/KEY and out/runs/KEY (replaced only once it has finished);
    returns its lecture.json entry, also written to out/runs/KEY/section.json."""
    import resource

    lab = Lab.open(out, section.key, quick, device, say)
    started, cpu = time.monotonic(), resource.getrusage(resource.RUSAGE_SELF)
    outcome = section.run(lab)
    now = resource.getrusage(resource.RUSAGE_SELF)
    claim = section.claim
    entry = {
        "number": claim.number,
        "key": section.key,
        "title": claim.title,
        "quote": claim.quote,
        "gloss": claim.gloss,
        "data": section.data,
        "figure": section.figure,
        "rule": section.rule,
        "verdict": outcome.verdict,
        "finding": outcome.finding,
        "figures": outcome.figures,
        "setup": outcome.setup,
        "trained": lab.trained,
        "seeds": lab.seeds_used or [lab.seed],
        "budget": QUICK if quick else FULL,
        "seconds": time.monotonic() - started,
        "cpu_seconds": now.ru_utime + now.ru_stime - cpu.ru_utime - cpu.ru_stime,
        "pictures": [_picture(section.key, *picture) for picture in outcome.pictures],
    }
    atomic_write_text(lab.runs / ENTRY, json.dumps(entry, indent=1) + "\n")
    lab.finish()
    say(f"  {outcome.verdict}: {outcome.finding} ({entry['seconds']:.0f} s)")
    return entry


def _picture(key: str, name: str, caption: str, plot: bool, sound: str | None = None) -> dict:
    """A picture's lecture.json entry; `sound`: a .wav in the same pictures folder that the page plays
    above the picture."""
    entry = {"file": f"pictures/{key}/{name}", "caption": caption, "plot": plot}
    if sound:
        entry["sound"] = f"pictures/{key}/{sound}"
    return entry


def _read(path: Path) -> dict:
    """An earlier lecture.json in the folder (its sections are kept), or a fresh one."""
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(old.get("sections"), dict):
                return {
                    "sections": {
                        k: v for k, v in old["sections"].items() if k in keys() and isinstance(v, dict) and "rule" in v
                    }
                }
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            pass  # not ours, damaged or from an older genlab: start afresh (it is rewritten whole below)
    return {"sections": {}}


def _write(out: Path, lecture_json: dict) -> None:
    lecture_json["claims"] = [
        {"number": c.number, "key": c.key, "title": c.title, "has_section": c.key in keys()} for c in CLAIMS
    ]
    lecture_json["missing"] = [
        {"number": c.number, "key": c.key, "title": c.title} for c in CLAIMS if c.key not in keys()
    ]
    lecture_json["created"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    atomic_write_text(out / JSON, json.dumps(lecture_json, indent=1) + "\n")
    atomic_write_text(out / HTML, render(lecture_json, out))
