"""Start the page: check the flags, bind the socket ourselves (so a busy port is a one-line error),
warn when the page is exposed beyond this machine, and hand the socket to uvicorn."""

from __future__ import annotations

import asyncio
import shlex
import socket
import sys
from pathlib import Path

from genlab.core import threads as thread_policy
from genlab.core.errors import GenlabError
from genlab.serve.limits import Limits

LOOPBACK = ("127.0.0.1", "localhost", "::1")
GRACE_SECONDS = 2  # how long Ctrl-C lets open requests finish before they are cancelled


def bind(host: str, port: int) -> socket.socket:
    if not 0 <= port <= 65535:
        raise GenlabError(f"--port must be between 0 and 65535, not {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise GenlabError(f"--host {host} is not an address this machine can bind ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise GenlabError(
            f"cannot listen on {host}:{port} ({exc.strerror}); is another server using it? pick another --port"
        ) from None
    sock.listen(128)
    return sock


def serve(
    runs_dir: str | None, host: str, port: int, allow_remote: bool, say=print, threads: int | None = None
) -> None:
    import torch
    import uvicorn

    from genlab.serve.app import create_app

    QuietServer = _quiet_server_class()

    if runs_dir is not None and not Path(runs_dir).is_dir():
        raise GenlabError(f"--runs {runs_dir} is not a folder; give the folder your runs are in (e.g. runs/)")
    if host not in LOOPBACK and not allow_remote:
        raise GenlabError(
            f"--host {host} would let other machines reach the page (it can train models and read "
            f"the runs); add --allow-remote if that is what you want"
        )
    limits = Limits()
    # the page runs up to `jobs` model jobs and `gan_sessions` games at once, each a small step at a time
    thread_policy.apply(threads, processes=limits.jobs + limits.gan_sessions)
    sock = bind(host, port)
    app = create_app(
        runs_dir,
        limits,
        allowed_hosts=None if host not in LOOPBACK else ["127.0.0.1", "localhost", "[::1]", "::1"],
        restart=restart_command(runs_dir, host, sock.getsockname()[1], allow_remote),
    )
    found = len(app.state.catalog.scan())
    if host not in LOOPBACK:
        print(
            f"genlab: warning: serving on {host}: anyone who can reach this machine on port "
            f"{sock.getsockname()[1]} can use the page and see the runs; there is no login",
            file=sys.stderr,
        )
    shown = f"[{host}]" if ":" in host else host
    say(
        f"genlab serve: http://{shown}:{sock.getsockname()[1]}/  ({found} run(s) under {runs_dir or '(no --runs)'}); "
        f"torch threads {torch.get_num_threads()}; Ctrl-C stops it",
        flush=True,
    )
    server = QuietServer(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=GRACE_SECONDS))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn hands Ctrl-C on once it has shut down
        pass
    say("genlab serve: stopped", flush=True)


def restart_command(runs_dir: str | None, host: str, port: int, allow_remote: bool) -> str:
    """The command line that starts this server again on the same address (the page names it once
    the server has stopped, so the page's own URL works again)."""
    words = ["genlab", "serve", *(["--runs", str(runs_dir)] if runs_dir is not None else []), "--port", str(port)]
    if host != "127.0.0.1":
        words += ["--host", host, *(["--allow-remote"] if allow_remote else [])]
    return shlex.join(words)


def _quiet_server_class():
    import uvicorn

    class QuietServer(uvicorn.Server):
        """Ctrl-C ends the page's open streams at once (they watch `app.state.closing`), so the
        server stops without waiting out the grace period and cancelling them mid-frame."""

        def handle_exit(self, sig, frame) -> None:
            closing = getattr(getattr(self.config.app, "state", None), "closing", None)
            if closing is not None:
                try:
                    asyncio.get_running_loop().call_soon_threadsafe(closing.set)  # wakes the loop from a signal
                except RuntimeError:  # no loop running here
                    closing.set()
            super().handle_exit(sig, frame)

    return QuietServer
