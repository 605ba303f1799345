"""The web app behind `genlab serve`: the static page and a JSON API (FastAPI).

Every request is validated: bodies by pydantic models with bounds, run names and picture paths by
lookup in the catalog, image sizes against the run. Mistakes are answered with a 4xx status and
{"error": "..."}: 400 bad value, 404 unknown run/picture/game, 413 too large, 415 not an image,
429 busy. Model work runs in worker threads, bounded by jobs.JobSlots; GAN games by sessions.Sessions.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path
from typing import Annotated, AsyncIterator, Literal

import torch
from fastapi import FastAPI, File, Query, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException

from genlab.core.errors import GenlabError
from genlab.data.audio import playable_wav
from genlab.data.masks import occlude
from genlab.models.latent import lerp_codes
from genlab.serve.bodylimit import BodyLimit, upload_too_large
from genlab.serve.catalog import PICTURE_TYPES, RunCatalog, UnknownRun
from genlab.serve.gan_game import ACTIONS, GameSettings
from genlab.serve.hosts import LoopbackOnly, host_name
from genlab.serve.jobs import JobSlots
from genlab.serve.limits import Limits
from genlab.serve.pictures import png_url, png_urls
from genlab.serve.posterior import posterior
from genlab.serve.sessions import Busy, Sessions, UnknownSession
from genlab.serve.slowmo import complete_pixel_by_pixel
from genlab.serve.uploads import NotAnImage, in_run_colours, looks_inverted, read_upload

STATIC = Path(__file__).parent / "static"
LATENT_EXTENT = 3.0  # the 2-D latent map covers [-3, 3]²
LATENT_MAP_SIDE = 12  # decoded images per side of the map
MAX_SLIDERS = 16  # a GAN with a larger code gets sliders for its first 16 coordinates
EXAMPLES = 12
Viewer = Annotated[str | None, Query(max_length=64, pattern=r"^[\w-]+$")]  # a page's own token


# --- request bodies ---------------------------------------------------------------------------------
class Body(BaseModel):
    """Every request body refuses NaN and infinities (JSON from Python's encoder may carry them)."""

    model_config = ConfigDict(allow_inf_nan=False)


class GameBody(Body):
    dataset: str = "gmm8"
    loss: str = "non-saturating"
    layers: int = Field(2, ge=1, le=4)
    width: int = Field(64, ge=4, le=256)
    d_steps: int = Field(1, ge=1, le=10)
    lr_d: float = Field(1e-3, gt=0, le=0.1)
    lr_g: float = Field(1e-3, gt=0, le=0.1)
    batch: int = Field(256, ge=8, le=1024)
    speed: int = Field(5, ge=1, le=50)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    points: list[tuple[float, float]] = Field(default_factory=list, max_length=4000)


class ControlBody(Body):
    action: Literal[ACTIONS]  # type: ignore[valid-type]


class CompleteBody(Body):
    run: str
    pixels: list[Annotated[int, Field(ge=0, le=255)]] = Field(max_length=3 * 64 * 64)  # (C, H, W) flattened
    mask: list[Annotated[int, Field(ge=0, le=1)]] = Field(max_length=64 * 64)  # (H, W) flattened, 1 = hidden
    n: int = Field(4, ge=1)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    temperature: float = Field(1.0, gt=0, le=10)


class SampleBody(Body):
    run: str
    n: int = Field(16, ge=1)
    seed: int = Field(0, ge=0, le=2**31 - 1)


class DecodeBody(Body):
    run: str
    z: list[Annotated[float, Field(ge=-10, le=10)]] = Field(max_length=1024)


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


# --- helpers ------------------------------------------------------------------------------------------
def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _bounded(name: str, value: int, most: int) -> int:
    if value > most:
        raise GenlabError(f"{name} must be at most {most} (got {value})")
    return value


def _sse(event: dict) -> str:
    return f"data: {json.dumps(event, allow_nan=False)}\n\n"


def create_app(runs_dir: str | Path | None = None, limits: Limits = Limits(),
               allowed_hosts: list[str] | None = None, restart: str | None = None) -> FastAPI:
    """The app; `allowed_hosts` (e.g. loopback names) refuses requests whose Host header names
    another machine, so a web page elsewhere cannot reach the API by DNS rebinding. `restart` is
    the command that starts this server again: the page names it once the server has stopped."""
    catalog = RunCatalog(runs_dir)
    sessions = Sessions(limits)
    jobs = JobSlots(limits)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        async def janitor():
            while True:
                await asyncio.sleep(max(0.05, limits.session_idle_s / 4))
                sessions.sweep()

        task = asyncio.create_task(janitor())
        app.state.closing = asyncio.Event()  # bound to this run's event loop (a second run gets its own)
        yield
        task.cancel()

    app = FastAPI(title="genlab", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.sessions, app.state.jobs, app.state.catalog, app.state.limits = sessions, jobs, catalog, limits
    app.state.closing = asyncio.Event()  # set when the server stops: open streams end at once
    app.add_middleware(BodyLimit, max_bytes=limits.max_body, uploads=("/api/runs/upload",), upload_bytes=limits.max_upload)
    if allowed_hosts is not None:
        app.add_middleware(LoopbackOnly, names=tuple(host_name(h) for h in allowed_hosts))

    # --- errors ---------------------------------------------------------------------------------
    for cls, status in ((UnknownRun, 404), (UnknownSession, 404), (Busy, 429), (NotAnImage, 415), (GenlabError, 400)):
        app.add_exception_handler(cls, lambda _r, exc, status=status: _error(status, str(exc)))
    app.add_exception_handler(HTTPException, lambda _r, exc: _error(exc.status_code, str(exc.detail)))

    @app.exception_handler(RequestValidationError)
    async def invalid(_r, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query"))
        return _error(400, f"{where}: {first.get('msg')}" if where else str(first.get("msg")))

    # --- the page ---------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    async def index():
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/health")
    async def health():
        return {"ok": True, "games": len(sessions), "jobs": jobs.running,
                "restart": restart or "genlab serve --runs RUNS"}

    # --- runs -------------------------------------------------------------------------------------
    def _run_of(name: str, *families: str):
        folder = catalog.folder(name)
        info = catalog.describe(name, folder)
        if families and info["family"] not in families:
            raise GenlabError(f"run {name!r} is a {info['model']} run on {info['data']}; this needs a "
                              f"{' or '.join(_FAMILY_WORDS[f] for f in families)}")
        if not info["trained"]:
            raise GenlabError(f"run {name!r} has no weights yet; let its training save a checkpoint")
        return info

    @app.get("/api/runs")
    async def list_runs():
        return {"root": catalog.root.name if catalog.root else None, "runs": await asyncio.to_thread(catalog.listing)}

    @app.get("/api/runs/info")
    async def run_info(run: Annotated[str, Query(max_length=500)]):
        def work():
            folder = catalog.folder(run)
            return {**catalog.describe(run, folder), **catalog.metrics(run), "pictures": catalog.pictures(run)}
        return await asyncio.to_thread(work)

    @app.get("/api/runs/picture")
    async def run_picture(run: Annotated[str, Query(max_length=500)], path: Annotated[str, Query(max_length=500)]):
        found = await asyncio.to_thread(catalog.picture, run, path)
        if found.suffix == ".wav" and (sound := await asyncio.to_thread(playable_wav, found)) is not None:
            return Response(sound, media_type="audio/wav")
        return FileResponse(found, media_type=PICTURE_TYPES[found.suffix])

    @app.get("/api/runs/examples")
    async def examples(run: Annotated[str, Query(max_length=500)], count: Annotated[int, Query(ge=1, le=64)] = EXAMPLES):
        _run_of(run, "complete", "latent")

        def work():
            test = in_run_colours(catalog.load(run).model, catalog.test_items(run)[:count])
            return {"examples": [{"index": i, "png": png_url(im), "pixels": im.flatten().tolist()}
                                 for i, im in enumerate(test)]}
        return await jobs.run(work)

    @app.post("/api/runs/upload")
    async def upload(run: Annotated[str, Query(max_length=500)], file: Annotated[UploadFile, File()]):
        info = _run_of(run, "complete", "latent")
        data = await file.read(limits.max_upload + 1)
        if len(data) > limits.max_upload:
            return _error(413, upload_too_large(limits.max_upload))

        def work():
            image = read_upload(data, file.filename or "the upload", tuple(info["item_shape"]), limits.max_upload_pixels)
            model = catalog.load(run).model
            shown = in_run_colours(model, image)
            answer = {"png": png_url(shown[0]), "pixels": shown.flatten().tolist(), "inverted": None}
            if looks_inverted(image, catalog.test_items(run)[:EXAMPLES * 10]):  # say so, and offer the flip
                flipped = in_run_colours(model, 255 - image)
                answer["inverted"] = {"png": png_url(flipped[0]), "pixels": flipped.flatten().tolist()}
            return answer
        return await jobs.run(work)

    # --- sampling, decoding, interpolation ---------------------------------------------------------
    @app.post("/api/sample")
    async def sample(body: SampleBody):
        _run_of(body.run, "complete", "latent", "sample")
        _bounded("n", body.n, limits.max_samples)

        def work():
            model = catalog.load(body.run).model
            started = time.perf_counter()
            images = model.sample(body.n, generator=torch.Generator(device=model.device).manual_seed(body.seed))
            return {"images": png_urls(images), "seconds": time.perf_counter() - started}
        return await jobs.run(work)

    def _distinct_ends(body: InterpolateBody) -> None:
        if body.a == body.b:
            raise GenlabError("the two ends are the same code: the walk would show one image "
                              f"{body.steps} times; pick two different ends")

    def _code(model, info, end: Endpoint) -> torch.Tensor:
        given = [k for k in ("index", "z", "seed") if getattr(end, k) is not None]
        if len(given) != 1:
            raise GenlabError("each end of an interpolation needs exactly one of index, z or seed")
        if end.z is not None:
            return _checked_code(model, end.z)
        if end.seed is not None:
            return model.prior(1, torch.Generator(device=model.device).manual_seed(end.seed))
        if not hasattr(model, "encode_images"):
            raise GenlabError(f"a {info['model']} has no encoder to place test images in its latent space; "
                              f"use z or seed for the ends")
        test = catalog.test_items(info["name"])
        if end.index >= len(test):
            raise GenlabError(f"index {end.index} is outside the test split (0..{len(test) - 1})")
        return model.encode_images(test[end.index:end.index + 1])

    def _checked_code(model, z: list[float]) -> torch.Tensor:
        latent = model.prior(1).shape[1]
        if len(z) != latent:
            raise GenlabError(f"z has {len(z)} numbers but the run's latent space has {latent}")
        return torch.tensor([z], dtype=torch.float32, device=model.device)

    @app.post("/api/decode")
    async def decode(body: DecodeBody):
        _run_of(body.run, "latent")

        def work():
            model = catalog.load(body.run).model
            return {"png": png_url(model.decode(_checked_code(model, body.z))[0])}
        return await jobs.run(work)

    @app.post("/api/interpolate")
    async def interpolate(body: InterpolateBody):
        info = _run_of(body.run, "latent")
        _bounded("steps", body.steps, limits.max_steps)
        _distinct_ends(body)

        def work():
            model = catalog.load(body.run).model
            ends = [_code(model, info, e) for e in (body.a, body.b)]
            codes = lerp_codes(*ends, body.steps, body.path)
            return {"images": png_urls(model.decode(codes)), "codes": codes.cpu().tolist()}
        return await jobs.run(work)

    @app.get("/api/latent/posterior")
    async def encoder_view(run: Annotated[str, Query(max_length=500)], index: Annotated[int, Query(ge=0)],
                           seed: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0):
        """q(z|x) of one test image: its mean and spread, reconstruction and decoded draws."""
        info = _run_of(run, "latent")

        def work():
            model = catalog.load(run).model
            if not hasattr(model, "encode_images"):
                raise GenlabError(f"a {info['model']} has no encoder: only a VAE maps an image to a code")
            test = catalog.test_items(run)
            if index >= len(test):
                raise GenlabError(f"index {index} is outside the test split (0..{len(test) - 1})")
            return posterior(model, test[index:index + 1], seed)
        return await jobs.run(work)

    @app.get("/api/latent/draw")
    async def latent_draw(run: Annotated[str, Query(max_length=500)],
                          seed: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0):
        """A code drawn the way the run samples (a VAE's fitted mixture, a GAN's prior) and its picture."""
        _run_of(run, "latent")

        def work():
            model = catalog.load(run).model
            z = model.prior(1, torch.Generator(device=model.device).manual_seed(seed))
            return {"z": z[0].cpu().tolist(), "png": png_url(model.decode(z)[0])}
        return await jobs.run(work)

    @app.get("/api/latent")
    async def latent(run: Annotated[str, Query(max_length=500)]):
        info = _run_of(run, "latent")

        def work():
            loaded = catalog.load(run)
            model = loaded.model
            size = model.prior(1).shape[1]
            out = {"latent": size, "sliders": min(size, MAX_SLIDERS), "extent": LATENT_EXTENT,
                   "encoder": hasattr(model, "encode_images"), "model": info["model"]}
            if size == 2:
                ticks = torch.linspace(-LATENT_EXTENT, LATENT_EXTENT, LATENT_MAP_SIDE)
                ys, xs = torch.meshgrid(ticks.flip(0), ticks, indexing="ij")  # top row = largest z2
                out["map"] = png_urls(model.decode(torch.stack([xs.flatten(), ys.flatten()], 1).to(model.device)))
                out["map_side"] = LATENT_MAP_SIDE
                if hasattr(model, "encode_images"):
                    data = loaded.dataset()
                    codes = model.encode_images(data.test[:300]).cpu()
                    labels = data.test_labels[:300].tolist() if data.test_labels is not None else [0] * len(codes)
                    out["codes"] = [[round(float(a), 3), round(float(b), 3), int(c)] for (a, b), c in zip(codes.tolist(), labels)]
            return out
        return await jobs.run(work)

    # --- completion ---------------------------------------------------------------------------------
    def _completion_input(body: CompleteBody) -> tuple[torch.Tensor, torch.Tensor]:
        """The body's image (1, C, H, W) uint8 and mask (H, W) bool, checked against the run."""
        info = _run_of(body.run, "complete")
        c, h, w = info["item_shape"]
        _bounded("n", body.n, limits.max_completions)
        if max(h, w) > limits.max_side:
            raise GenlabError(f"the page completes images up to {limits.max_side}x{limits.max_side}; use "
                              f"`genlab complete` for this {w}x{h} run")
        if len(body.pixels) != c * h * w or len(body.mask) != h * w:
            raise GenlabError(f"the run's images are {c}x{h}x{w}: send {c * h * w} pixel values and {h * w} mask "
                              f"values (got {len(body.pixels)} and {len(body.mask)})")
        image = torch.tensor(body.pixels, dtype=torch.uint8).view(1, c, h, w)  # (C*H*W,) -> (1, C, H, W)
        hidden = torch.tensor(body.mask, dtype=torch.bool).view(h, w)  # (H*W,) -> (H, W)
        if not hidden.any():
            raise GenlabError("the mask hides no pixel: brush over the part to complete")
        return image, hidden

    def _sse_job(work, first: dict) -> StreamingResponse:
        """A job's reports (and its result) as server-sent events after `first`; the job stops if the page goes."""
        async def events() -> AsyncIterator[str]:
            yield _sse(first)
            try:
                async with contextlib.aclosing(jobs.stream_job(work)) as reports:
                    async for kind, item in reports:
                        if kind in ("report", "done"):
                            yield _sse(item)
            except GenlabError as exc:
                yield _sse({"error": str(exc)})

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.post("/api/complete/steps")
    async def complete_steps(body: CompleteBody):
        """One completion pixel by pixel, each with the palette distribution it was drawn from."""
        image, hidden = _completion_input(body)

        def work(report):
            model = catalog.load(body.run).model
            return complete_pixel_by_pixel(model, image, hidden, body.seed, body.temperature, report)

        return _sse_job(work, {"start": True, "hidden": int(hidden.sum())})

    @app.post("/api/complete")
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

    # --- the GAN game ---------------------------------------------------------------------------------
    pace = {"frame_rate": round(1 / limits.frame_interval_s, 2), "frame_work_ms": round(1000 * limits.frame_work_s)}

    @app.post("/api/gan")
    async def new_game(body: GameBody):
        settings = GameSettings(**{**body.model_dump(), "points": tuple(map(tuple, body.points))})
        key, game = await asyncio.to_thread(sessions.create, settings)
        return {"id": key, **game.intro(), **pace}

    @app.get("/api/gan/{key}")
    async def game_info(key: str):
        """A running game's plane and settings, for a page that comes back to it (reload, Back) or
        joins it (a second tab); `watchers`: the pages streaming it now."""
        session = sessions.get(key)
        return {"id": key, **session.game.intro(), **pace, "watchers": session.listeners}

    @app.post("/api/gan/{key}/control")
    async def control(key: str, body: ControlBody):
        session = sessions.get(key)
        await asyncio.to_thread(session.game.act, body.action)
        return {"playing": session.game.playing, "iteration": session.game.iteration}

    @app.delete("/api/gan/{key}")
    async def end_game(key: str, viewer: Viewer = None):
        """The page `viewer` leaves the game: it ends unless another page watches it."""
        others = sessions.leave(key, viewer)
        return {"ended": key if others == 0 else None, "watchers": others}

    @app.get("/api/gan/{key}/stream")
    async def stream(key: str, frames: Annotated[int | None, Query(ge=1, le=100_000)] = None, viewer: Viewer = None):
        """Frames at a steady rate: each tick trains `speed` iterations (while playing, at most
        `frame_work_s` of work) and draws a frame. A game nobody listens to is dropped after
        `session_idle_s` (a page that reloads or comes Back within that time finds it again).
        A game that ends while the page listens gets one last event {"ended": why}."""
        session = sessions.get(key)
        if session.listeners >= limits.max_listeners:
            raise Busy(f"{limits.max_listeners} pages are watching this game already; close one and reload")
        session.listeners += 1  # the place is taken now, so that pages opened at once cannot all pass the check
        session.viewers[viewer] += 1
        released = False

        def release() -> None:  # from the stream's end, or after the response if the stream never started
            nonlocal released
            if not released:
                released = True
                session.listeners -= 1
                session.viewers[viewer] -= 1
                session.last_seen = time.monotonic()  # the sweep drops it once nobody came back

        async def events() -> AsyncIterator[str]:
            sent, seen, tick, me = 0, 0, asyncio.get_running_loop().time(), object()
            try:
                while (frames is None or sent < frames) and not app.state.closing.is_set():
                    if session.closed:
                        yield _sse({"ended": "this game was ended (by a script, or it idled out); press Start for a new one"})
                        break
                    game = session.game
                    if session.driver is None:
                        session.driver = me  # one game, one pace, however many pages watch it
                    if game.playing and session.driver is me:
                        await asyncio.to_thread(game.train, game.settings.speed, limits.frame_work_s)
                    frame = await asyncio.to_thread(game.frame, seen)
                    seen = frame["logged"]
                    yield _sse(frame)
                    sent += 1
                    session.last_seen = time.monotonic()
                    tick += limits.frame_interval_s
                    with contextlib.suppress(asyncio.TimeoutError):  # the next tick, or the server stopping
                        await asyncio.wait_for(app.state.closing.wait(), max(0.0, tick - asyncio.get_running_loop().time()))
            finally:
                release()
                if session.driver is me:
                    session.driver = None

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"},
                                 background=BackgroundTask(release))

    return app


_FAMILY_WORDS = {"complete": "pixelrnn run on images", "latent": "vae or gan run on images",
                 "sample": "gmm run on images"}
