"""A config dataclass as command-line flags: one flag per field, its help and default from the field,
so every option of `genlab train` (and the data options of the verbs that load data) is declared once."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from genlab.core.config import field_types


def add_config_flags(parser: argparse.ArgumentParser, cls: type, title: str, defaults: dict | None = None) -> None:
    """One flag per dataclass field; defaults are SUPPRESSed so we can tell what the user typed.
    `defaults` overrides the dataclass defaults shown in the help (a model's train_defaults)."""
    group = parser.add_argument_group(title)
    types = field_types(cls)
    for f in dataclasses.fields(cls):
        if not f.metadata.get("flag", True):
            continue
        flag = "--" + f.name.replace("_", "-")
        meta = f.metadata
        value = (defaults or {}).get(f.name, f.default)
        default = f" (default: {value})" if value is not None else ""
        if types[f.name] is bool:
            group.add_argument(flag, dest=f.name, action="store_true", default=argparse.SUPPRESS, help=meta["help"])
        else:
            group.add_argument(
                flag,
                dest=f.name,
                type=meta.get("parse") or types[f.name],
                choices=meta.get("choices"),
                default=argparse.SUPPRESS,
                help=meta["help"] + default,
                metavar=None if meta.get("choices") else f.name.upper(),
            )


def shown_train_defaults(cls) -> dict[str, Any]:
    """A model's TrainConfig defaults for --help; per data kind where they differ (the GAN's --lr)."""
    kinds = cls.data_kinds or (cls.data_kind,)
    per_kind = [cls.train_defaults_for(kind) for kind in kinds]
    shown: dict[str, Any] = {}
    for key in {k for d in per_kind for k in d}:
        values = [d.get(key) for d in per_kind]
        same = all(v == values[0] for v in values)
        shown[key] = (
            values[0] if same else ", ".join(f"{v} for {k} data" for k, v in zip(kinds, values) if v is not None)
        )
    return shown
