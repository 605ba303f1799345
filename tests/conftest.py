"""Fixtures several test files share."""
import os

import pytest


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
        lecture.lecture(root / "lec", quick=True, only=os.environ.get("GENLAB_TEST_LECTURE_ONLY"), device="cpu",
                        say=lambda _: None, jobs=1)
    return root / "lec"
