"""`genlab demo`: compare on mnist5k with every image family, built aside and moved in only when
complete, so a failed or killed demo never costs the previous one."""

import json

import pytest

from clihelp import cli_error
from genlab.cli import evaluate as commands
from genlab.cli import main
from genlab.core.errors import GenlabError
from genlab.report import compare as compare_module


def fake_compare(calls, fail=False):
    def compare(out, data_cfg, families, **options):
        calls.append((data_cfg.data, list(families), options))
        (out / "pictures").mkdir(parents=True)
        (out / "report.html").write_text("new report")
        (out / "pictures" / "a.png").write_bytes(b"new")
        if fail:
            raise GenlabError("training failed halfway")
        (out / "metrics.json").write_text(json.dumps({"models": {}}))
        return {}

    return compare


def old_demo(out):
    (out / "runs" / "vae").mkdir(parents=True)
    (out / "runs" / "vae" / "config.json").write_text("old run")
    (out / "report.html").write_text("old report")


def test_demo_compares_every_family_on_mnist5k_and_replaces_the_previous_demo(tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(compare_module, "compare", fake_compare(calls))
    out = tmp_path / "demo"
    old_demo(out)
    assert main(["demo", "--out", str(out), "--minutes", "0.25", "--n", "200", "--jobs", "3", "--quiet"]) == 0
    assert calls[0][:2] == ("mnist5k", ["pixelrnn", "vae", "gan", "gmm"])
    budgets = calls[0][2]["minutes"]  # split where minutes buy quality, for families side by side
    assert budgets == pytest.approx({"pixelrnn": 0.625, "vae": 0.125, "gan": 0.5, "gmm": 0.125})
    # on two cores, longest first: PixelRNN on one; the GAN, then the VAE on the other: the wall time is
    # PixelRNN's (plus the mixture's seconds), and every family has at least its one-core share
    assert budgets["pixelrnn"] == budgets["gan"] + budgets["vae"]
    assert all(budgets[f] >= m * 0.25 for f, m in {"pixelrnn": 1.5, "vae": 0.5, "gan": 1.5, "gmm": 0.5}.items())
    assert calls[0][2]["n"] == 200 and calls[0][2]["jobs"] == 3  # families side by side, as `compare --jobs`
    assert (out / "report.html").read_text() == "new report" and (out / "metrics.json").is_file()
    assert not (out / "runs").exists(), "the previous demo's runs belong to its report and go with it"
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "pictures", "report.html"]  # nothing hidden left
    assert str(out / "report.html") in capsys.readouterr().out


def test_a_demo_on_one_core_keeps_four_minutes_of_training_in_all(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(compare_module, "compare", fake_compare(calls))
    assert main(["demo", "--out", str(tmp_path / "demo"), "--jobs", "1", "--quiet"]) == 0
    budgets = calls[0][2]["minutes"]
    assert sum(budgets.values()) == pytest.approx(4.0) and budgets["pixelrnn"] == budgets["gan"] > budgets["vae"] > 0


def test_a_failed_demo_leaves_the_previous_one_untouched(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(compare_module, "compare", fake_compare([], fail=True))
    out = tmp_path / "demo"
    old_demo(out)
    assert "training failed halfway" in cli_error(capsys, ["demo", "--out", out, "--quiet"])
    assert (out / "report.html").read_text() == "old report"
    assert (out / "runs" / "vae" / "config.json").read_text() == "old run"
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "runs"]


def test_a_demo_killed_while_moving_its_report_in_is_repaired_next_time(tmp_path):
    out = tmp_path / "demo"
    old_demo(out)
    (out / ".demo-20260101-000000" / "runs").mkdir(parents=True)  # killed while training
    replaced = out / ".replaced-20260101-000000"  # killed after moving the old report aside
    replaced.mkdir()
    (out / "report.html").rename(replaced / "report.html")
    commands.recover_demo(out)
    assert (out / "report.html").read_text() == "old report"
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "runs"]


@pytest.mark.parametrize(
    "argv,message",
    [(["--minutes", "0"], "--minutes must be above 0"), (["--n", "-3"], "--n"), (["--jobs", "0"], "--jobs")],
)
def test_bad_demo_options(tmp_path, capsys, argv, message):
    assert message in cli_error(capsys, ["demo", "--out", tmp_path / "d", *argv])
    assert not (tmp_path / "d").exists()


def test_the_report_names_each_familys_budget_when_they_differ():
    from genlab.report.words import budget_words

    assert budget_words({"vae": 1.0, "gan": 1.0}) == "each family trained for 1 minute(s)"
    assert budget_words(0.5) == "each family trained for 0.5 minute(s)"  # metrics.json of earlier reports
    assert budget_words({"pixelrnn": 1.5, "gmm": 0.5}) == "trained for pixelrnn 1.5, gmm 0.5 minute(s)"
    assert budget_words(None) == ""
