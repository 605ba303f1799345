"""`genlab compare --jobs N`: families trained and evaluated side by side, one child process each
(report/families.py on core/jobs.py). The same trained weights as one after another, whole prefixed
log lines, a failing family named in the report while the others finish, and Ctrl-C that ends every
child and leaves no half-written run."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from safetensors.torch import load_file

from clihelp import cli_error
from genlab.cli import main
from genlab.metrics import features

TINY = ["--data", "digits", "--models", "vae,gan", "--steps", "20", "--n", "0", "--limit", "20", "--iwae-k", "2"]
TRAINING = ("epochs", "steps", "wall_seconds", "cpu_seconds")


@pytest.fixture(scope="module")
def one_and_two(tmp_path_factory):
    """The same tiny compare with --jobs 1 (in this process) and --jobs 2 (children), and the lines
    the second printed."""
    root = tmp_path_factory.mktemp("jobs")
    lines = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENLAB_CACHE", str(root / "cache"))
        assert main(["compare", *TINY, "--jobs", "1", "--out", str(root / "one"), "--quiet"]) == 0
        mp.setattr("genlab.cli.args.say", lines.append)
        mp.setattr("genlab.cli.evaluate.say", lines.append)
        assert main(["compare", *TINY, "--jobs", "2", "--out", str(root / "two")]) == 0
    return root / "one", root / "two", lines


def test_two_jobs_train_the_same_weights_as_one_after_another(one_and_two):
    one, two, _ = one_and_two
    for family in ("vae", "gan"):
        a, b = (
            load_file(one / "runs" / family / "model.safetensors"),
            load_file(two / "runs" / family / "model.safetensors"),
        )
        assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a), family
    m1, m2 = (json.loads((d / "metrics.json").read_text()) for d in (one, two))
    assert m1["jobs"] == 1 and m2["jobs"] == 2 and m2["budget_steps"] == 20 and m2["budget_minutes"] is None
    for family in ("vae", "gan"):  # evaluated in a child: the same figures, the same pictures
        strip = lambda figures: {k: v for k, v in figures.items() if k != "training"}  # noqa: E731
        assert strip(m1["models"][family]) == strip(m2["models"][family])
        assert (one / "pictures" / f"{family}_samples.png").read_bytes() == (
            two / "pictures" / f"{family}_samples.png"
        ).read_bytes()
    assert sorted(p.name for p in two.iterdir()) == [
        "metrics.json",
        "pictures",
        "report.html",
        "runs",
    ]  # no pieces left
    assert sorted(p.name for p in (two / "runs").iterdir()) == ["gan", "vae"]  # no staging left


def test_each_familys_steps_wall_and_cpu_seconds_are_recorded_and_shown(one_and_two):
    for report in one_and_two[:2]:
        m = json.loads((report / "metrics.json").read_text())
        html = (report / "report.html").read_text()
        for family, figures in m["models"].items():
            t = figures["training"]
            assert t["steps"] == 20 and t["wall_seconds"] > 0 and 0 < t["cpu_seconds"]
            assert t["evaluation"]["wall_seconds"] > 0
            assert (
                json.loads((report / "runs" / family / "compare.json").read_text())["cpu_seconds"] == t["cpu_seconds"]
            )
            for key in TRAINING:  # one cell each, side by side in the table
                assert re.search(rf'<td data-model="{family}" data-key="training/{key}">[0-9.]+</td>', html), key
        assert "CPU s" in html and "wall s" in html


def test_the_log_of_two_jobs_holds_whole_prefixed_lines(one_and_two):
    lines = one_and_two[2]
    children = [line for line in lines if line.startswith("[")]
    for line in children:
        assert re.fullmatch(r"\[(vae|gan)\] \S.*", line) and line.count("[vae]") + line.count("[gan]") == 1, line
    for family in ("vae", "gan"):
        assert f"[{family}] trained {family}: 20 steps" in "\n".join(children)
        assert re.search(rf"^\[{family}\] evaluating {family} \(0 samples", "\n".join(children), re.M)
    assert any(line.startswith("training 2 families (40 training steps), 2 at once") for line in lines)


def test_a_failing_family_is_named_in_the_report_and_the_others_finish(tmp_path, monkeypatch, capsys):
    """Five training images: the mixture's 8 Gaussians cannot be fitted, the VAE trains."""
    from sklearn.datasets import load_digits

    for split, images in (("train", load_digits().images[:5]), ("test", load_digits().images[5:25])):
        (tmp_path / "few" / split).mkdir(parents=True)
        for i, x in enumerate(images):
            Image.fromarray((x * 16).clip(0, 255).astype("uint8")).save(tmp_path / "few" / split / f"{i}.png")
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "cmp"
    line = cli_error(
        capsys,
        [
            "compare",
            "--data",
            tmp_path / "few",
            "--models",
            "vae,gmm",
            "--steps",
            "3",
            "--n",
            "0",
            "--iwae-k",
            "2",
            "--jobs",
            "2",
            "--out",
            out,
        ],
    )
    assert "1 of 2 families failed: gmm (training: a mixture of 8 Gaussians needs at least 8" in line
    m = json.loads((out / "metrics.json").read_text())
    assert (
        list(m["models"]) == ["vae"] and m["failed"]["gmm"]["stage"] == "training" and m["failed"]["gmm"]["user_error"]
    )
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["vae"]  # the failed one's staging is gone
    assert (out / "runs" / "vae" / "model.safetensors").is_file()
    html = (out / "report.html").read_text()
    assert '<h2 id="failed">' in html and "<b>gmm</b> failed in training" in html and '<h2 id="vae">' in html


def test_a_bug_in_one_family_exits_1_and_the_others_finish(tmp_path, monkeypatch, capsys):
    from genlab.models import REGISTRY

    def broken(self, *args, **kwargs):
        raise RuntimeError("a bug in the GAN")

    monkeypatch.setattr(REGISTRY["gan"], "train_step", broken)
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "cmp"
    assert (
        main(
            [
                "compare",
                "--data",
                "digits",
                "--models",
                "gan,vae",
                "--steps",
                "3",
                "--n",
                "0",
                "--limit",
                "10",
                "--iwae-k",
                "2",
                "--jobs",
                "1",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "RuntimeError: a bug in the GAN" in err  # its traceback, for the bug report
    assert err.strip().splitlines()[-1].startswith("genlab: error: 1 of 2 families failed: gan (training: RuntimeError")
    m = json.loads((out / "metrics.json").read_text())
    assert list(m["models"]) == ["vae"] and not m["failed"]["gan"]["user_error"]
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["vae"]


def _interruptible() -> None:
    """Ctrl-C as at a terminal, even when pytest itself was started in the background of a script
    (`pytest &`), which ignores SIGINT and hands that on to every process it starts."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the children in /proc")
def test_ctrl_c_ends_every_child_leaves_no_half_written_run_and_a_rerun_works(tmp_path, monkeypatch, capsys):
    from genlab.data import load_dataset

    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(features, "STEPS", 20)
    features.feature_space(load_dataset("digits"))  # the probes' feature network, cached for the children
    out = tmp_path / "cmp"
    parent = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "genlab",
            "compare",
            "--data",
            "digits",
            "--models",
            "vae,gan",
            "--minutes",
            "1",
            "--n",
            "0",
            "--jobs",
            "2",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ.copy(),
        preexec_fn=_interruptible,
    )
    staging = [out / "runs" / f".{name}.new" / "config.json" for name in ("vae", "gan")]
    deadline = time.monotonic() + 120
    while not all(p.is_file() for p in staging) and parent.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(p.is_file() for p in staging), "both families should be training by now"
    children = _children(parent.pid)
    assert len(children) == 2
    parent.send_signal(signal.SIGINT)
    sent = time.monotonic()
    log, _ = parent.communicate(timeout=30)
    assert parent.returncode == 130 and time.monotonic() - sent < 15, log[-2000:]
    assert not any(_alive(pid) for pid in children)
    assert "genlab: interrupted" in log
    runs = out / "runs"
    assert not [p.name for p in runs.iterdir() if p.name.startswith(".")]  # no staging left
    assert all((p / "model.safetensors").is_file() for p in runs.iterdir())  # a final run is a whole run
    argv = [
        "compare",
        *TINY[:4],
        "--steps",
        "3",
        "--n",
        "0",
        "--limit",
        "10",
        "--iwae-k",
        "2",
        "--jobs",
        "1",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(argv) == 0  # the rerun into the same folder
    assert sorted(p.name for p in runs.iterdir()) == ["gan", "vae"]


def test_a_rerun_keeps_the_runs_it_finished_and_refuses_other_settings(one_and_two, capsys):
    one = one_and_two[0]
    weights = (one / "runs" / "vae" / "model.safetensors").read_bytes()
    capsys.readouterr()
    assert main(["compare", *TINY, "--jobs", "1", "--out", str(one), "--quiet"]) == 0
    said = capsys.readouterr().out
    assert f"keeping {one / 'runs' / 'vae'}" in said and f"keeping {one / 'runs' / 'gan'}" in said
    assert "training vae" not in said and (one / "runs" / "vae" / "model.safetensors").read_bytes() == weights
    m = json.loads((one / "metrics.json").read_text())
    assert m["models"]["vae"]["training"]["cpu_seconds"] > 0  # the job's figures, kept with the run
    other = [a if a != "20" else "21" for a in TINY]  # another budget: those runs are not its runs
    assert "already holds files" in cli_error(capsys, ["compare", *other, "--jobs", "1", "--out", one, "--quiet"])


def test_bad_jobs_and_budgets_exit_2(tmp_path, capsys):
    out = tmp_path / "x"
    assert "--jobs" in cli_error(
        capsys, ["compare", "--data", "digits", "--models", "vae", "--jobs", "0", "--out", out]
    )
    assert "--steps is a budget of its own" in cli_error(capsys, ["compare", *TINY, "--minutes", "1", "--out", out])
    assert "--steps" in cli_error(
        capsys, ["compare", "--data", "digits", "--models", "vae", "--steps", "0", "--out", out]
    )
    assert not out.exists()
