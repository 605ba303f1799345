"""`genlab data SPEC`: what a data spec holds, as text and pictures."""

from __future__ import annotations

import argparse

from genlab import viz
from genlab.cli.args import say


def cmd_data(ns: argparse.Namespace) -> None:
    from genlab.data import Palette, describe_dataset, load_dataset
    from genlab.data.formats.pack import describe_pack, is_pack
    from genlab.data.formats.pack_writer import pack_spec

    if ns.pack:  # an image folder is read a chunk at a time
        ns.spec = str(
            pack_spec(
                ns.spec,
                ns.pack,
                {2, ns.colors or 2},
                getattr(ns, "image_size", None),
                getattr(ns, "channels", None),
                ns.seed,
            )
        )
    if is_pack(ns.spec) and not ns.out:
        return say(describe_pack(ns.spec))  # from its manifest: a pack may not fit in memory
    if ns.out:
        viz.check_output_path(ns.out)
    data = load_dataset(
        ns.spec,
        image_size=getattr(ns, "image_size", None),
        channels=getattr(ns, "channels", None),
        sample_rate=getattr(ns, "sample_rate", None),
    )
    palette = Palette.fit(data.train, ns.colors, seed=ns.seed) if ns.colors and data.kind == "image" else None
    say(describe_dataset(data, palette))
    if ns.out:
        shown = data.train[:64]
        if palette is not None:
            shown = palette.decode(palette.encode(shown))
        if data.kind == "points":
            viz.save_points_plot(data.train, ns.out, title=ns.spec)
        else:  # images, or sound (a .wav, .png spectrograms, .npz or a folder)
            viz.save_output(shown, ns.out, sample_rate=data.item_shape[0] if data.kind == "audio" else None)
        say(f"wrote {ns.out}")
