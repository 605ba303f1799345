"""The GAN game of the web page: a 2-D GAN trained step by step on the server, drawn as frames.

The picture follows Karpathy's in-browser GAN demo and GAN Lab (Kahng et al. 2019, "GAN Lab:
Understanding Complex Deep Generative Models using Interactive Visual Experimentation"): real
points, generated points, the discriminator's verdict over the plane as a heat map, and arrows of
G's gradient on a subset of generated points, the direction G's loss would move each point
(−∂L_G/∂x: where D "pulls" them). Training is genlab's own GAN (models/gan/model.py: Goodfellow et al.
2014's alternating D and G steps with any of its losses); the heat map is models/gan/pictures.discriminator_heat.

Data: a toy set's training split, or points the user drew: every click becomes a small Gaussian blob
(std DRAWN_STD) so a mode sits under each click and mode coverage can be counted as on toy:gmm8.
Deviations from `genlab train gan`: no EMA generator (the page shows the live G that D plays
against), and the learning rates and batch come from the page.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass

import torch

from genlab.core.errors import GenlabError
from genlab.data import load_dataset, toy_modes
from genlab.models.gan import GAN, LOSSES, MODE_SAMPLES, GANConfig, generator_loss
from genlab.models.gan.modes import mode_coverage
from genlab.models.gan.pictures import discriminator_heat, plane_bounds

HEAT_N = 32  # D is evaluated on HEAT_N² points of the plane per frame
SHOWN = 400  # real and generated points drawn per frame
ARROWS = 48  # generated points that carry a gradient arrow
DRAWN_EXTENT = 3.0  # drawn points live in [-3, 3]²
DRAWN_STD = 0.06
DRAWN_ITEMS = 4000
PENDING_LOSSES = 5000  # loss entries kept for the pages' next frames (older ones are dropped)
ACTIONS = ("play", "pause", "step_d", "step_g", "reset")


@dataclass(frozen=True)
class GameSettings:
    dataset: str = "gmm8"  # a toy name, or "drawn" with `points`
    loss: str = "non-saturating"
    layers: int = 2
    width: int = 64
    d_steps: int = 1
    lr_d: float = 1e-3
    lr_g: float = 1e-3
    batch: int = 256
    speed: int = 5  # training iterations per frame while playing
    seed: int = 0
    points: tuple[tuple[float, float], ...] = ()

    def check(self, max_points: int) -> None:
        from genlab.data.builtin.toy import TOY_NAMES

        if self.dataset not in (*TOY_NAMES, "drawn"):
            raise GenlabError(f"dataset must be one of {', '.join(TOY_NAMES)} or drawn, not {self.dataset!r}")
        if self.loss not in LOSSES:
            raise GenlabError(f"loss must be one of {', '.join(LOSSES)}, not {self.loss!r}")
        if not all(math.isfinite(v) for v in (self.lr_d, self.lr_g, *(c for p in self.points for c in p))):
            raise GenlabError("the learning rates and drawn points must be finite numbers (no NaN or infinity)")
        if self.dataset == "drawn":
            if not 1 <= len(self.points) <= max_points:
                raise GenlabError(f"draw between 1 and {max_points} points (got {len(self.points)})")
            if any(abs(c) > DRAWN_EXTENT for p in self.points for c in p):
                raise GenlabError(f"drawn points must lie in [-{DRAWN_EXTENT:g}, {DRAWN_EXTENT:g}]²")


def _drawn_data(centres: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each clicked centre (M, 2) -> a Gaussian blob; DRAWN_ITEMS points (N, 2) in all."""
    which = torch.randint(len(centres), (DRAWN_ITEMS,), generator=generator)
    return centres[which] + DRAWN_STD * torch.randn(DRAWN_ITEMS, 2, generator=generator)


class GanGame:
    """One player's game. Every method may be called from any thread; a lock serialises them."""

    def __init__(self, settings: GameSettings):
        self.settings = settings
        self.lock = threading.Lock()
        g = torch.Generator().manual_seed(settings.seed)
        if settings.dataset == "drawn":
            centres = torch.tensor(settings.points, dtype=torch.float32)  # (M, 2)
            self.data = _drawn_data(centres, g)
            self.modes = (centres, DRAWN_STD)
            e = DRAWN_EXTENT
            self.bounds = (-e, e, -e, e)
        else:
            self.data = load_dataset(f"toy:{settings.dataset}").train.float()
            self.modes = toy_modes(settings.dataset)
            self.bounds = plane_bounds(self.data)
        self.real_shown = self.data[torch.randperm(len(self.data), generator=g)[:SHOWN]]
        self.pending: deque[list[float]] = deque(maxlen=PENDING_LOSSES)
        self.logged = 0  # loss entries ever logged: each page's stream keeps its own place in them
        self.playing = False
        self.actions = 0  # controls applied so far: a page trusts a frame's `playing` only once it has its own
        self._build()

    def _build(self) -> None:
        s = self.settings
        with torch.random.fork_rng():  # seeded weights, without touching the server's global generator
            torch.manual_seed(s.seed)
            self.model = GAN(
                GANConfig(
                    loss=s.loss,
                    layers=s.layers,
                    width=s.width,
                    d_steps=s.d_steps,
                    lr_d=s.lr_d,
                    lr_g=s.lr_g,
                    latent=2,
                    ema=0.0,
                ),
                (2,),
            )
        self.optimizers = self.model.configure_optimizers(s.lr_d)
        self.batches = torch.Generator().manual_seed(s.seed + 1)
        self.z_shown = self.model.prior(SHOWN, torch.Generator().manual_seed(s.seed + 2))
        self.iteration = self.d_updates = self.g_updates = 0
        self.last = {"d_loss": float("nan"), "g_loss": float("nan")}
        self.work = (0, 0)  # (iterations asked, iterations done) by the latest train() call

    # --- moves --------------------------------------------------------------------------------------
    def _batch(self) -> torch.Tensor:
        return self.data[torch.randint(len(self.data), (self.settings.batch,), generator=self.batches)]

    def _g_gradient(self) -> float:
        """The size (L2 norm over all of G's parameters) of the gradient of G's last step: under the
        minimax loss it vanishes while D wins, under the non-saturating loss it does not."""
        grads = [p.grad.pow(2).sum() for p in self.model.generator.parameters() if p.grad is not None]
        return float(torch.stack(grads).sum().sqrt()) if grads else float("nan")

    def _log(self, figures: dict, g_gradient: float = float("nan")) -> None:
        """One loss entry [iteration, D loss, G loss, |grad G|] (the last known loss of a network
        that did not move; no gradient size after a D step)."""
        self.last.update({k: float(figures[k]) for k in ("d_loss", "g_loss") if k in figures})
        self.pending.append([self.iteration, self.last["d_loss"], self.last["g_loss"], g_gradient])
        self.logged += 1

    def train(self, iterations: int, seconds: float | None = None) -> int:
        """Full iterations of the game (d_steps D steps, then one G step), stopping early once
        `seconds` have passed (at least one iteration runs); returns how many ran."""
        started = time.perf_counter()
        with self.lock:
            self.model.train()
            done = 0
            while done < iterations:
                figures = self.model.train_step(self._batch(), self.optimizers)
                self.iteration += 1
                self.d_updates += self.model.d_steps
                self.g_updates += 1
                done += 1
                self._log(figures, self._g_gradient())
                if _finite(self.last["d_loss"]) is None or _finite(self.last["g_loss"]) is None:
                    self.playing = False  # diverged: the page shows the last frame and a Reset brings it back
                    break
                if seconds is not None and time.perf_counter() - started > seconds:
                    break
            self.work = (iterations, done)
            return done

    def act(self, action: str) -> None:
        if action not in ACTIONS:
            raise GenlabError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
        with self.lock:
            self.actions += 1
            if action in ("play", "pause"):
                self.playing = action == "play"
                return
            self.playing = False
            if action == "reset":
                self._build()
                self.pending.clear()
                return
            self.model.train()
            if action == "step_d":  # half a move: the iteration is counted when G answers
                figures, _ = self.model.d_step(self._batch(), self.optimizers["discriminator"])
                self.d_updates += 1
                self._log(figures)
            else:
                fake = self.model.generator(self.model.prior(self.settings.batch))
                figures = self.model.g_step(fake, self.optimizers["generator"])
                self.g_updates += 1
                self.iteration += 1
                self._log(figures, self._g_gradient())

    # --- pictures -----------------------------------------------------------------------------------
    def _arrows(self, fake: torch.Tensor) -> torch.Tensor:
        """−∂L_G/∂x at the first ARROWS generated points: (ARROWS, 4) rows x, y, dx, dy."""
        x = fake[:ARROWS].detach().clone().requires_grad_(True)
        with torch.enable_grad():
            loss = generator_loss(self.settings.loss, self.model.discriminator(x))
            (grad,) = torch.autograd.grad(loss, x)
        return torch.cat([x.detach(), -grad * len(x)], 1)  # per-point gradient (the loss is a batch mean)

    def frame(self, since: int = 0) -> dict:
        """What the page draws now, with the loss entries logged after the first `since` (the
        frame's "logged" is where that page's next frame starts)."""
        with self.lock:
            model = self.model
            fake = model.generate(self.z_shown, net=model.generator)  # (SHOWN, 2)
            heat, label = discriminator_heat(model, self.bounds, HEAT_N)  # (HEAT_N, HEAT_N), top row first
            arrows = self._arrows(fake)
            coverage = None
            if self.modes is not None:
                g = torch.Generator().manual_seed(self.settings.seed + 3)
                samples = model.generate(model.prior(MODE_SAMPLES, g), net=model.generator)
                coverage = mode_coverage(samples, *self.modes)
            fresh = min(len(self.pending), max(0, self.logged - since))
            losses = list(self.pending)[len(self.pending) - fresh :]
            x0, x1, y0, y1 = self.bounds
            outside = int(((fake[:, 0] < x0) | (fake[:, 0] > x1) | (fake[:, 1] < y0) | (fake[:, 1] > y1)).sum())
            return {
                "iteration": self.iteration,
                "d_updates": self.d_updates,
                "g_updates": self.g_updates,
                "playing": self.playing,
                "actions": self.actions,
                "fake": _rounded(fake),
                "arrows": _rounded(arrows),
                "heat": _rounded(torch.from_numpy(heat).view(1, -1))[0],
                "heat_n": HEAT_N,
                "heat_label": label,
                "losses": [[i, *map(_finite, rest)] for i, *rest in losses],
                "coverage": coverage,
                "outside": outside,
                "work": list(self.work),
                "logged": self.logged,
            }

    def intro(self) -> dict:
        """What the page needs once: the plane, the real points and the modes (if known)."""
        return {
            "bounds": list(self.bounds),
            "real": _rounded(self.real_shown),
            "modes": _rounded(self.modes[0]) if self.modes is not None else None,
            "settings": {k: v for k, v in self.settings.__dict__.items() if k != "points"},
        }


def _rounded(t: torch.Tensor) -> list[list[float]]:
    """Rows of numbers for JSON, which has no nan or inf: a diverged game still draws (at the edges)."""
    t = torch.nan_to_num(t.detach().float(), nan=0.0, posinf=1e6, neginf=-1e6)
    return [[round(v, 4) for v in row] for row in t.tolist()]


def _finite(v: float) -> float | None:
    return v if v == v and abs(v) != float("inf") else None
