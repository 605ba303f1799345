"""The Runs view's API: the runs under --runs, their figures, pictures, test images, uploads and
fresh samples."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import torch
from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import FileResponse, Response
from pydantic import Field

from genlab.data.sound.wav import playable_wav
from genlab.serve.api.common import EXAMPLES, LABEL, Body, asked_class, Served, bounded, error, run_of
from genlab.serve.bodylimit import upload_too_large
from genlab.serve.catalog import PICTURE_TYPES
from genlab.serve.pictures import png_url, png_urls
from genlab.serve.uploads import in_run_colours, looks_inverted, read_upload


class SampleBody(Body):
    run: str
    n: int = Field(16, ge=1)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    label: int | None = LABEL


def router(served: Served) -> APIRouter:
    catalog, jobs, limits = served.catalog, served.jobs, served.limits
    api = APIRouter()

    @api.get("/api/runs")
    async def list_runs():
        return {"root": catalog.root.name if catalog.root else None, "runs": await asyncio.to_thread(catalog.listing)}

    @api.get("/api/runs/info")
    async def run_info(run: Annotated[str, Query(max_length=500)]):
        def work():
            folder = catalog.folder(run)
            return {**catalog.describe(run, folder), **catalog.metrics(run), "pictures": catalog.pictures(run)}

        return await asyncio.to_thread(work)

    @api.get("/api/runs/picture")
    async def run_picture(run: Annotated[str, Query(max_length=500)], path: Annotated[str, Query(max_length=500)]):
        found = await asyncio.to_thread(catalog.picture, run, path)
        if found.suffix == ".wav" and (sound := await asyncio.to_thread(playable_wav, found)) is not None:
            return Response(sound, media_type="audio/wav")
        return FileResponse(found, media_type=PICTURE_TYPES[found.suffix])

    @api.get("/api/runs/examples")
    async def examples(
        run: Annotated[str, Query(max_length=500)], count: Annotated[int, Query(ge=1, le=64)] = EXAMPLES
    ):
        run_of(served, run, "complete", "latent")

        def work():
            test = in_run_colours(catalog.load(run).model, catalog.test_items(run)[:count])
            return {
                "examples": [
                    {"index": i, "png": png_url(im), "pixels": im.flatten().tolist()} for i, im in enumerate(test)
                ]
            }

        return await jobs.run(work)

    @api.post("/api/runs/upload")
    async def upload(run: Annotated[str, Query(max_length=500)], file: Annotated[UploadFile, File()]):
        info = run_of(served, run, "complete", "latent")
        data = await file.read(limits.max_upload + 1)
        if len(data) > limits.max_upload:
            return error(413, upload_too_large(limits.max_upload))

        def work():
            image = read_upload(
                data, file.filename or "the upload", tuple(info["item_shape"]), limits.max_upload_pixels
            )
            model = catalog.load(run).model
            shown = in_run_colours(model, image)
            answer = {"png": png_url(shown[0]), "pixels": shown.flatten().tolist(), "inverted": None}
            if looks_inverted(image, catalog.test_items(run)[: EXAMPLES * 10]):  # say so, and offer the flip
                flipped = in_run_colours(model, 255 - image)
                answer["inverted"] = {"png": png_url(flipped[0]), "pixels": flipped.flatten().tolist()}
            return answer

        return await jobs.run(work)

    @api.post("/api/sample")
    async def sample(body: SampleBody):
        run_of(served, body.run, "complete", "latent", "sample")
        bounded("n", body.n, limits.max_samples)

        def work():
            model = catalog.load(body.run).model
            started = time.perf_counter()
            images = model.sample(
                body.n,
                generator=torch.Generator(device=model.device).manual_seed(body.seed),
                **asked_class(model, body.label, body.n),
            )
            return {"images": png_urls(images), "seconds": time.perf_counter() - started}

        return await jobs.run(work)

    return api
