"""The contract every registered family keeps, checked on its tiny configuration (tests/tinyfamilies.py):
a family is held to it the moment it registers. Samples are items of the stored kind; the loss is
finite; a run saved and loaded gives the same outputs; a stopped and resumed run ends bit for bit
like an unbroken one; sampling with a seed leaves the global random state alone; a likelihood or a
bound, where the family has one, is finite and on the right side of zero; completion, the latent
space and the encoder, where the family declares them, keep their promises; what it declares is what
it has. Each family is trained once (the session's `tiny_runs`) and shared by every check."""

import dataclasses
import inspect
import math

import pytest
import torch
from safetensors.torch import load_file

import genlab
from genlab import viz
from genlab.cli.use import SAMPLE_OPTIONS
from genlab.metrics.likelihood import likelihood_report
from genlab.models import REGISTRY, Capability
from genlab.models.base import CAPABILITY_METHODS
from tinyfamilies import TINY

STEPS_BEFORE_STOP = 2


@pytest.fixture(scope="module", params=sorted(REGISTRY))
def family(request):
    return request.param


def families_that(capability: Capability):
    """Run a test for the families that declare `capability` only (`family` parametrized directly)."""
    names = [n for n in sorted(REGISTRY) if capability in REGISTRY[n].capabilities]
    return pytest.mark.parametrize("family", names, scope="module")


@pytest.fixture(scope="module")
def trained(family, tiny_runs):
    trainer = tiny_runs[family]
    trainer.model.eval()
    return trainer


@pytest.fixture(scope="module")
def loaded(trained):
    return genlab.load(trained.run)


@pytest.fixture(scope="module")
def items(loaded):
    """Six stored test items of the run's data (uint8 images, float sounds)."""
    return loaded.dataset().test[:6]


def _seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_every_registered_family_has_a_tiny_configuration():
    assert sorted(TINY) == sorted(REGISTRY)


def test_a_family_declares_what_it_has_and_has_what_it_declares(family):
    cls = REGISTRY[family]
    for capability, methods in CAPABILITY_METHODS.items():  # all of a capability's methods or not it
        has = all(callable(getattr(cls, m, None)) for m in methods)
        assert (capability in cls.capabilities) == has, capability
    taken = set(inspect.signature(cls.sample).parameters)
    assert set(cls.sample_options) == taken & set(SAMPLE_OPTIONS)  # what `genlab sample` may hand it


def test_conditional_follows_the_config(loaded):
    """A family with a `conditional` option is class-conditional exactly when the option is on; the
    training sets `label_count` from the data."""
    model = loaded.model
    assert not model.can(Capability.CONDITIONAL) and model.label_count == 0
    if "conditional" not in {f.name for f in dataclasses.fields(model.Config)}:
        assert not type(model).offers(Capability.CONDITIONAL)
        return
    config = dataclasses.replace(model.config, conditional=True, label_count=3)
    conditional = type(model)(config, model.item_shape, model.palette if model.uses_palette else None)
    assert conditional.can(Capability.CONDITIONAL) and conditional.label_count == 3


def test_samples_are_items_of_the_stored_kind(loaded, items):
    out = loaded.model.sample(3, generator=_seeded(1))
    assert len(out) == 3 and out.dtype == items.dtype
    if loaded.model.can(Capability.SOUND):  # a sound of the family's default length, in [-1, 1]
        assert out.ndim == 2 and out.shape[1] > 0 and out.abs().max() <= 1
    else:
        assert out.shape[1:] == items.shape[1:]


def test_the_loss_is_finite(trained):
    rows = viz.read_metrics(trained.run / "metrics.csv")
    assert [r["split"] for r in rows].count("train") == trained.counters.step  # log_every=1: a row a step
    assert all(math.isfinite(float(r["loss"])) for r in rows)
    with torch.random.fork_rng():
        figures = trained.model.evaluate_batch(trained.test_data[:8])
    assert "loss" in figures and all(math.isfinite(float(v)) for v in figures.values())


def test_a_saved_run_loads_to_the_same_outputs(trained, loaded):
    state, again = trained.model.state_dict(), loaded.model.state_dict()
    assert state.keys() == again.keys()
    assert all(torch.equal(state[k], again[k]) for k in state)
    a = loaded.model.sample(4, generator=_seeded(3))
    assert torch.equal(a, trained.model.sample(4, generator=_seeded(3)))
    assert not torch.equal(a, loaded.model.sample(4, generator=_seeded(4)))


@pytest.mark.numerics
def test_a_stopped_and_resumed_run_ends_like_an_unbroken_one(family, trained, tiny_runs, tmp_path):
    """The same operations in the same process: the same bits, and every step logged once."""
    split = tmp_path / "split"
    tiny_runs.train(family, split, STEPS_BEFORE_STOP)
    resumed = tiny_runs.resume(split, tiny_runs.STEPS)
    assert resumed.counters.step == trained.counters.step > STEPS_BEFORE_STOP
    whole, again = load_file(str(trained.run / "model.safetensors")), load_file(str(split / "model.safetensors"))
    assert whole.keys() == again.keys()
    assert [k for k in whole if not torch.equal(whole[k], again[k])] == []
    rows = viz.read_metrics(split / "metrics.csv")
    assert [int(r["step"]) for r in rows if r["split"] == "train"] == list(range(1, resumed.counters.step + 1))
    tests = [int(r["step"]) for r in rows if r["split"] == "test"]  # after each epoch, where it stopped, at the end
    assert tests == sorted(set(tests)) and STEPS_BEFORE_STOP in tests and tests[-1] == resumed.counters.step


def test_seeded_generation_leaves_the_global_random_state_alone(loaded, items):
    model = loaded.model
    before = torch.get_rng_state()
    model.sample(2, generator=_seeded(0))
    if model.can(Capability.LATENT):
        model.prior(2, _seeded(0))
    if model.can(Capability.COMPLETES):
        _complete(model, items)
    assert torch.equal(torch.get_rng_state(), before)


def test_a_likelihood_or_bound_is_finite_and_signed(loaded, items):
    """-log p(x) (or the bound's) of discrete items is above 0 nats; an IWAE bound is at least as
    tight as the ELBO; a family with neither reports no likelihood."""
    model = loaded.model
    report = likelihood_report(model, loaded.dataset().test[:32], iwae_k=8)
    names = {k[: -len("_nats")] for k in report if k.endswith("_nats")}
    expected = ({"nll"} if model.can(Capability.LIKELIHOOD) else set()) | (
        {"elbo_nll", "iwae8_nll"} if model.can(Capability.BOUND) else set()
    )
    assert names == expected
    for name in names:
        assert math.isfinite(report[f"{name}_nats"]) and report[f"{name}_nats"] > 0, (name, report)
    if "elbo_nll" in names:
        assert report["iwae8_nll_nats"] <= report["elbo_nll_nats"]


def _complete(model, items):
    if model.can(Capability.SOUND):  # continue the first 100 samples of a sound by 50
        return model.complete(items[0, :100], seconds=50 / model.sample_rate, n=2, generator=_seeded(5))
    hidden = torch.zeros(items.shape[-2:], dtype=torch.bool)
    hidden[items.shape[-2] // 2 :] = True  # the bottom half
    return model.complete(items[:2], hidden, n=2, generator=_seeded(5))


@families_that(Capability.COMPLETES)
def test_completion_keeps_what_is_known(loaded, items):
    model = loaded.model
    done = _complete(model, items)
    assert torch.equal(done, _complete(model, items))  # seeded
    if model.can(Capability.SOUND):
        assert done.shape == (2, 150) and torch.equal(done[0, :100], done[1, :100])
        assert (done[:, :100] - items[0, :100]).abs().max() < 0.04  # the prefix, to within a μ-law step
    else:
        top = items.shape[-2] // 2
        assert done.shape == (4, *items.shape[1:]) and done.dtype == items.dtype
        assert torch.equal(done[..., :top, :], items[:2, ..., :top, :].repeat_interleave(2, 0))


@families_that(Capability.LATENT)
def test_the_latent_space_decodes_to_items(loaded, items):
    model = loaded.model
    z = model.prior(3, _seeded(0))
    assert z.ndim == 2 and len(z) == 3
    pictures = model.decode(z)
    assert pictures.shape == (3, *items.shape[1:]) and pictures.dtype == items.dtype
    assert torch.equal(pictures, model.decode(z))
    if model.can(Capability.ENCODES):
        codes = model.encode_images(items[:3])
        assert codes.shape == z.shape and torch.isfinite(codes).all()
        assert torch.equal(model.reconstruct(items[:3]), model.decode(codes))
    if model.can(Capability.POSTERIOR):  # q(z|x): a mean (the code) and a log-variance per dimension
        m, logvar = model.encode(model.prepare(items[:3]))
        assert m.shape == logvar.shape == z.shape and torch.isfinite(logvar).all()
        assert torch.allclose(m, model.encode_images(items[:3]))
