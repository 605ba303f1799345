"""Test helpers: write TorchScript-like and torch.save zip archives without running any TorchScript,
with zero-stride tensors (one stored number each) so full-size networks cost a few kilobytes."""

import collections
import copyreg
import io
import pickle
import sys
import types
import zipfile

import torch


class _Storage:
    def __init__(self, key: str, value: float):
        self.key, self.value = key, value


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        return ("storage", torch.FloatStorage, obj.key, "cpu", 1) if isinstance(obj, _Storage) else None

    def reducer_override(self, obj):
        if isinstance(obj, _Constant):
            args = (obj.storage, 0, obj.shape, (0,) * len(obj.shape), False, collections.OrderedDict())
            return torch._utils._rebuild_tensor_v2, args
        return NotImplemented


class _Constant:
    """A tensor of `shape` filled with one value, stored as one float."""

    def __init__(self, storage: _Storage, shape):
        self.storage, self.shape = storage, tuple(shape)


def script_class(module: str, name: str) -> type:
    """A class that pickles as the global `module.name` (e.g. `__torch__.inceptionv3 Conv2dLayer`)."""
    parts = module.split(".")
    for i in range(1, len(parts)):  # the parent packages, so that pickle can import the name
        sys.modules.setdefault(".".join(parts[:i]), types.ModuleType(".".join(parts[:i])))
    mod = sys.modules.setdefault(module, types.ModuleType(module))
    cls = getattr(mod, name, None)
    if cls is None:
        cls = type(name, (), {"__reduce_ex__": lambda self, proto: (copyreg.__newobj__, (type(self),), self.__dict__)})
        cls.__module__, cls.__qualname__ = module, name
        setattr(mod, name, cls)
    return cls


def build_tree(shapes: dict[str, tuple], value=lambda i: 0.01 * (i % 7 + 1)):
    """Nested module objects from dotted names -> shapes; returns (root, storages)."""
    node_class = script_class("__torch__.inceptionv3", "Conv2dLayer")
    root, storages = node_class(), []
    for i, (name, shape) in enumerate(shapes.items()):
        *path, leaf = name.split(".")
        node = root
        for part in path:
            if not hasattr(node, part):
                setattr(node, part, node_class())
            node = getattr(node, part)
        storages.append(_Storage(str(i), value(i)))
        setattr(node, leaf, _Constant(storages[-1], shape))
    return root, storages


def write_archive(obj, storages, prefix: str = "archive") -> bytes:
    """A zip archive: PREFIX/data.pkl (the pickle of obj) and PREFIX/data/KEY (each storage)."""
    pkl = io.BytesIO()
    _Pickler(pkl, protocol=2).dump(obj)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(f"{prefix}/data.pkl", pkl.getvalue())
        for s in storages:
            zf.writestr(f"{prefix}/data/{s.key}", torch.tensor([s.value], dtype=torch.float32).numpy().tobytes())
        zf.writestr(f"{prefix}/version", "3\n")
    return out.getvalue()
