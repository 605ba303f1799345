"""The built-in `emoji` set: every emoji that Debian's colour emoji font draws, rendered on the
user's machine with Pillow, no download at run time.

The font is Noto Color Emoji (Debian's `fonts-noto-color-emoji`, SIL Open Font License 1.1); the
list of emoji and their groups is the Unicode emoji test file `emoji-test.txt` (Debian's
`unicode-data`). Items: every fully-qualified emoji of the file outside its "Component" group (the
bare skin-tone and hair swatches), without the skin-tone variants: a sequence holding a skin-tone
modifier (U+1F3FB..U+1F3FF) is left out, so each emoji appears once, in its default yellow. An
emoji is kept when the font draws it as one glyph (Pillow's layout gives it one glyph's advance and
it leaves ink); with Pillow's Raqm layout, which its wheels carry, that is every one of Unicode
15.0's 1,870 (flags and ZWJ sequences are shaped by the font's ligatures).

Each emoji is drawn once from the font's colour bitmap strike (`ImageFont.truetype(font, 109)`,
`draw.text(..., embedded_color=True)`: 136x128 pixels), its ink (alpha > 0) centred on a white
128x128 square, composited over white, and resized to S x S (S = `--image-size`, default 32) with
Lanczos: RGB uint8 (N, 3, S, S). Labels: the emoji's Unicode group (LABELS). Split, stratified: in
a seed-0 permutation, the first fifth (rounded) of each group are the test split.

The set is built once per size (a few seconds) and cached under genlab's cache dir as safetensors,
keyed by the recipe, the emoji's code points, the SHA-256 of the font and the versions of Pillow,
FreeType and Raqm; the same files and libraries give the same bytes on every build. Without the font
or the emoji file the spec stops with the command that installs them.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genlab.core.errors import GenlabError
from genlab.core.fsutil import atomic_write_with
from genlab.data.cache import cache_dir
from genlab.data.dataset import SPLIT_SEED, Dataset, image_dataset, stratified_split

VERSION = 1  # bump when the recipe changes: older cached sets are then ignored
FONT_ENV, EMOJI_TEST_ENV = "GENLAB_EMOJI_FONT", "GENLAB_EMOJI_TEST"  # other places for the two files
FONT_PATH = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")  # Debian's fonts-noto-color-emoji
EMOJI_TEST_PATH = Path("/usr/share/unicode/emoji/emoji-test.txt")  # Debian's unicode-data
STRIKE = 109  # the font's one bitmap size: glyphs 136x128 pixels
GLYPH = (136, 128)  # the strike's glyph box, where draw.text at (0, 0) puts every glyph
SQUARE = 128  # every glyph's ink is centred on a white square this large, then resized
BACKGROUND = (255, 255, 255)
DEFAULT_SIZE = 32
TEST_SHARE = 5  # one in five of each group is test
SKIN_TONES = range(0x1F3FB, 0x1F400)
# Unicode's groups (emoji-test.txt's "# group:" lines) -> label names, in the file's order; "Component" is left out
GROUPS = {
    "Smileys & Emotion": "smileys",
    "People & Body": "people",
    "Animals & Nature": "animals",
    "Food & Drink": "food",
    "Travel & Places": "travel",
    "Activities": "activities",
    "Objects": "objects",
    "Symbols": "symbols",
    "Flags": "flags",
}
LABELS = list(GROUPS.values())
INSTALL = (
    "`sudo apt-get install fonts-noto-color-emoji unicode-data` (Debian/Ubuntu) and run again, or point "
    f"{FONT_ENV} at NotoColorEmoji.ttf and {EMOJI_TEST_ENV} at Unicode's emoji-test.txt"
)


@dataclass(frozen=True)
class Emoji:
    text: str  # the code point sequence
    name: str  # Unicode's name, e.g. "grinning face"
    group: int  # index into LABELS

    def describe(self) -> str:
        return f"{' '.join(f'U+{ord(c):04X}' for c in self.text)} {self.name} ({LABELS[self.group]})"


def font_path() -> Path:
    return Path(os.environ.get(FONT_ENV) or FONT_PATH)


def emoji_test_path() -> Path:
    return Path(os.environ.get(EMOJI_TEST_ENV) or EMOJI_TEST_PATH)


def _readable(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        missing = "is not there" if isinstance(exc, FileNotFoundError) else f"cannot be read ({exc.strerror})"
        raise GenlabError(
            f"the emoji set is rendered on this machine from {what}, and {path} {missing}: install it with {INSTALL}"
        ) from None


def parse_emoji_test(text: str) -> list[Emoji]:
    """emoji-test.txt -> the set's emoji in the file's order: fully-qualified, in a group of GROUPS,
    no skin-tone modifier."""
    items, group = [], None
    for line in text.splitlines():
        if line.startswith("# group:"):
            group = line.split(":", 1)[1].strip()
            continue
        if line.startswith("#") or ";" not in line or group not in GROUPS:
            continue
        points, rest = line.split(";", 1)
        status, _, comment = rest.partition("#")
        codes = [int(p, 16) for p in points.split()]
        if status.strip() != "fully-qualified" or any(c in SKIN_TONES for c in codes):
            continue
        name = comment.split(maxsplit=2)[-1].strip()  # "😀 E1.0 grinning face" -> "grinning face"
        items.append(Emoji("".join(map(chr, codes)), name, LABELS.index(GROUPS[group])))
    return items


def _libraries() -> dict:
    import PIL
    from PIL import features

    return {"pillow": PIL.__version__, "freetype": features.version("freetype2"), "raqm": features.version("raqm")}


def _font(path: Path):
    from PIL import ImageFont

    try:
        return ImageFont.truetype(str(path), STRIKE)
    except OSError as exc:
        raise GenlabError(
            f"{path} is not a colour bitmap emoji font Pillow can draw at {STRIKE} pixels ({exc}); "
            f"install Debian's with {INSTALL}"
        ) from None


def render(font, emoji: Emoji, size: int, advance: float) -> np.ndarray | None:
    """One emoji -> uint8 (3, size, size) on white, or None when the font does not draw it as one glyph
    (`advance`: one glyph's, `font.getlength` of an emoji every version has)."""
    from PIL import Image, ImageDraw

    if font.getlength(emoji.text) != advance:  # not one glyph: a sequence the font does not know
        return None
    glyph = Image.new("RGBA", GLYPH, (0, 0, 0, 0))
    ImageDraw.Draw(glyph).text((0, 0), emoji.text, font=font, embedded_color=True)
    ink = glyph.getchannel("A").getbbox()
    if ink is None:  # a code point the font lacks draws nothing
        return None
    glyph = glyph.crop(ink)
    if max(glyph.size) > SQUARE:
        glyph.thumbnail((SQUARE, SQUARE), Image.Resampling.LANCZOS)
    square = Image.new("RGBA", (SQUARE, SQUARE), (*BACKGROUND, 255))
    square.alpha_composite(glyph, ((SQUARE - glyph.width) // 2, (SQUARE - glyph.height) // 2))
    small = square.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)
    return np.ascontiguousarray(np.asarray(small).transpose(2, 0, 1))  # (H, W, 3) -> (3, S, S)


def render_all(font, items: list[Emoji], size: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices of the emoji the font draws, int64 (N,); their images, uint8 (N, 3, size, size))."""
    advance = font.getlength("\U0001f600")  # grinning face, in every version of the font
    drawn = [(i, render(font, e, size, advance)) for i, e in enumerate(items)]
    drawn = [(i, img) for i, img in drawn if img is not None]
    kept = np.array([i for i, _ in drawn], np.int64)
    images = np.stack([img for _, img in drawn]) if drawn else np.zeros((0, 3, size, size), np.uint8)
    return kept, np.ascontiguousarray(images)  # np.stack of (C, H, W) views keeps their strides: made C-ordered


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:12]


def cached_set(size: int = DEFAULT_SIZE, items: list[Emoji] | None = None) -> tuple[Path, np.ndarray, list[Emoji]]:
    """(cache file, uint8 images (N, 3, size, size), their emoji): read from genlab's cache, or
    rendered and cached first. `items` (default: every emoji of emoji-test.txt) lets a test render a few."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file, save_file

    font_file = font_path()
    font_bytes = _readable(font_file, "Debian's colour emoji font (fonts-noto-color-emoji)")
    listing = _readable(emoji_test_path(), "the emoji list of Debian's unicode-data (emoji-test.txt)")
    if items is None:
        try:
            items = parse_emoji_test(listing.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:  # not UTF-8, or a code point that is no hex number
            items, why = [], f" ({type(exc).__name__}: {exc})"
        else:
            why = ""
        if not items:
            raise GenlabError(
                f"{emoji_test_path()} lists no emoji as Unicode's emoji-test.txt does{why}; install "
                f"Debian's with {INSTALL}"
            )
    recipe = {
        "version": VERSION,
        "size": size,
        "strike": STRIKE,
        "square": SQUARE,
        "background": BACKGROUND,
        "items": [e.text for e in items],
        "font": hashlib.sha256(font_bytes).hexdigest(),
        "libraries": _libraries(),
    }
    path = cache_dir() / "emoji" / f"emoji-{size}-{len(items)}-{_digest(recipe)}.safetensors"
    try:
        stored = load_file(path)
        kept, images = stored["kept"], stored["images"]
        if images.shape == (len(kept), 3, size, size) and (kept < len(items)).all():
            return path, images, [items[i] for i in kept]
    except (OSError, SafetensorError, KeyError):
        pass  # not built yet, or unreadable: (re)built below
    kept, images = render_all(_font(font_file), items, size)
    if not len(kept):
        raise GenlabError(
            f"{font_file} draws none of the emoji of {emoji_test_path()}; install Debian's font with {INSTALL}"
        )
    atomic_write_with(path, lambda tmp: save_file({"kept": kept, "images": images}, str(tmp)))
    return path, images, [items[i] for i in kept]


def load_emoji(size: int | None = None) -> Dataset:
    """The `emoji` spec: size x size RGB renderings of every emoji the font draws, labelled by group."""
    _, images, items = cached_set(DEFAULT_SIZE if size is None else size)
    groups = np.array([e.group for e in items], np.int64)
    train, test = stratified_split(groups, lambda n: (n + TEST_SHARE // 2) // TEST_SHARE)
    note = (
        f"{len(train)} train / {len(test)} test, stratified: in a seed-{SPLIT_SEED} permutation (numpy "
        f"default_rng) of the {len(groups)} emoji, the first fifth (rounded) of each group are the test split; "
        "both splits keep the permutation order"
    )
    files = [items[i].describe() for i in (*train, *test)]
    return image_dataset("emoji", images[train], images[test], groups[train], groups[test], list(LABELS), note, files)
