"""One self-contained HTML page: inline CSS, images as base64 PNG data URIs, sounds as base64 WAV
data URIs in audio elements, no script, nothing fetched. A Content-Security-Policy in the page
forbids every external resource, so a browser would report anything that slipped in. The pieces here
are every page's; compare_page.py lays out the compare report, lecture/page.py the lecture's."""

from __future__ import annotations

import base64
import html
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
