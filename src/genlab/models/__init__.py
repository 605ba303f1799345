"""genlab's models. Importing this package imports every module in it, and each module's
`@register` decorator adds its model to `base.REGISTRY` (which feeds `genlab train NAME`)."""
import importlib
import pkgutil

from genlab.models.base import REGISTRY, GenerativeModel, model_class, register

for _info in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_info.name}")

__all__ = ["REGISTRY", "GenerativeModel", "model_class", "register"]
