"""Data specs -> uint8 image tensors (N, C, H, W) or 2-D points, with fixed splits; colour palettes.

See docs/data.md for every spec, its split and the files genlab reads.
"""

from genlab.data.dataset import Dataset, describe_dataset
from genlab.data.palette import Palette
from genlab.data.specs import BUILTIN_SPECS, load_dataset
from genlab.data.builtin.toy import toy_modes

__all__ = ["BUILTIN_SPECS", "Dataset", "Palette", "describe_dataset", "load_dataset", "toy_modes"]
