"""The GAN game view's API: start a game, steer it, stream its frames, leave it. Several pages may
watch one game (sessions.py): a page names itself with a `viewer` token, and leaving ends the game
only when no other page watches it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Annotated, AsyncIterator, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import Field
from starlette.background import BackgroundTask

from genlab.serve.api.common import Body, Served, sse
from genlab.serve.gan_game import ACTIONS, GameSettings
from genlab.serve.sessions import Busy

Viewer = Annotated[str | None, Query(max_length=64, pattern=r"^[\w-]+$")]  # a page's own token


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


def router(served: Served) -> APIRouter:
    sessions, limits = served.sessions, served.limits
    api = APIRouter()

    pace = {"frame_rate": round(1 / limits.frame_interval_s, 2), "frame_work_ms": round(1000 * limits.frame_work_s)}

    @api.post("/api/gan")
    async def new_game(body: GameBody):
        settings = GameSettings(**{**body.model_dump(), "points": tuple(map(tuple, body.points))})
        key, game = await asyncio.to_thread(sessions.create, settings)
        return {"id": key, **game.intro(), **pace}

    @api.get("/api/gan/{key}")
    async def game_info(key: str):
        """A running game's plane and settings, for a page that comes back to it (reload, Back) or
        joins it (a second tab); `watchers`: the pages streaming it now."""
        session = sessions.get(key)
        return {"id": key, **session.game.intro(), **pace, "watchers": session.listeners}

    @api.post("/api/gan/{key}/control")
    async def control(key: str, body: ControlBody):
        session = sessions.get(key)
        await asyncio.to_thread(session.game.act, body.action)
        game = session.game
        return {"playing": game.playing, "iteration": game.iteration, "actions": game.actions}

    @api.delete("/api/gan/{key}")
    async def end_game(key: str, viewer: Viewer = None):
        """The page `viewer` leaves the game: it ends unless another page watches it."""
        others = sessions.leave(key, viewer)
        return {"ended": key if others == 0 else None, "watchers": others}

    @api.get("/api/gan/{key}/stream")
    async def stream(
        request: Request, key: str, frames: Annotated[int | None, Query(ge=1, le=100_000)] = None, viewer: Viewer = None
    ):
        """Frames at a steady rate: each tick trains `speed` iterations (while playing, at most
        `frame_work_s` of work) and draws a frame. A game nobody listens to is dropped after
        `session_idle_s` (a page that reloads or comes Back within that time finds it again).
        A game that ends while the page listens gets one last event {"ended": why}."""
        closing = request.app.state.closing  # set when the server stops: the stream ends at once
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
                while (frames is None or sent < frames) and not closing.is_set():
                    if session.closed:
                        yield sse(
                            {"ended": "this game was ended (by a script, or it idled out); press Start for a new one"}
                        )
                        break
                    game = session.game
                    if session.driver is None:
                        session.driver = me  # one game, one pace, however many pages watch it
                    if game.playing and session.driver is me:
                        await asyncio.to_thread(game.train, game.settings.speed, limits.frame_work_s)
                    frame = await asyncio.to_thread(game.frame, seen)
                    seen = frame["logged"]
                    yield sse(frame)
                    sent += 1
                    session.last_seen = time.monotonic()
                    tick += limits.frame_interval_s
                    with contextlib.suppress(asyncio.TimeoutError):  # the next tick, or the server stopping
                        await asyncio.wait_for(closing.wait(), max(0.0, tick - asyncio.get_running_loop().time()))
            finally:
                release()
                if session.driver is me:
                    session.driver = None

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
            background=BackgroundTask(release),
        )

    return api
