"""The WaveNet family (van den Oord et al. 2016): sound sample by sample, μ-law classes.

- `model.py`: the dilated causal network, μ-law coding, sampling and completion;
- `fast.py`: fast generation, one step per layer and sample from per-layer rings of past inputs.
Its sample-by-sample loop is its own (not PixelRNN's `models/pixelrnn/autoregressive.py`). Docs: docs/wavenet.md.
"""

from genlab.models.wavenet.model import MU, WaveNet, WaveNetConfig, mu_law_decode, mu_law_encode

__all__ = ["MU", "WaveNet", "WaveNetConfig", "mu_law_decode", "mu_law_encode"]
