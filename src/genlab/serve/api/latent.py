"""The Latent space view's API: decode a code, walk between two ends, the encoder's q(z|x) of a
test image, a code drawn as the run samples, and the 2-D latent map."""

from __future__ import annotations

from typing import Annotated, Literal

import torch
from fastapi import APIRouter, Query
from pydantic import Field

from genlab.core.errors import GenlabError
from genlab.models import Capability
from genlab.core.interpolation import lerp_codes
from genlab.serve.api.common import LABEL, Body, asked_class, Served, bounded, run_of
from genlab.serve.pictures import png_url, png_urls
from genlab.serve.posterior import posterior

LATENT_EXTENT = 3.0  # the 2-D latent map covers [-3, 3]²
LATENT_MAP_SIDE = 12  # decoded images per side of the map
MAX_SLIDERS = 16  # a GAN with a larger code gets sliders for its first 16 coordinates


class DecodeBody(Body):
    run: str
    z: list[Annotated[float, Field(ge=-10, le=10)]] = Field(max_length=1024)
    label: int | None = LABEL


class Endpoint(Body):
    """One end of an interpolation: a test image (VAE), a code, or a seed for a prior draw."""

    index: int | None = Field(None, ge=0)
    z: list[Annotated[float, Field(ge=-10, le=10)]] | None = Field(None, max_length=1024)
    seed: int | None = Field(None, ge=0, le=2**31 - 1)


class InterpolateBody(Body):
    run: str
    a: Endpoint
    b: Endpoint
    steps: int = Field(8, ge=2)
    path: Literal["linear", "spherical"] = "linear"
    label: int | None = LABEL  # a class-conditional run: the whole walk draws this class


def _own_labels(model, data, n: int):
    """The first n test items' classes for a class-conditional model's encoder; None otherwise."""
    return data.test_labels[:n] if model.label_count and data.test_labels is not None else None


def router(served: Served) -> APIRouter:
    catalog, jobs, limits = served.catalog, served.jobs, served.limits
    api = APIRouter()

    def _distinct_ends(body: InterpolateBody) -> None:
        if body.a == body.b:
            raise GenlabError(
                "the two ends are the same code: the walk would show one image "
                f"{body.steps} times; pick two different ends"
            )

    def _code(model, info, end: Endpoint) -> torch.Tensor:
        given = [k for k in ("index", "z", "seed") if getattr(end, k) is not None]
        if len(given) != 1:
            raise GenlabError("each end of an interpolation needs exactly one of index, z or seed")
        if end.z is not None:
            return _checked_code(model, end.z)
        if end.seed is not None:
            return model.prior(1, torch.Generator(device=model.device).manual_seed(end.seed))
        if not model.can(Capability.ENCODES):
            raise GenlabError(
                f"a {info['model']} has no encoder to place test images in its latent space; use z or seed for the ends"
            )
        test = catalog.test_items(info["name"])
        if end.index >= len(test):
            raise GenlabError(f"index {end.index} is outside the test split (0..{len(test) - 1})")
        return model.encode_images(test[end.index : end.index + 1], labels=_own_label(info, end.index))

    def _own_label(info: dict, index: int) -> int | None:
        """A test item's own class, for a class-conditional encoder (None for any other run)."""
        if not info["classes"]:
            return None
        labels = catalog.load(info["name"]).dataset().test_labels
        return None if labels is None else int(labels[index])

    def _checked_code(model, z: list[float]) -> torch.Tensor:
        latent = model.prior(1).shape[1]
        if len(z) != latent:
            raise GenlabError(f"z has {len(z)} numbers but the run's latent space has {latent}")
        return torch.tensor([z], dtype=torch.float32, device=model.device)

    @api.post("/api/decode")
    async def decode(body: DecodeBody):
        run_of(served, body.run, "latent")

        def work():
            model = catalog.load(body.run).model
            return {"png": png_url(model.decode(_checked_code(model, body.z), **asked_class(model, body.label, 1))[0])}

        return await jobs.run(work)

    @api.post("/api/interpolate")
    async def interpolate(body: InterpolateBody):
        info = run_of(served, body.run, "latent")
        bounded("steps", body.steps, limits.max_steps)
        _distinct_ends(body)

        def work():
            model = catalog.load(body.run).model
            ends = [_code(model, info, e) for e in (body.a, body.b)]
            codes = lerp_codes(*ends, body.steps, body.path)
            images = model.decode(codes, **asked_class(model, body.label, len(codes)))
            return {"images": png_urls(images), "codes": codes.cpu().tolist()}

        return await jobs.run(work)

    @api.get("/api/latent/posterior")
    async def encoder_view(
        run: Annotated[str, Query(max_length=500)],
        index: Annotated[int, Query(ge=0)],
        seed: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    ):
        """q(z|x) of one test image: its mean and spread, reconstruction and decoded draws."""
        info = run_of(served, run, "latent")

        def work():
            model = catalog.load(run).model
            if not model.can(Capability.POSTERIOR):
                raise GenlabError(f"a {info['model']} has no encoder q(z|x): only a VAE maps an image to a code")
            test = catalog.test_items(run)
            if index >= len(test):
                raise GenlabError(f"index {index} is outside the test split (0..{len(test) - 1})")
            return posterior(model, test[index : index + 1], seed, _own_label(info, index))

        return await jobs.run(work)

    @api.get("/api/latent/draw")
    async def latent_draw(
        run: Annotated[str, Query(max_length=500)],
        seed: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
        label: Annotated[int | None, Query(ge=0, le=9999)] = None,
    ):
        """A code drawn the way the run samples (a VAE's fitted mixture, a GAN's prior) and its picture."""
        run_of(served, run, "latent")

        def work():
            model = catalog.load(run).model
            asked = asked_class(model, label, 1)  # a conditional VAE draws from that class's mixture
            z = model.prior(1, torch.Generator(device=model.device).manual_seed(seed), **asked)
            return {"z": z[0].cpu().tolist(), "png": png_url(model.decode(z, **asked)[0])}

        return await jobs.run(work)

    @api.get("/api/latent")
    async def latent(
        run: Annotated[str, Query(max_length=500)], label: Annotated[int | None, Query(ge=0, le=9999)] = None
    ):
        """The latent space's size and, for a 2-D code, its decoded map (a class-conditional run's for
        one class: `label`, else class 0) with the test images' codes."""
        info = run_of(served, run, "latent")

        def work():
            loaded = catalog.load(run)
            model = loaded.model
            size = model.prior(1).shape[1]
            out = {
                "latent": size,
                "sliders": min(size, MAX_SLIDERS),
                "extent": LATENT_EXTENT,
                "encoder": model.can(Capability.POSTERIOR),
                "model": info["model"],
                "classes": info["classes"],
            }
            if size == 2:
                ticks = torch.linspace(-LATENT_EXTENT, LATENT_EXTENT, LATENT_MAP_SIDE)
                ys, xs = torch.meshgrid(ticks.flip(0), ticks, indexing="ij")  # top row = largest z2
                grid = torch.stack([xs.flatten(), ys.flatten()], 1).to(model.device)
                shown = label if label is not None or not model.label_count else 0  # one class for the whole map
                out["map"] = png_urls(model.decode(grid, **asked_class(model, shown, len(grid))))
                out["map_side"], out["map_class"] = LATENT_MAP_SIDE, shown
                if model.can(Capability.ENCODES):
                    data = loaded.dataset()
                    codes = model.encode_images(data.test[:300], labels=_own_labels(model, data, 300)).cpu()
                    labels = data.test_labels[:300].tolist() if data.test_labels is not None else [0] * len(codes)
                    out["codes"] = [
                        [round(float(a), 3), round(float(b), 3), int(c)] for (a, b), c in zip(codes.tolist(), labels)
                    ]
            return out

        return await jobs.run(work)

    return api
