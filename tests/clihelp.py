"""Shared by the CLI tests: run `genlab` in-process and expect a one-line exit-2 error."""

from genlab.cli import main


def cli_error(capsys, argv) -> str:
    """Run the CLI with argv; assert exit code 2 and exactly one `genlab: error:` line; return it."""
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genlab: error: "), err
    return lines[0]


def train_conditional_tones(run, sample_rate: int) -> None:
    """A tiny class-conditional WaveNet on the built-in tones (three classes), one epoch."""
    assert (
        main(
            [
                "train",
                "wavenet",
                "--data",
                "tones",
                "--sample-rate",
                str(sample_rate),
                "--conditional",
                "--layers",
                "3",
                "--stacks",
                "1",
                "--residual-channels",
                "6",
                "--gate-channels",
                "6",
                "--skip-channels",
                "8",
                "--window",
                "500",
                "--epochs",
                "1",
                "--out",
                str(run),
                "--quiet",
            ]
        )
        == 0
    )
