"""The Gaussian-mixture family, the notes' P(x) = Σ_m P(m) P(x|m), fitted by EM.

- `model.py`: the mixture and its EM steps;
- `pictures.py`: the mixture picture (density, data, ellipses) and the component means.
The smallest complete family: docs/architecture.md walks through it. Docs: docs/gmm.md.
"""

from genlab.models.gmm.model import GMM, GMMConfig

__all__ = ["GMM", "GMMConfig"]
