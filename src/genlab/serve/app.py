"""The web app behind `genlab serve`: the static page and a JSON API (FastAPI), one router per
view in serve/api/ (runs, latent space, completion, GAN games).

Every request is validated: bodies by pydantic models with bounds, run names and picture paths by
lookup in the catalog, image sizes against the run. Mistakes are answered with a 4xx status and
{"error": "..."}: 400 bad value, 404 unknown run/picture/game, 413 too large, 415 not an image,
429 busy. Model work runs in worker threads, bounded by jobs.JobSlots; GAN games by sessions.Sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from genlab.core.errors import GenlabError
from genlab.serve.api import completion, gan, latent, runs
from genlab.serve.api.common import Served, error
from genlab.serve.bodylimit import BodyLimit
from genlab.serve.catalog import RunCatalog, UnknownRun
from genlab.serve.hosts import LoopbackOnly, host_name
from genlab.serve.jobs import JobSlots
from genlab.serve.limits import Limits
from genlab.serve.sessions import Busy, Sessions, UnknownSession
from genlab.serve.uploads import NotAnImage

STATIC = Path(__file__).parent / "static"


def create_app(
    runs_dir: str | Path | None = None,
    limits: Limits = Limits(),
    allowed_hosts: list[str] | None = None,
    restart: str | None = None,
) -> FastAPI:
    """The app; `allowed_hosts` (e.g. loopback names) refuses requests whose Host header names
    another machine, so a web page elsewhere cannot reach the API by DNS rebinding. `restart` is
    the command that starts this server again: the page names it once the server has stopped."""
    served = Served(RunCatalog(runs_dir), Sessions(limits), JobSlots(limits), limits)
    sessions, jobs = served.sessions, served.jobs

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
    app.state.sessions, app.state.jobs, app.state.catalog, app.state.limits = sessions, jobs, served.catalog, limits
    app.state.closing = asyncio.Event()  # set when the server stops: open streams end at once
    app.add_middleware(
        BodyLimit, max_bytes=limits.max_body, uploads=("/api/runs/upload",), upload_bytes=limits.max_upload
    )
    if allowed_hosts is not None:
        app.add_middleware(LoopbackOnly, names=tuple(host_name(h) for h in allowed_hosts))

    # --- errors ---------------------------------------------------------------------------------
    for cls, status in ((UnknownRun, 404), (UnknownSession, 404), (Busy, 429), (NotAnImage, 415), (GenlabError, 400)):
        app.add_exception_handler(cls, lambda _r, exc, status=status: error(status, str(exc)))
    app.add_exception_handler(HTTPException, lambda _r, exc: error(exc.status_code, str(exc.detail)))

    @app.exception_handler(RequestValidationError)
    async def invalid(_r, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query"))
        return error(400, f"{where}: {first.get('msg')}" if where else str(first.get("msg")))

    # --- the page ---------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    async def index():
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/health")
    async def health():
        return {
            "ok": True,
            "games": len(sessions),
            "jobs": jobs.running,
            "restart": restart or "genlab serve --runs RUNS",
        }

    for view in (runs, latent, completion, gan):
        app.include_router(view.router(served))
    return app
