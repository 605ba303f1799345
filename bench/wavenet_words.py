"""Does a briefly trained conditional WaveNet say the word it is asked for? Train a small network on
two words of the `speech` set for a fixed number of steps (one thread, the trainer's Adam and
linear schedule, batches drawn at random), then draw N sounds of 0.75 s asking for the words in
turn (as `genlab evaluate` does) and the same draws with the two labels swapped (the control:
the same random numbers, only the label differs), and let the word classifier of
genlab/metrics/audio.py judge them. Prints one JSON line: test NLL, CPU seconds of training,
recognised as asked (each half and both), a one-sided binomial p-value against chance (1/2) over
both halves, how many sounds changed word with the label, the share of draws judged more like the asked word
than the same draw asked for the other (and its sign-test p-value), the shift of the classifier's log-odds
between the two labels' sounds (beside that between the test clips of the two words), and the
spectral flatness and loudness of the samples.

    .venv/bin/python bench/wavenet_words.py --words six,no --steps 500 --seed 0
    .venv/bin/python bench/wavenet_words.py --words six,no --steps 500 --keep-silence --no-ramp   # the old training
    .venv/bin/python bench/wavenet_words.py --clock 16 --batch-size 2   # local conditioning on time: whole clips as items
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch

from genlab.data import load_dataset
from genlab.metrics.audio import EVAL_SECONDS, classifier_for, loudness, spectral_flatness
from genlab.models.wavenet import WaveNet, WaveNetConfig
from genlab.train import schedule


def binomial_tail(hits: int, n: int) -> float:
    """P(X >= hits) for X ~ Binomial(n, 1/2): how often chance recognises that many."""
    return sum(math.comb(n, k) for k in range(hits, n + 1)) / 2**n


def log_odds_shift(classifier, sounds: torch.Tensor, labels: torch.Tensor) -> float:
    """Two words: the classifier's mean log-odds of word 1 over word 0 for sounds of word 1 minus
    that for sounds of word 0 (0: the label does not move the judgement)."""
    odds = torch.from_numpy(classifier.model.decision_function(classifier.features(sounds)))
    return float(odds[labels == 1].mean() - odds[labels == 0].mean())


def paired_rate(classifier, asked: torch.Tensor, swapped: torch.Tensor, labels: torch.Tensor) -> float:
    """Two words: the share of draws whose sound asked for word y is judged more like word y (higher
    log-odds towards it) than the same draw asked for the other word; 1/2 if the label does nothing."""
    odds = [torch.from_numpy(classifier.model.decision_function(classifier.features(s))) for s in (asked, swapped)]
    towards = (odds[0] - odds[1]) * (2 * labels - 1)  # > 0: asking for y moved the judgement towards y
    return float((towards > 0).float().mean())


def train(data, config: WaveNetConfig, steps: int, batch: int, lr: float, seed: int, ramp: bool) -> WaveNet:
    torch.manual_seed(seed)
    model = WaveNet(config, data.item_shape)
    if not ramp:
        model.input.reset_parameters()  # PyTorch's own init: one-hot inputs without the level ramp
    windows, labels = model.prepare(data.train), model.prepare_labels(data.train_labels)
    keep = model.training_mask(windows)
    if keep is not None:
        windows, labels = windows[keep], labels[keep]
    opt = torch.optim.Adam(model.parameters(), lr)
    g = torch.Generator().manual_seed(seed)
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr * schedule.factor("linear", step, steps)
        pick = torch.randint(len(windows), (batch,), generator=g)
        model.train_step(windows[pick], {"adam": opt}, labels=labels[pick])
    return model.eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--words", default="six,no")
    ap.add_argument("--sample-rate", type=int, default=8000)
    ap.add_argument("--layers", type=int, default=10)
    ap.add_argument("--stacks", type=int, default=1)
    ap.add_argument("--channels", type=int, default=16, help="residual and gate channels (skip: twice as many)")
    ap.add_argument("--window", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n", type=int, default=32, help="sounds drawn (and as many with swapped labels)")
    ap.add_argument("--keep-silence", action="store_true", help="train on silent windows too")
    ap.add_argument("--no-ramp", action="store_true", help="PyTorch's init for the input convolution")
    ap.add_argument(
        "--clock",
        type=int,
        default=0,
        help="pieces per clip of the clock (0: off); items are then "
        "whole clips, so --window is unused and --batch-size counts clips",
    )
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = load_dataset(f"speech:{args.words}", sample_rate=args.sample_rate)
    config = WaveNetConfig(
        layers=args.layers,
        stacks=args.stacks,
        residual_channels=args.channels,
        gate_channels=args.channels,
        skip_channels=2 * args.channels,
        window=args.window,
        keep_silence=args.keep_silence,
        clock=args.clock,
        conditional=True,
        label_count=len(data.label_names),
    )
    start = time.process_time()
    model = train(data, config, args.steps, args.batch_size, args.lr, args.seed, not args.no_ramp)
    train_seconds = time.process_time() - start
    with torch.no_grad():
        test = model.prepare(data.test)
        nll = -model.log_prob(test, model.prepare_labels(data.test_labels)).mean().item() / test.shape[1] / math.log(2)
    classifier = classifier_for(data)
    asked = torch.arange(args.n) % model.label_count
    heard, sounds = {}, {}
    for name, labels in (("asked", asked), ("swapped", (asked + 1) % model.label_count)):
        g = torch.Generator().manual_seed(0)  # the draw `genlab evaluate` makes
        sounds[name] = model.sample(args.n, generator=g, seconds=EVAL_SECONDS, labels=labels)
        heard[name] = (torch.from_numpy(classifier.predict(sounds[name])), labels)
    hits = {k: int((p == y).sum()) for k, (p, y) in heard.items()}
    paired = paired_rate(classifier, sounds["asked"], sounds["swapped"], asked)
    shift = log_odds_shift(classifier, torch.cat(list(sounds.values())), torch.cat([y for _, y in heard.values()]))
    print(
        json.dumps(
            {
                **vars(args),
                "train_cpu_seconds": round(train_seconds, 1),
                "test_nll_bits": round(nll, 3),
                "classifier_test_accuracy": classifier.accuracy(data.test, data.test_labels),
                "recognised_as_asked": hits["asked"] / args.n,
                "recognised_swapped": hits["swapped"] / args.n,
                "recognised_both": (hits["asked"] + hits["swapped"]) / (2 * args.n),
                "changed_with_label": float((heard["asked"][0] != heard["swapped"][0]).float().mean()),
                "paired": paired,
                "p_paired": binomial_tail(round(paired * args.n), args.n),
                "log_odds_shift": round(shift, 2),
                "log_odds_shift_test": round(log_odds_shift(classifier, data.test, data.test_labels), 2),
                "p_chance": binomial_tail(hits["asked"] + hits["swapped"], 2 * args.n),
                "spectral_flatness": spectral_flatness(sounds["asked"]),
                "rms": loudness(sounds["asked"]),
                "rms_test": loudness(data.test),
            }
        )
    )


if __name__ == "__main__":
    main()
