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
