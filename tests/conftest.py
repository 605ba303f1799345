"""Fixtures several test files share."""

import contextlib
import os

import pytest

# the helper modules' asserts explain themselves as a test's do
pytest.register_assert_rewrite("browserhelp", "clihelp", "fetchhelp", "servehelp")


@pytest.fixture(scope="session")
def lecture_dir(tmp_path_factory):
    """Every lecture section, run once at a tenth of its quick budget, in this process, into one folder
    (lecture.json, lecture.html, pictures/, runs/); the section tests read what it wrote. A developer
    may restrict it to some sections with GENLAB_TEST_LECTURE_ONLY=KEY[,KEY] while working on them."""
    from genlab.metrics import features
    from genlab.report import lecture
    from genlab.report.lecture import base

    root = tmp_path_factory.mktemp("lecture")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENLAB_CACHE", str(root / "cache"))
        mp.setattr(features, "STEPS", 40)  # the classifiers the sections score with: a few steps here
        mp.setattr(base.Lab, "budget", lambda self, quick, full: max(quick // 10, 1))
        lecture.lecture(
            root / "lec",
            quick=True,
            only=os.environ.get("GENLAB_TEST_LECTURE_ONLY"),
            device="cpu",
            say=lambda _: None,
            jobs=1,
        )
    return root / "lec"


@contextlib.contextmanager
def figures_unrendered():
    """Figures are made (a family's picture code runs in full) but not laid out or rendered: that is
    seconds of matplotlib per picture, and it touches no random state."""
    import matplotlib.figure

    from genlab import viz

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(viz, "plot_metrics", lambda *_: None)
        mp.setattr(matplotlib.figure.Figure, "tight_layout", lambda *_, **__: None)
        mp.setattr(viz, "_save_figure", lambda fig, path: viz._pyplot().close(fig))
        yield


class TinyRuns:
    """Every family trained once on its tiny configuration (tests/tinyfamilies.py), on first ask:
    `tiny_runs["gan"]` is the Trainer of a finished STEPS-step run in its own folder."""

    STEPS = 4

    def __init__(self, root):
        self.root = root
        self._done = {}

    def train(self, family: str, out, steps: int):
        from genlab import train
        from genlab.core.config import DataConfig, TrainConfig
        from tinyfamilies import TINY

        if family not in TINY:
            pytest.fail(f"family {family!r} is registered but has no tiny configuration in tests/tinyfamilies.py")
        tiny = TINY[family]
        cfg = TrainConfig(steps=steps, batch_size=tiny.batch_size, lr=3e-3, seed=0, device="cpu", log_every=1)
        with figures_unrendered():
            return train.start(family, tiny.options, DataConfig(tiny.data, **tiny.data_options), cfg, out, quiet=True)

    def resume(self, out, steps: int):
        from genlab import train

        with figures_unrendered():
            return train.resume(out, {"steps": steps}, quiet=True)

    def __getitem__(self, family: str):
        if family not in self._done:
            self._done[family] = self.train(family, self.root / family, self.STEPS)
        return self._done[family]


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory):
    return TinyRuns(tmp_path_factory.mktemp("tiny_runs"))
