"""What the API's routers share: the served state, the request body base, and small helpers."""

from __future__ import annotations

import json
from dataclasses import dataclass

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from genlab.core.errors import GenlabError
from genlab.serve.catalog import RunCatalog, view_words
from genlab.serve.jobs import JobSlots
from genlab.serve.limits import Limits
from genlab.serve.sessions import Sessions

EXAMPLES = 12


@dataclass(frozen=True)
class Served:
    """One app's runs, games, job slots and limits, handed to every router."""

    catalog: RunCatalog
    sessions: Sessions
    jobs: JobSlots
    limits: Limits


class Body(BaseModel):
    """Every request body refuses NaN and infinities (JSON from Python's encoder may carry them)."""

    model_config = ConfigDict(allow_inf_nan=False)


LABEL = Field(
    None,
    ge=0,
    le=9999,
    description="a class-conditional run's class to draw (default: item i gets class i mod classes)",
)


def asked_class(model, label: int | None, n: int) -> dict:
    """{"labels": label} for a class-conditional model asked for a class (checked: a one-line error for
    a class it does not have, or for a run that takes none); {} when no class was asked for."""
    if label is None:
        return {}
    model.check_labels(label, n)
    return {"labels": label}


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def bounded(name: str, value: int, most: int) -> int:
    if value > most:
        raise GenlabError(f"{name} must be at most {most} (got {value})")
    return value


def sse(event: dict) -> str:
    return f"data: {json.dumps(event, allow_nan=False)}\n\n"


def run_of(served: Served, name: str, *families: str) -> dict:
    """The run's description, checked to be trained and (if given) of one of these families."""
    folder = served.catalog.folder(name)
    info = served.catalog.describe(name, folder)
    if families and info["family"] not in families:
        raise GenlabError(
            f"run {name!r} is a {info['model']} run on {info['data']}; this needs a "
            f"{' or '.join(view_words(f) for f in families)}"
        )
    if not info["trained"]:
        raise GenlabError(f"run {name!r} has no weights yet; let its training save a checkpoint")
    return info
