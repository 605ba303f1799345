"""The Complete view's API: completions streamed row by row, and one completion pixel by pixel
with the softmax each pixel was drawn from (server-sent events)."""

from __future__ import annotations

import contextlib
from typing import Annotated, AsyncIterator

import torch
from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import Field

from genlab.core.errors import GenlabError
from genlab.data.inputs.masks import occlude
from genlab.serve.api.common import Body, Served, bounded, run_of, sse
from genlab.serve.pictures import png_url, png_urls
from genlab.serve.slowmo import complete_pixel_by_pixel


class CompleteBody(Body):
    run: str
    pixels: list[Annotated[int, Field(ge=0, le=255)]] = Field(max_length=3 * 64 * 64)  # (C, H, W) flattened
    mask: list[Annotated[int, Field(ge=0, le=1)]] = Field(max_length=64 * 64)  # (H, W) flattened, 1 = hidden
    n: int = Field(4, ge=1)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    temperature: float = Field(1.0, gt=0, le=10)


def router(served: Served) -> APIRouter:
    catalog, jobs, limits = served.catalog, served.jobs, served.limits
    api = APIRouter()

    def _completion_input(body: CompleteBody) -> tuple[torch.Tensor, torch.Tensor]:
        """The body's image (1, C, H, W) uint8 and mask (H, W) bool, checked against the run."""
        info = run_of(served, body.run, "complete")
        c, h, w = info["item_shape"]
        bounded("n", body.n, limits.max_completions)
        if max(h, w) > limits.max_side:
            raise GenlabError(
                f"the page completes images up to {limits.max_side}x{limits.max_side}; use "
                f"`genlab complete` for this {w}x{h} run"
            )
        if len(body.pixels) != c * h * w or len(body.mask) != h * w:
            raise GenlabError(
                f"the run's images are {c}x{h}x{w}: send {c * h * w} pixel values and {h * w} mask "
                f"values (got {len(body.pixels)} and {len(body.mask)})"
            )
        image = torch.tensor(body.pixels, dtype=torch.uint8).view(1, c, h, w)  # (C*H*W,) -> (1, C, H, W)
        hidden = torch.tensor(body.mask, dtype=torch.bool).view(h, w)  # (H*W,) -> (H, W)
        if not hidden.any():
            raise GenlabError("the mask hides no pixel: brush over the part to complete")
        return image, hidden

    def _sse_job(work, first: dict) -> StreamingResponse:
        """A job's reports (and its result) as server-sent events after `first`; the job stops if the page goes."""

        async def events() -> AsyncIterator[str]:
            yield sse(first)
            try:
                async with contextlib.aclosing(jobs.stream_job(work)) as reports:
                    async for kind, item in reports:
                        if kind in ("report", "done"):
                            yield sse(item)
            except GenlabError as exc:
                yield sse({"error": str(exc)})

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @api.post("/api/complete/steps")
    async def complete_steps(body: CompleteBody):
        """One completion pixel by pixel, each with the palette distribution it was drawn from."""
        image, hidden = _completion_input(body)

        def work(report):
            model = catalog.load(body.run).model
            return complete_pixel_by_pixel(model, image, hidden, body.seed, body.temperature, report)

        return _sse_job(work, {"start": True, "hidden": int(hidden.sum())})

    @api.post("/api/complete")
    async def complete(body: CompleteBody):
        image, hidden = _completion_input(body)
        h, w = hidden.shape
        rows = torch.arange(h)[:, None].expand(h, w)  # (H, W) row index of each pixel

        def work(report):
            model = catalog.load(body.run).model
            g = torch.Generator(device=model.device).manual_seed(body.seed)

            def on_row(i: int, images: torch.Tensor) -> None:
                report({"row": i, "rows": h, "images": png_urls(occlude(images.cpu(), hidden & (rows > i)))})

            out = model.complete(image, hidden, n=body.n, generator=g, temperature=body.temperature, on_row=on_row)
            return {"done": True, "images": png_urls(out), "pixels": [im.flatten().tolist() for im in out.cpu()]}

        return _sse_job(work, {"start": True, "occluded": png_url(occlude(image, hidden)[0]), "n": body.n})

    return api
