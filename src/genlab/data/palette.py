"""Colours as 1-of-N classes: a palette of K colours and the nearest-colour index of each pixel.

`--colors 2` is black and white (grey: threshold at 128), `--colors 256` on grey images is every
grey level (identity), any other K is a seeded k-means palette of the training pixels. A palette
family given no `--colors` takes 2 on grey images and COLOUR_DEFAULT on RGB ones.
"""

from __future__ import annotations

import numpy as np
import torch

from genlab.core.errors import GenlabError

MAX_FIT_PIXELS = 100_000  # k-means on RGB pixels sees at most this many, drawn with a seeded generator
CHUNK_BYTES = 16 * 2**20  # the float32 (pixels, K) distance block in encode stays below this
LUT_MIN_PIXELS = 1 << 17  # RGB batches this large are matched by distinct colour
KMEANS_INIT = 3
# --colors on RGB images when none is given: on emoji, 16 k-means colours turn purples grey and greens brown,
# 32 keep them (chroma 4 % below the data's, 16: 9 %; bench/README.md)
COLOUR_DEFAULT = 32


def default_colors(channels: int) -> int:
    """The palette size a palette family takes when the user gives none: binarized grey, COLOUR_DEFAULT on RGB."""
    return COLOUR_DEFAULT if channels == 3 else 2


def check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= 256:
        raise GenlabError(f"--colors must be between 2 and 256 (got {k!r})")


def _check_images(images: torch.Tensor, channels: int | None = None) -> None:
    if (
        not isinstance(images, torch.Tensor)
        or images.dtype != torch.uint8
        or images.ndim != 4
        or images.shape[1] not in (1, 3)
    ):
        got = (images.dtype, tuple(images.shape)) if isinstance(images, torch.Tensor) else type(images)
        raise GenlabError(f"a palette needs uint8 images of shape (N, C, H, W) with C 1 or 3 (got {got})")
    if channels is not None and images.shape[1] != channels:
        raise GenlabError(
            f"the images have {images.shape[1]} channels but the palette has {channels}; "
            f"convert them with --channels {channels}"
        )


def _luma_order(colors: np.ndarray) -> np.ndarray:
    """Indices that sort uint8 (K, C) colours by ITU-R 601 luma, ties by the colour itself."""
    c = colors.astype(np.int64)
    lum = c[:, 0] * 1000 if c.shape[1] == 1 else c @ np.array([299, 587, 114])
    return np.lexsort(tuple(c[:, i] for i in reversed(range(c.shape[1]))) + (lum,))


def _distinct_colors(pixels: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (P, C) pixels -> (distinct colours (D, C), their counts (D,)) to fit a palette on.

    Grey: the exact histogram of every pixel. RGB: the colours of a seeded sample of at most
    MAX_FIT_PIXELS pixels, or of every pixel when the sample shows at most k colours.
    """
    if pixels.shape[1] == 1:
        counts = np.bincount(pixels[:, 0], minlength=256)
        levels = np.flatnonzero(counts)
        return levels[:, None].astype(np.uint8), counts[levels]
    codes = pixels.astype(np.int64) @ np.array([1 << 16, 1 << 8, 1])  # (P,) one int per colour
    sample = codes
    if len(codes) > MAX_FIT_PIXELS:
        sample = codes[np.random.default_rng(seed).integers(len(codes), size=MAX_FIT_PIXELS)]
    distinct, counts = np.unique(sample, return_counts=True)
    if len(distinct) <= k and len(sample) < len(codes):
        distinct, counts = np.unique(codes, return_counts=True)  # rare colours the sample missed
    rgb = np.stack([distinct >> 16, (distinct >> 8) & 255, distinct & 255], axis=1)  # (D, 3)
    return rgb.astype(np.uint8), counts


def _fit_colors(pixels: np.ndarray, k: int, seed: int) -> np.ndarray:
    """uint8 (P, C) -> at most k uint8 colours (at least 2), sorted by luma."""
    return fit_distinct(*_distinct_colors(pixels, k, seed), k, seed)


def fit_distinct(colors: np.ndarray, counts: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Distinct uint8 (D, C) colours and their counts (what `_distinct_colors` picks) -> the palette."""
    if len(colors) > k:
        from sklearn.cluster import KMeans

        km = KMeans(n_clusters=k, n_init=KMEANS_INIT, random_state=seed)
        km.fit(colors.astype(np.float64), sample_weight=counts)
        colors = np.unique(np.clip(np.rint(km.cluster_centers_), 0, 255).astype(np.uint8), axis=0)
    if len(colors) == 1:  # one colour in the data: add the far end so there are two classes
        far = 0 if int(colors.astype(np.int64).mean()) >= 128 else 255
        colors = np.concatenate([colors, np.full_like(colors, far)])
    return colors[_luma_order(colors)]


class Palette:
    """K colours, uint8 (K, C); pixels are encoded as the index of their nearest colour (Euclidean)."""

    def __init__(self, colors: torch.Tensor):
        colors = torch.as_tensor(colors)
        if (
            colors.dtype != torch.uint8
            or colors.ndim != 2
            or colors.shape[1] not in (1, 3)
            or not 2 <= colors.shape[0] <= 256
        ):
            raise GenlabError(
                "palette colours must be uint8 (K, C) with K in 2..256 and C 1 or 3 "
                f"(got {colors.dtype} {tuple(colors.shape)}); refit the palette"
            )
        self.colors = colors

    @property
    def k(self) -> int:
        return int(self.colors.shape[0])

    def __repr__(self) -> str:
        return f"Palette(k={self.k}, channels={self.colors.shape[1]})"

    @classmethod
    def fit(cls, images: torch.Tensor, k: int, seed: int = 0) -> "Palette":
        """A palette of k colours for uint8 (N, C, H, W) training images (rules in the module doc)."""
        check_k(k)
        _check_images(images)
        c = images.shape[1]
        if k == 2:
            return cls(torch.tensor([[0] * c, [255] * c], dtype=torch.uint8))
        if k == 256 and c == 1:
            return cls(torch.arange(256, dtype=torch.uint8)[:, None])
        pixels = images.detach().cpu().permute(0, 2, 3, 1).reshape(-1, c).numpy()  # (N*H*W, C)
        return cls(torch.from_numpy(_fit_colors(pixels, k, seed)))

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, C, H, W) -> int64 (N, 1, H, W): the index of each pixel's nearest colour.

        Exact (ties go to the lower index). Grey goes through a 256-entry table; RGB is matched in
        chunks, and a large batch matches each distinct colour once through a 2^24-entry table.
        """
        _check_images(images, self.colors.shape[1])
        n, c, h, w = images.shape
        device = images.device
        with torch.autocast(device.type, enabled=False):
            if c == 1:
                levels = torch.arange(256, device=device)[:, None]  # (256, 1)
                lut = (levels - self.colors.to(device, torch.int64)[:, 0]).abs().argmin(1)  # (256,)
                return lut[images.long()]  # (N, 1, H, W)
            pixels = images.permute(0, 2, 3, 1).reshape(-1, c)  # (N*H*W, 3)
            if len(pixels) < LUT_MIN_PIXELS:
                return self._nearest(pixels).view(n, 1, h, w)  # (N, 1, H, W)
            codes = (pixels[:, 0].int() << 16) | (pixels[:, 1].int() << 8) | pixels[:, 2].int()  # (P,)
            present = torch.zeros(1 << 24, dtype=torch.bool, device=device)
            present[codes] = True
            distinct = present.nonzero()[:, 0]  # (D,) the colours that occur
            rgb = torch.stack([distinct >> 16, (distinct >> 8) & 255, distinct & 255], dim=1)  # (D, 3)
            lut = torch.zeros(1 << 24, dtype=torch.int16, device=device)
            lut[distinct] = self._nearest(rgb).to(torch.int16)
            return lut[codes].long().view(n, 1, h, w)  # (N, 1, H, W)

    def _nearest(self, pixels: torch.Tensor) -> torch.Tensor:
        """Integer (M, 3) colours in 0..255 -> int64 (M,) nearest palette index.

        |x - c|^2 - |x|^2 = |c|^2 - 2 x.c is computed on integers below 2^24 in float32, so it is
        exact, also when matmuls run in TF32 or bf16 (0..255 is exact there).
        """
        colors = self.colors.to(pixels.device, torch.float32)  # (K, 3)
        sq_norms = (colors * colors).sum(1)  # (K,)
        step = max(1, CHUNK_BYTES // (4 * self.k))
        out = torch.empty(len(pixels), dtype=torch.int64, device=pixels.device)
        for start in range(0, len(pixels), step):
            x = pixels[start : start + step].float()  # (M, 3)
            dist = torch.addmm(sq_norms, x, colors.T, alpha=-2)  # (M, K): |c|^2 - 2 x.c
            out[start : start + step] = dist.argmin(1)
        return out

    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        """int64 (N, 1, H, W) indices in 0..K-1 -> uint8 (N, C, H, W) colours."""
        if indices.ndim != 4 or indices.shape[1] != 1:
            raise GenlabError(f"palette indices must have shape (N, 1, H, W) (got {tuple(indices.shape)})")
        colors = self.colors.to(indices.device)
        return colors[indices[:, 0].long()].permute(0, 3, 1, 2).contiguous()  # (N, H, W, C) -> (N, C, H, W)
