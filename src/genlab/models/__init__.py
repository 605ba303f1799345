"""genlab's models; importing this package registers each in `base.REGISTRY`."""
from genlab.models import vae  # noqa: F401
from genlab.models.base import REGISTRY, GenerativeModel, model_class, register

__all__ = ["REGISTRY", "GenerativeModel", "model_class", "register"]
