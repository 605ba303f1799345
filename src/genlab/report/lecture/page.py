"""lecture.html: one self-contained page (report/html.py's policy: inline CSS, pictures as data URIs,
no script), the sections in the notes' order, each with its claim, pictures and measured finding."""
from __future__ import annotations

from pathlib import Path

from genlab.report.html import esc, figure, page

VERDICT_STYLE = {True: "#2e7d32", False: "#c62828", None: "#8d6e00"}


def render(lecture: dict, out: Path, missing: list[tuple[int, str]]) -> str:
    sections = sorted(lecture["sections"].values(), key=lambda s: s["number"])
    parts = ["<h1>genlab lecture: the notes' claims, run as experiments</h1>",
             '<p class="note">Every section states a claim of the lecture notes in one sentence, shows the '
             "experiment genlab ran on built-in data, and gives the measured number that supports or refutes "
             "it at this (small) budget. Rerun one with <code>genlab lecture --out DIR --only KEY</code>; every "
             "figure is in lecture.json.</p>",
             "<ul>" + "".join(f'<li><a href="#{esc(s["key"])}">{s["number"]}. {esc(s["title"])}</a> '
                              f'({esc(s["verdict"])})</li>' for s in sections) + "</ul>"]
    if missing:
        parts.append('<p class="note">Not run by this genlab yet: '
                     + "; ".join(f"{n}. {esc(t)}" for n, t in missing) + ".</p>")
    for s in sections:
        color = VERDICT_STYLE[s["holds"]]
        parts.append(f'<h2 id="{esc(s["key"])}">{s["number"]}. {esc(s["title"])}</h2>')
        parts.append(f'<p><strong>Claim.</strong> {esc(s["claim"])}</p>')
        parts.extend(figure(out / p["file"], p["caption"], p["plot"]) for p in s["pictures"])
        parts.append(f'<p><strong>Measured.</strong> {esc(s["finding"])} '
                     f'<strong style="color:{color}">Verdict: {esc(s["verdict"])}.</strong></p>')
        parts.append(f'<p class="note">Setup: {esc(s["setup"])}; {esc(s["budget"])} budget, '
                     f'{s["seconds"]:.0f} s. Section key <code>{esc(s["key"])}</code>.</p>')
    return page("genlab lecture", "\n".join(parts))
