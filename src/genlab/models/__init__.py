"""genlab's models: the interface (`base.py`), what several families share (`shared/`: layers, the
VAE's and AE's networks), and one package per family (`ae/`, `gan/`, `gmm/`, `pixelrnn/`, `vae/`,
`wavenet/`).

Importing this package imports every family, and each family's `@register` decorator adds its model
to `base.REGISTRY` (which feeds `genlab train NAME`)."""

import importlib
import pkgutil

from genlab.core.errors import GenlabError
from genlab.models.base import REGISTRY, Capability, GenerativeModel, register

for _info in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_info.name}")


def model_class(name: str) -> type[GenerativeModel]:
    """The registered model called `name` (every family is registered once this package is imported)."""
    if name not in REGISTRY:
        raise GenlabError(f"unknown model {name!r}; choose one of: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def families_with(capability: Capability) -> list[str]:
    """The names of the registered families that offer `capability`, sorted."""
    return sorted(name for name, cls in REGISTRY.items() if cls.offers(capability))


__all__ = ["REGISTRY", "Capability", "GenerativeModel", "families_with", "model_class", "register"]
