"""Shared by the web tests: tiny runs made with the real CLI, and `genlab serve`'s app on a real
uvicorn server in a thread (loopback, a free port)."""

import contextlib
import threading
import time

import pytest
import uvicorn
from PIL import Image

from genlab.cli import main
from genlab.serve.app import create_app
from genlab.serve.limits import Limits
from genlab.serve.server import bind

TINY = ["--data", "digits", "--epochs", "1", "--device", "cpu", "--quiet"]


def make_runs(root, gan: bool = False, gmm: bool = False):
    """root/pcnn (PixelCNN, 4 colours), root/vae (2-D latent) and, with gan=True, root/gan (DCGAN),
    with gmm=True, root/gmm (a 2-component mixture of images)."""
    assert (
        main(
            [
                "train",
                "pixelrnn",
                "--arch",
                "pixelcnn",
                "--colors",
                "4",
                "--width",
                "4",
                "--layers",
                "1",
                *TINY,
                "--out",
                str(root / "pcnn"),
            ]
        )
        == 0
    )
    assert main(["train", "vae", "--hidden", "8", "--latent", "2", *TINY, "--out", str(root / "vae")]) == 0
    if gan:
        assert main(["train", "gan", "--conv-channels", "4", "--latent", "4", *TINY, "--out", str(root / "gan")]) == 0
    if gmm:
        assert main(["train", "gmm", "--components", "2", *TINY, "--out", str(root / "gmm")]) == 0
    return root


@pytest.fixture(scope="session")
def serve_runs(tmp_path_factory):
    """The web tests' runs, made once per test session (both web test modules import this)."""
    root = make_runs(tmp_path_factory.mktemp("serve") / "runs", gan=True, gmm=True)
    (root.parent / "secret.png").write_bytes(b"outside the runs")
    (root / "vae" / "link.png").symlink_to(root.parent / "secret.png")  # a link out of a run is never served
    Image.new("L", (4, 4), 9).save(root / "vae" / "walk.gif")  # as a 2-D GAN run's training.gif
    return root


@contextlib.contextmanager
def live_server(runs_dir, limits: Limits = Limits()):
    """Yields (base URL, app) while a uvicorn server runs the app in a thread."""
    app = create_app(runs_dir, limits)
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", app
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
