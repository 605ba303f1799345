"""The GAN games being played: at most `Limits.gan_sessions` at once, each stopped and dropped as
soon as its pages stop listening (or never started listening within `session_idle_s`).

Several pages may watch one game (a second tab, a projector): each page names itself with a
`viewer` token when it listens, and a page that ends a game ends it only when no other page
watches it (`Sessions.leave`), so one page never ends another page's game."""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from genlab.core.errors import GenlabError
from genlab.serve.gan_game import GameSettings, GanGame
from genlab.serve.limits import Limits


class Busy(GenlabError):
    """Every slot is taken (answered with 429: try again shortly)."""


class UnknownSession(GenlabError):
    """No such game (answered with 404)."""


@dataclass
class Session:
    game: GanGame
    listeners: int = 0
    viewers: Counter = field(default_factory=Counter)  # open streams per page token (anonymous ones are not named)
    driver: object | None = None  # the one stream that trains the game; the others only draw it
    last_seen: float = field(default_factory=time.monotonic)
    closed: bool = False  # ended: its open streams say so and stop

    def others(self, viewer: str | None) -> int:
        """Open streams of pages other than `viewer`."""
        return self.listeners - (self.viewers[viewer] if viewer else 0)


class Sessions:
    def __init__(self, limits: Limits):
        self.limits = limits
        self._items: dict[str, Session] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def sweep(self) -> int:
        """Drop games nobody listens to that have been idle too long; returns how many."""
        now = time.monotonic()
        with self._lock:
            stale = [
                k for k, s in self._items.items() if s.listeners == 0 and now - s.last_seen > self.limits.session_idle_s
            ]
            for key in stale:
                self._close_locked(key)
        return len(stale)

    def create(self, settings: GameSettings) -> tuple[str, GanGame]:
        settings.check(self.limits.max_points)
        self.sweep()
        self._check_room()
        game = GanGame(settings)  # built outside the lock: other requests go on meanwhile
        with self._lock:
            self._check_room()
            key = secrets.token_urlsafe(12)
            self._items[key] = Session(game)
        return key, game

    def _check_room(self) -> None:
        if len(self._items) >= self.limits.gan_sessions:
            raise Busy(f"{self.limits.gan_sessions} GAN games are running already; stop one or try again shortly")

    def get(self, key: str) -> Session:
        with self._lock:
            session = self._items.get(key)
            if session is None:
                raise UnknownSession(f"no GAN game {key!r} (it ended, or the server restarted); start a new one")
            session.last_seen = time.monotonic()
            return session

    def close(self, key: str) -> bool:
        with self._lock:
            return self._close_locked(key)

    def leave(self, key: str, viewer: str | None) -> int:
        """The page `viewer` is done with the game: it ends unless other pages watch it. Returns how
        many other streams watch it (0: it ended)."""
        with self._lock:
            session = self._items.get(key)
            if session is None:
                raise UnknownSession(f"no GAN game {key!r}")
            others = session.others(viewer)
            if others == 0:
                self._close_locked(key)
            return others

    def _close_locked(self, key: str) -> bool:
        session = self._items.pop(key, None)
        if session is not None:
            session.game.playing = False
            session.closed = True
        return session is not None
