"""bench/quality.py --variant: a spec becomes the model, training and sampling options it names."""

import sys
from pathlib import Path

import pytest

from genlab.core.errors import GenlabError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from quality import Variant


def test_a_variant_splits_its_options_by_kind_and_type():
    v = Variant.parse("pixelrnn:arch=gated-pixelcnn,layers=8,lr=1e-2,lr-schedule=linear,batch_size=16,temperature=0.9")
    label = "genlab pixelrnn:arch=gated-pixelcnn,layers=8,lr=1e-2,lr-schedule=linear,batch_size=16,temperature=0.9"
    assert (v.family, v.label) == ("pixelrnn", label)
    assert v.model == {"arch": "gated-pixelcnn", "layers": 8} and type(v.model["layers"]) is int
    assert v.train == {"lr": 0.01, "lr_schedule": "linear", "batch_size": 16}
    assert v.temperature == 0.9
    plain = Variant.parse("vae")
    assert (plain.model, plain.train, plain.temperature) == ({}, {}, 1.0)
    assert Variant.parse("pixelrnn:conditional=true").model == {"conditional": True}


@pytest.mark.parametrize(
    "spec, named",
    [
        ("pixelrnn:depth=3", "depth"),
        ("pixelrnn:layers=x", "layers"),
        ("pixelrnn:minutes=3", "minutes"),
        ("pixelrnn:layers", "layers"),
    ],
)
def test_a_bad_variant_is_refused_naming_the_option(spec, named):
    with pytest.raises(GenlabError, match=named):
        Variant.parse(spec)
