"""lecture.html: one self-contained page (report/html.py's policy: inline CSS, pictures as data URIs,
no script). Every claim of the notes in their order (claims.py): the notes' words, the experiment
stated before it ran (data, figure, rule), the pictures, the measured finding and the verdict. A
claim with no section, or whose section has not run in this folder, is named as such."""

from __future__ import annotations

from pathlib import Path

from genlab.report.html import esc, figure, page
from genlab.report.lecture.claims import CLAIMS

# pictures at their own size (each pixel of a grid is already drawn 3-4 times over, base.labelled_rows), never
# shrunk below it on a wide screen; the Chinese quotes in a CJK font where the reader has one
STYLE = """
figure { display: block; } figure img { max-width: 100%; } figcaption { max-width: 900px; }
blockquote { font-family: "Noto Sans CJK SC", "Noto Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif;
             border-left: 3px solid #ccc; margin: 0.5em 0; padding-left: 1em; }
"""
VERDICT_COLOUR = {"supported": "#2e7d32", "not supported": "#c62828", "inconclusive": "#8d6e00"}


def render(lecture: dict, out: Path) -> str:
    sections = lecture["sections"]
    has = {c["key"]: c["has_section"] for c in lecture.get("claims", [])}
    parts = [
        "<h1>genlab lecture: the notes' claims, run as experiments</h1>",
        '<p class="note">Each section quotes a claim of the lecture notes, says what genlab trains and '
        "measures to test it and the rule, fixed before the run, that turns the measured figures into a verdict: "
        "<em>supported</em>, <em>not supported</em> or <em>inconclusive</em> (the margin is within the spread "
        "over seeds or a bound's slack). Rerun one with <code>genlab lecture --out DIR --only KEY</code>; every "
        "figure is in lecture.json.</p>",
        "<ol>",
    ]
    for c in CLAIMS:
        s = sections.get(c.key)
        state = (
            f'<strong style="color:{VERDICT_COLOUR[s["verdict"]]}">{esc(s["verdict"])}</strong>'
            if s
            else "not run in this folder"
            if has.get(c.key)
            else "no experiment in this genlab yet"
        )
        link = f'<a href="#{esc(c.key)}">{esc(c.title)}</a>' if s else esc(c.title)
        parts.append(f'<li value="{c.number}">{link} — {state}</li>')
    parts.append("</ol>")
    for c in CLAIMS:
        s = sections.get(c.key)
        if s:
            parts.append(_section(s, out))
    return page("genlab lecture", "\n".join(parts), STYLE)


def _section(s: dict, out: Path) -> str:
    colour = VERDICT_COLOUR[s["verdict"]]
    seeds = s.get("seeds") or []
    cpu = f", {s['cpu_seconds']:.0f} CPU s" if s.get("cpu_seconds") is not None else ""
    parts = [
        f'<h2 id="{esc(s["key"])}">{s["number"]}. {esc(s["title"])}</h2>',
        f'<blockquote lang="zh">{esc(s["quote"])}</blockquote>',
        f"<p><strong>The claim.</strong> {esc(s['gloss'])}</p>",
        f"<p><strong>Data.</strong> {esc(s['data'])} <strong>Figure.</strong> {esc(s['figure'])}</p>",
        f"<p><strong>Rule, fixed before the run.</strong> {esc(s['rule'])}</p>",
    ]
    parts.extend(
        figure(out / p["file"], p["caption"], p["plot"], sound=out / p["sound"] if p.get("sound") else None)
        for p in s["pictures"]
    )
    parts.append(
        f"<p><strong>Measured.</strong> {esc(s['finding'])} "
        f'<strong style="color:{colour}">Verdict: {esc(s["verdict"])}.</strong></p>'
    )
    parts.append(
        f'<p class="note">Setup: {esc(s["setup"].rstrip(". "))}. {esc(s["budget"])} budget, '
        f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''}, {s['seconds']:.0f} s{cpu}. "
        f"Section key <code>{esc(s['key'])}</code>.</p>"
    )
    return "\n".join(parts)
