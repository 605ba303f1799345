"""Fast WaveNet generation (per-layer queues, Paine et al. 2016) vs the naive loop, for one second
of 16 kHz audio from genlab's default WaveNet, in one run.

Naive generation re-runs the network over the last receptive field (2048 samples) for every new
sample; fast generation keeps each layer's past inputs in a ring buffer and costs one step per
layer. Both draw one uniform number per sample from the same generator, so the same seed gives
the same sound: the script checks that sample for sample. Speed does not depend on the weights,
so the model is freshly initialised (seed 0).

A naive second takes many minutes on a CPU, so by default its time is extrapolated from two
measured stretches: N steps from silence (short contexts, the cheapest steps) stand for the first
receptive field's worth of steps, and N steps after a full receptive field of context stand for
the rest. That underestimates the naive time, so the printed speed-up is a lower bound;
`--full-naive` times the whole naive second instead. Rounds alternate fast and naive; medians.

Then the real-time factor of fast generation (seconds of audio made per second of compute; 1x is
real time) for the default model and for a one-stack model (dilations 1..512, receptive field
1025 samples = 64 ms at 16 kHz), each for one sound at a time and for a batch of 8 sounds drawn
together (audio seconds of all 8 counted), medians of `--rounds` interleaved rounds of
`--rtf-seconds` of audio: by wall-clock time and by the process's CPU time (what the generation
itself costs; on a machine shared with other jobs the wall clock also counts waiting for a core).

    .venv/bin/python bench/wavenet_speed.py [--rounds 3] [--naive-steps 200] [--full-naive] [--threads N]
                                            [--rtf-seconds 0.5] [--rtf-only]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from genlab.models.wavenet import WaveNet, WaveNetConfig

RATE = 16000


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def measure(
    rounds: int = 3, steps: int = 200, full_naive: bool = False, say=lambda text: None
) -> tuple[float, float, bool]:
    """(fast seconds, naive seconds, identical output) for one second of audio, medians of the rounds."""
    torch.manual_seed(0)
    model = WaveNet(WaveNetConfig(), (RATE,)).eval()
    rf = model.receptive_field

    def gen(n_new, prefix=None, seed=0, naive=False):
        g = torch.Generator().manual_seed(seed)
        return model.generate(n_new, prefix, n=1, generator=g, naive=naive)

    fast_times, naive_times, same = [], [], []
    for r in range(rounds):
        sound, t_fast = timed(lambda: gen(RATE))
        fast_times.append(t_fast)
        if full_naive:
            naive, t_naive = timed(lambda: gen(RATE, naive=True))
            same.append(torch.equal(naive, sound))
        else:
            early, t_early = timed(lambda: gen(steps, naive=True))  # from silence
            prefix = sound[:, :rf]
            late, t_late = timed(lambda: gen(steps, prefix, seed=1, naive=True))  # full context
            same.append(torch.equal(early, sound[:, :steps]) and torch.equal(late, gen(steps, prefix, seed=1)))
            t_naive = t_early / steps * rf + t_late / steps * (RATE - rf)
        naive_times.append(t_naive)
        say(f"round {r + 1}: fast {t_fast:.1f} s, naive {t_naive:.1f} s{'' if full_naive else ' (extrapolated)'}")
    return statistics.median(fast_times), statistics.median(naive_times), all(same)


RTF_MODELS = {"default (1 stack of 11)": {}, "2 stacks of 10 (the default before)": {"stacks": 2, "layers": 10}}
RTF_BATCHES = (1, 8)


def real_time_factors(
    rounds: int = 3, seconds: float = 0.5, say=lambda text: None
) -> dict[tuple[str, int], tuple[float, float]]:
    """{(model, batch): seconds of audio per second of (wall-clock, CPU) time}, medians of interleaved rounds."""
    models = {}
    for name, cfg in RTF_MODELS.items():
        torch.manual_seed(0)
        models[name] = WaveNet(WaveNetConfig(**cfg), (RATE,)).eval()
    steps = round(seconds * RATE)
    times: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for r in range(rounds):
        for name, model in models.items():
            for batch in RTF_BATCHES:
                cpu = time.process_time()
                _, dt = timed(lambda: model.generate(steps, n=batch, generator=torch.Generator().manual_seed(r)))
                cpu = time.process_time() - cpu
                times.setdefault((name, batch), []).append((dt, cpu))
                say(
                    f"round {r + 1}: {name}, batch {batch}: {dt:.2f} s wall, {cpu:.2f} s CPU for {seconds:g} s of audio each"
                )
    return {
        key: tuple(key[1] * seconds / statistics.median(t[i] for t in ts) for i in (0, 1))  # key[1]: sounds at once
        for key, ts in times.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--naive-steps", type=int, default=200, help="naive steps timed per stretch")
    ap.add_argument("--full-naive", action="store_true", help="time the naive loop for the whole second")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--rtf-seconds", type=float, default=0.5, help="audio generated per real-time-factor round")
    ap.add_argument("--rtf-only", action="store_true", help="skip the fast-vs-naive comparison")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.rtf_only:
        compare_naive(args)
    print(
        f"real-time factor of fast generation (audio seconds per compute second; target >= 0.25x), "
        f"median of {args.rounds} rounds of {args.rtf_seconds:g} s, torch threads {torch.get_num_threads()}:"
    )
    for (name, batch), (wall, cpu) in real_time_factors(
        args.rounds, args.rtf_seconds, say=lambda text: print(text, flush=True)
    ).items():
        rf = WaveNet(WaveNetConfig(**RTF_MODELS[name]), (RATE,)).receptive_field
        print(
            f"  {name:<18} (receptive field {rf}), {batch} sound(s) at once: {wall:.3f}x real time by the "
            f"wall clock, {cpu:.3f}x by CPU time"
        )


def compare_naive(args) -> None:
    rf, steps = WaveNet(WaveNetConfig(), (RATE,)).receptive_field, args.naive_steps
    print(WaveNet(WaveNetConfig(), (RATE,)).summary())
    print(f"one sound (batch 1), {RATE} samples; torch threads: {torch.get_num_threads()}")
    fast, naive, same = measure(args.rounds, steps, args.full_naive, say=lambda text: print(text, flush=True))
    print(
        f"fast (queues): {fast:.1f} s for 1 s of audio ({1000 * fast / RATE:.2f} ms per sample), "
        f"median of {args.rounds}"
    )
    if args.full_naive:
        print(f"naive: {naive:.1f} s for 1 s of audio, timed in full, median of {args.rounds}")
    else:
        print(
            f"naive: {naive:.1f} s for 1 s of audio, EXTRAPOLATED from {steps} timed steps from silence "
            f"(x {rf} steps) + {steps} timed steps after a {rf}-sample context (x {RATE - rf} steps), "
            f"median of {args.rounds}; a lower bound (the early steps' cost grows with the context)"
        )
    print(f"speed-up fast vs naive: {naive / fast:.1f}x (target >= 10x)")
    checked = (
        "the whole second"
        if args.full_naive
        else f"{steps} samples from silence and {steps} after a {rf}-sample prefix"
    )
    print(f"identical output for the same seed: {'yes' if same else 'NO'} ({checked}, every round)")


if __name__ == "__main__":
    main()
