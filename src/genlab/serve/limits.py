"""The bounds that keep a `genlab serve` process small and responsive, in one place."""

from __future__ import annotations

from dataclasses import dataclass

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_body: int = 6 * MB  # any request body; uploads get their own, smaller limit below
    max_upload: int = 5 * MB  # an uploaded image file
    max_upload_pixels: int = 50_000_000  # an upload's width x height (read from its header, before decoding)
    gan_sessions: int = 4  # GAN games training at the same time
    jobs: int = 2  # sampling / completion / decoding jobs running at the same time
    job_wait_s: float = 10.0  # how long a job waits for a free slot before the answer is 429
    session_idle_s: float = 30.0  # a game whose page stopped listening this long is stopped and freed
    frame_interval_s: float = 0.1  # GAN frames at a steady 10 per second
    frame_work_s: float = 0.06  # training per frame stops after this long, whatever the iterations per frame
    max_completions: int = 8
    max_samples: int = 64
    max_steps: int = 16  # interpolation steps
    max_side: int = 64  # completion and latent pages work on runs with images up to this side
    max_points: int = 4000  # points a user may draw for the GAN game
    max_listeners: int = 8  # pages streaming one game's frames at the same time
