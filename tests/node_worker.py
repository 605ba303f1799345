"""One training process of the simulated two-node run in test_multinode.py, started by torchrun:
`node_worker.py RUN WEIGHTS_DIR BATCH`. It trains the tiny PixelCNN of test_distributed.py for one
step and saves this rank's weights, last gradients and items seen into WEIGHTS_DIR/rank{RANK}."""

import sys
from pathlib import Path

from test_distributed import DIGITS, PCNN, _cfg, _start

from genlab.train import distributed


def main() -> None:
    run, weights_dir, batch = sys.argv[1:]
    _start(
        distributed.rank(),
        "pixelrnn",
        PCNN,
        DIGITS,
        _cfg(epochs=1, batch_size=int(batch)),
        Path(run),
        Path(weights_dir),
    )


if __name__ == "__main__":
    main()
