"""Claim 4 of the notes: the pixel-by-pixel method also synthesises sound (WaveNet, van den Oord et
al. 2016; models/wavenet/). Made measurable: the same sample-by-sample model makes sound, and it
needs a receptive field that sees a period. Two WaveNets with the same parameters and the same
training differ only in their dilations: one stack of 8 layers with dilations 1, 2, ..., 128
(receptive field 257 samples, 32 ms at 8 kHz: several periods of the lowest tone) against 8 layers
of dilation 1 (10 samples, 1.25 ms: less than one period of any fundamental below 800 Hz). Both
train on the built-in `tones` (notes, chords, chirps) at 8 kHz, then draw sounds with fast (queued)
generation; tonal sound has a low spectral flatness (metrics/audio.py: a pure tone about 0, white
noise about 0.56), noise a high one. The same pair trains on `speech` (spoken words made by flite)
when flite is installed, reported beside the tones.

The page plays the sounds: each spectrogram picture carries its .wav (Outcome.pictures' optional
4th element)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from genlab import viz
from genlab.data import load_dataset
from genlab.data.sound.wav import write_wav
from genlab.data.sound.spectrogram import DB_FLOOR, power_spectrogram
from genlab.data.sound.spectrogram import frames, power_spectrum
from genlab.metrics.audio import FLATNESS_FRAME, FLATNESS_HOP, SILENCE_RMS, loudness, spectral_flatness
from genlab.models import model_class
from genlab.report.lecture.base import INCONCLUSIVE, Lab, Outcome, Section, all_of, decide, spread

RATE = 8000  # Hz: tones' periods of 1.1-10 ms are 9-80 samples
WIDTHS = {"residual_channels": 16, "gate_channels": 16, "skip_channels": 32, "window": 500}
LAYERS = 8
NETS = {  # the same 8 gated layers, the same parameters; only the dilations differ
    "long": {"layers": LAYERS, "stacks": 1, **WIDTHS},  # dilations 1, 2, ..., 128: 257 samples
    "short": {"layers": 1, "stacks": LAYERS, **WIDTHS},  # dilation 1 eight times: 10 samples
}
NAMES = {"long": "long receptive field", "short": "short receptive field"}
BATCH, LR = 8, 2e-2  # windows of 500 samples per step; Adam, linear decay to 0 (2e-2 beat 1e-2 and 4e-2 at 300 steps)
SOUND_SECONDS = 0.5
SHOWN = 4  # sounds per picture (and per .wav in the page)
BOOTSTRAP = 200  # resamplings of the drawn sounds for the sampling error of a margin
WHITE_NOISE = 0.56  # spectral flatness of white noise, e^-γ
SPEECH = "speech"


def run(lab: Lab) -> Outcome:
    steps = lab.budget(300, 700)
    sounds = lab.budget(8, 16)
    scored = lab.budget(12, 36)  # test clips whose exact likelihood is measured (tones have 12, speech 36)
    seeds = lab.seeds()
    tones = load_dataset("tones", sample_rate=RATE)
    nets, heard = {}, {}
    parts = {"tones": _compare(lab, "tones", tones, seeds, steps, sounds, scored, nets, heard)}
    why_not = _speech_missing(lab.quick)
    if why_not is None:
        speech = load_dataset(SPEECH, sample_rate=RATE)
        parts["speech"] = _compare(lab, "speech", speech, seeds[:1], steps, sounds, scored, nets, heard)
    else:
        parts["speech"] = {"left_out": why_not}
    _plot_flatness(parts, lab.picture("flatness.png"))
    _plot_spectra(heard, lab.picture("spectra.png"))
    _plot_receptive(tones, nets, lab.picture("receptive_field.png"))
    verdict = judge(parts["tones"])
    figures = {
        "sample_rate": RATE,
        "steps": steps,
        "batch_windows": BATCH,
        "lr": LR,
        "sounds": sounds,
        "sound_seconds": SOUND_SECONDS,
        "white_noise_flatness": WHITE_NOISE,
        "networks": nets,
        **parts,
    }
    return Outcome(
        figures=figures,
        pictures=_pictures(parts, nets),
        finding=_finding(parts, nets),
        verdict=verdict,
        setup=_setup(parts, nets, steps, sounds, why_not),
    )


def judge(part: dict) -> str:
    """The rule on one data set's figures: per seed, how many decades (log10) the short receptive
    field's samples are flatter than the long one's, and how much nearer (in decades) the long one's
    flatness is to the test clips'; each beyond the noise (the seeds' spread, or the drawn sounds'
    sampling error) the claim's way."""
    rows = part.get("seeds") or []
    if not rows:
        return INCONCLUSIVE
    slack = max(r["slack_decades"] for r in rows)
    return all_of(
        decide([r["margin_decades"] for r in rows], slack), decide([r["closer_decades"] for r in rows], slack)
    )


def margins(long: float | None, short: float | None, data: float | None) -> tuple[float, float]:
    """(decades by which the short one's flatness is above the long one's, decades by which the long
    one is nearer the data's): log10 short - log10 long, |log short - log data| - |log long - log data|.
    NaN where a flatness is missing (silent sounds)."""
    a, b, d = (_log(v) for v in (long, short, data))
    return b - a, abs(b - d) - abs(a - d)


def sampling_slack(
    long: torch.Tensor, short: torch.Tensor, data: float | None, seed: int, rounds: int | None = None
) -> float:
    """Twice the bootstrap standard deviation of the larger margin's estimate: the drawn sounds
    (N, S) of each model resampled with replacement `rounds` times (0 for one sound each)."""
    if len(long) < 2 and len(short) < 2:
        return 0.0
    g = torch.Generator().manual_seed(seed)
    first, second = [], []
    for _ in range(rounds or BOOTSTRAP):
        a = long[torch.randint(len(long), (len(long),), generator=g)]
        b = short[torch.randint(len(short), (len(short),), generator=g)]
        m, c = margins(spectral_flatness(a), spectral_flatness(b), data)
        first.append(m)
        second.append(c)
    spreads = [float(np.nanstd(np.array(x))) for x in (first, second) if not np.isnan(x).all()]
    return 2 * max(spreads) if spreads else 0.0


def _log(value: float | None) -> float:
    return math.log10(value) if value is not None and value > 0 else float("nan")


def _speech_missing(quick: bool) -> str | None:
    """Why the speech part is not run here, or None."""
    from genlab.data.builtin.speech import flite

    if quick:
        return (
            "the speech part runs at the full budget only (at --quick it would double the section's time); "
            "run `genlab lecture --only speech` without --quick to add it"
        )
    if flite() is None:
        return (
            "flite (the offline speech synthesizer that makes the built-in `speech` words) is not installed "
            "on this machine, so the speech part was left out; install it (Debian/Ubuntu: "
            "`apt-get install flite`) and rerun `genlab lecture --only speech` to add it"
        )
    return None


# --- one data set: both networks, every seed --------------------------------------------------------
def _compare(
    lab: Lab, name: str, data, seeds: list[int], steps: int, sounds: int, scored: int, nets: dict, heard: dict
) -> dict:
    """Both networks on one data set for every seed: the part's figures; `nets` gets the networks'
    description, `heard[name]` the test clips and the first seed's drawn sounds."""
    test = data.test
    data_flatness = spectral_flatness(test)
    picked = torch.linspace(0, len(test) - 1, min(scored, len(test))).round().long().unique()  # spread over the split
    rows, kept = [], {}
    for seed in seeds:
        row: dict[str, Any] = {"seed": seed}
        drawn = {}
        for net, options in NETS.items():
            lab.say(f"  {name}: WaveNet, {NAMES[net]}, {steps} steps, seed {seed}")
            model, train_bits = _train(data, options, steps, seed, lab)
            nets.setdefault(net, _describe(model, options))
            lab.trained.append(f"wavenet {name}-{net}-seed{seed}: {steps} steps, seed {seed} on {name} at {RATE} Hz")
            with torch.no_grad():
                g = torch.Generator(device=model.device).manual_seed(seed)
                drawn[net] = model.sample(sounds, generator=g, seconds=SOUND_SECONDS).cpu()  # fast generation
                test_bits = -float(model.log_prob(model.prepare(test[picked].to(model.device))).mean()) / (
                    model.item_samples * math.log(2)
                )
            row[net] = {
                "flatness": spectral_flatness(drawn[net]),
                "rms": loudness(drawn[net]),
                "train_bits_per_sample": train_bits,
                "test_bits_per_sample": test_bits,
            }
        row["margin_decades"], row["closer_decades"] = margins(
            row["long"]["flatness"], row["short"]["flatness"], data_flatness
        )
        row["slack_decades"] = sampling_slack(drawn["long"], drawn["short"], data_flatness, seed)
        rows.append(row)
        if not kept:
            kept = drawn
    part = {
        "data": name,
        "flatness_test": data_flatness,
        "rms_test": loudness(test),
        "test_clips": len(test),
        "test_clips_scored": len(picked),
        "seeds": rows,
    }
    part["verdict"] = judge(part)
    _save_sounds(lab, name, test, kept, part)
    heard[name] = {"test": test, **kept}
    return part


def _train(data, options: dict, steps: int, seed: int, lab: Lab) -> tuple[Any, float]:
    """A WaveNet trained for `steps` steps of BATCH random non-silent windows (Adam at LR, decaying
    linearly to 0 after the first 10 %); returns it in eval mode and its last training bits per sample."""
    cls = model_class("wavenet")
    torch.manual_seed(seed)  # the weights (and the input layer's level ramp)
    model = cls(cls.make_config(**options), data.item_shape).to(lab.device_name())
    windows = model.prepare(data.train)
    loud = model.training_mask(windows)
    windows = (windows if loud is None else windows[loud]).to(model.device)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    hold = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (steps - s) / max(1, steps - hold)))
    order = torch.Generator().manual_seed(seed)
    model.train()
    bits = []
    for _ in range(steps):
        batch = windows[torch.randint(len(windows), (BATCH,), generator=order).to(model.device)]
        out = model.loss(batch)
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        opt.step()
        schedule.step()
        bits.append(float(out["bits_per_sample"].detach()))
    model.eval()
    return model, float(np.mean(bits[-max(1, steps // 10) :]))


def _describe(model, options: dict) -> dict:
    rf = model.receptive_field
    return {
        "layers": options["layers"],
        "stacks": options["stacks"],
        "dilations": [layer.dilation for layer in model.layers],
        "receptive_field_samples": rf,
        "receptive_field_ms": 1000 * rf / RATE,
        "parameters": sum(p.numel() for p in model.parameters()),
        **WIDTHS,
    }


# --- pictures and sounds ----------------------------------------------------------------------------
GAP = 0.25  # seconds of silence between the sounds of one .wav


def _joined(clips: torch.Tensor) -> torch.Tensor:
    gap = torch.zeros(len(clips), round(GAP * RATE))
    return torch.cat([clips, gap], 1).flatten()[: -gap.shape[1]]  # (N, S + G) -> (N (S + G) - G,)


def _save_sounds(lab: Lab, name: str, test: torch.Tensor, drawn: dict, part: dict) -> None:
    """NAME_test/long/short.wav (SHOWN sounds one after another) and a spectrogram .png of each."""
    fade = torch.linspace(1, 0, round(0.02 * RATE)).clamp(max=1)  # 20 ms, so the cut makes no click
    shown = torch.linspace(0, len(test) - 1, min(SHOWN, len(test))).round().long()  # spread over the test split
    cut = test[shown, : round(SOUND_SECONDS * RATE)].clone()
    cut[:, -len(fade) :] *= fade
    groups = {
        "test": (cut, "test clips", part["flatness_test"]),
        **{net: (drawn[net][:SHOWN], f"samples, {NAMES[net]}", part["seeds"][0][net]["flatness"]) for net in NETS},
    }
    for group, (clips, label, flatness) in groups.items():
        sound = _joined(clips)
        write_wav(lab.picture(f"{name}_{group}.wav"), sound, RATE)
        title = f"{name}: {label} ({len(clips)} of {SOUND_SECONDS:g} s, {RATE} Hz), spectral flatness {_num(flatness)}"
        _spectrogram(sound, title, lab.picture(f"{name}_{group}.png"))


def _num(value: float | None) -> str:
    return "— (silent)" if value is None else f"{value:.2g}"


def _spectrogram(sound: torch.Tensor, title: str, path, nfft: int = 512) -> None:
    plt = viz._pyplot()

    db = 10 * np.log10(power_spectrogram(sound[None], nfft, nfft // 4)[0].T.numpy() + DB_FLOOR)  # (K, F)
    fig, ax = plt.subplots(figsize=(10, 2.6), dpi=90)
    top = 20 * math.log10(nfft / 4)  # the peak bin of a full-scale sine: one colour scale for every picture
    image = ax.imshow(
        db,
        origin="lower",
        aspect="auto",
        cmap="magma",
        vmin=top - 90,
        vmax=top,
        extent=(0, len(sound) / RATE, 0, RATE / 2),
    )
    ax.set(title=title, xlabel="time (s)", ylabel="frequency (Hz)")
    fig.colorbar(image, ax=ax, label="power (dB)", pad=0.01)
    fig.tight_layout()
    viz._save_figure(fig, path)


def _pictures(parts: dict, nets: dict) -> list[tuple]:
    rf = {k: f"{v['receptive_field_samples']} samples, {v['receptive_field_ms']:.3g} ms" for k, v in nets.items()}
    shown = [
        (
            "receptive_field.png",
            "what each network sees: a test note's waveform and, ending at one sample to "
            "predict, the span of samples each receptive field reads. Look whether a span "
            "holds a whole period of the wave (the dotted lines are one period apart)",
            True,
        ),
        (
            "flatness.png",
            "spectral flatness of each seed's samples (dots, the median's value beside them) "
            "against the test clips' (line) and white noise's (0.56), on a log scale: lower is "
            "more tonal",
            True,
        ),
        (
            "spectra.png",
            "what the flatness reads: the power spectrum of each set's frame (1024 samples) of "
            "median flatness, the first seed. Look for narrow peaks far above the floor (tonal: "
            "the test clips' harmonics) against power spread over all frequencies (noise)",
            True,
        ),
    ]
    for name, part in parts.items():
        if "seeds" not in part:
            continue
        seed = part["seeds"][0]["seed"]
        shown.append(
            (
                f"{name}_test.png",
                f"{name}: {SHOWN} test clips spread over the test split (their first {SOUND_SECONDS:g} s), "
                "played above "
                "their spectrogram. Look at the thin horizontal lines: a tone's harmonics",
                True,
                f"{name}_test.wav",
            )
        )
        for net in NETS:
            shown.append(
                (
                    f"{name}_{net}.png",
                    f"{name}: {SHOWN} sounds drawn from silence by the WaveNet with the "
                    f"{NAMES[net]} ({rf[net]}; seed {seed}). Look where the power sits: "
                    "in thin lines or a narrow low band (tonal) or spread over all "
                    "frequencies, with vertical clicks (noise)",
                    True,
                    f"{name}_{net}.wav",
                )
            )
    return shown


def median_frame(clips: torch.Tensor) -> tuple[torch.Tensor, float] | None:
    """The power spectrum (513,) of the frame whose flatness is the median over the sounds' loud
    frames (the frames and the median spectral_flatness reports), and that flatness; None if all are silent."""
    chunks = frames(clips.double(), FLATNESS_FRAME, FLATNESS_HOP)
    chunks = chunks - chunks.mean(-1, keepdim=True)
    chunks = chunks[chunks.square().mean(-1).sqrt() > SILENCE_RMS]  # (M, 1024)
    if len(chunks) == 0:
        return None
    power = power_spectrum(chunks) + 1e-30
    flatness = power.log().mean(-1).exp() / power.mean(-1)
    i = int(flatness.argsort()[(len(flatness) - 1) // 2])
    return power[i], float(flatness[i])


def _plot_spectra(heard: dict, path) -> None:
    plt = viz._pyplot()
    fig, axes = plt.subplots(1, len(heard), figsize=(5.2 * len(heard) + 0.5, 3.6), dpi=90, squeeze=False)
    colours = {"test": "#2ca02c", "long": "#1f77b4", "short": "#d62728"}
    labels = {"test": "test clips", **{net: f"samples: {NAMES[net]}" for net in NETS}}
    hz = np.arange(FLATNESS_FRAME // 2 + 1) * RATE / FLATNESS_FRAME
    for ax, (name, groups) in zip(axes[0], heard.items()):
        for group, clips in groups.items():
            found = median_frame(clips)
            if found is None:
                continue
            power, flatness = found
            db = 10 * np.log10(power.numpy() / float(power.max()))
            ax.plot(hz, db, lw=0.8, color=colours[group], label=f"{labels[group]} (flatness {flatness:.2g})")
        ax.set(
            title=f"{name}: the frame of median flatness, each set",
            xlabel="frequency (Hz)",
            ylabel="power (dB below the frame's peak)",
            ylim=(-100, 3),
            xlim=(0, RATE / 2),
        )
        ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    viz._save_figure(fig, path)


def _plot_flatness(parts: dict, path) -> None:
    plt = viz._pyplot()
    shown = [(name, p) for name, p in parts.items() if "seeds" in p]
    fig, axes = plt.subplots(1, len(shown), figsize=(4.2 * len(shown) + 1, 3.6), dpi=90, squeeze=False)
    for ax, (name, part) in zip(axes[0], shown):
        for x, net in enumerate(NETS):
            values = [r[net]["flatness"] for r in part["seeds"] if r[net]["flatness"]]
            ax.scatter(
                [x] * len(values),
                values,
                s=40,
                zorder=3,
                label=f"samples: {NAMES[net]}",
                color="#1f77b4" if net == "long" else "#d62728",
            )
        if part["flatness_test"]:
            ax.axhline(part["flatness_test"], color="#2ca02c", lw=1.5, label="test clips")
        ax.axhline(WHITE_NOISE, color="grey", ls="--", lw=1, label="white noise")
        ax.set_yscale("log")
        ax.set_xticks(range(len(NETS)), [NAMES[n].replace(" receptive", "\nreceptive") for n in NETS])
        ax.set_xlim(-0.6, len(NETS) - 0.4)
        seeds = len(part["seeds"])
        ax.set(
            title=f"{name}: flatness of the samples, {seeds} seed{'s' if seeds > 1 else ''}",
            ylabel="spectral flatness (log scale; lower = more tonal)",
        )
        for x, net in enumerate(NETS):
            values = [r[net]["flatness"] for r in part["seeds"] if r[net]["flatness"]]
            if values:
                ax.annotate(
                    f"{float(np.median(values)):.2g}",
                    (x, float(np.median(values))),
                    xytext=(10, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize=8,
                )
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    fig.tight_layout()
    viz._save_figure(fig, path)


def _period(clip: np.ndarray) -> int:
    """The lag (samples) of the highest autocorrelation peak after its first dip below 0."""
    x = clip - clip.mean()
    ac = np.correlate(x, x, "full")[len(x) - 1 :]
    below = np.flatnonzero(ac < 0)
    start = int(below[0]) if len(below) else 1
    return start + int(np.argmax(ac[start : len(x) // 2]))


def _plot_receptive(tones, nets: dict, path) -> None:
    """A test note (the first one in the test split), 40 ms of it, with both receptive fields drawn
    back from the sample they predict."""
    plt = viz._pyplot()
    notes = [i for i, y in enumerate(tones.test_labels.tolist()) if y == 0] or [0]
    clip = tones.test[notes[0]].numpy()
    start, length = round(0.1 * RATE), round(0.040 * RATE)
    piece = clip[start : start + length]
    period = _period(clip[start : start + 1024])
    t_ms = 1000 * np.arange(length) / RATE
    fig, ax = plt.subplots(figsize=(10, 3.2), dpi=90)
    ax.plot(t_ms, piece, color="black", lw=1, marker=".", ms=2)
    target = length - 1
    colours = {"long": "#1f77b4", "short": "#d62728"}
    low, high = float(piece.min()), float(piece.max())
    for i, (net, info) in enumerate(nets.items()):
        rf = info["receptive_field_samples"]
        left = 1000 * max(0, target - rf) / RATE
        band = (high - low) * 0.12
        y = low - band * (i + 1)
        ax.plot(
            [left, 1000 * (target - 1) / RATE],
            [y, y],
            color=colours[net],
            lw=6,
            solid_capstyle="butt",
            label=f"{NAMES[net]}: {rf} samples ({info['receptive_field_ms']:.3g} ms)",
        )
    for k in range(0, length // period + 1):
        ax.axvline(1000 * (target - k * period) / RATE, color="grey", ls=":", lw=0.8)
    ax.plot([1000 * target / RATE], [piece[target]], "o", color="orange", ms=8, label="the sample to predict")
    ax.set(
        xlabel="time (ms)",
        ylabel="amplitude",
        title=f"a test note at {RATE} Hz: one period = {period} samples ({1000 * period / RATE:.2g} ms); "
        f"what each network reads to predict the next sample",
    )
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    viz._save_figure(fig, path)


# --- words ------------------------------------------------------------------------------------------
def _part_words(part: dict, nets: dict) -> str:
    rows = part["seeds"]
    flat = {net: spread([r[net]["flatness"] or float("nan") for r in rows]) for net in NETS}
    margin = spread([r["margin_decades"] for r in rows])
    noise = max(
        max(r["slack_decades"] for r in rows),
        max(r["margin_decades"] for r in rows) - min(r["margin_decades"] for r in rows),
    )
    nll = {net: spread([r[net]["test_bits_per_sample"] for r in rows]) for net in NETS}
    return (
        f"on {part['data']}, the samples' spectral flatness is {flat['long']} with the long receptive field "
        f"({nets['long']['receptive_field_ms']:.3g} ms) and {flat['short']} with the short one "
        f"({nets['short']['receptive_field_ms']:.3g} ms), test clips {_num(part['flatness_test'])}, white noise "
        f"{WHITE_NOISE}: the short one is {margin} decades flatter (noise {noise:.2g} decades; "
        f"{len(rows)} seed{'s' if len(rows) > 1 else ''}), so this part reads {part['verdict']}. "
        f"Exact NLL of {part['test_clips_scored']} test clips: {nll['long']} vs {nll['short']} bits per sample"
    )


def _finding(parts: dict, nets: dict) -> str:
    text = "WaveNet makes sound sample by sample: " + _part_words(parts["tones"], nets) + "."
    tones = parts["tones"]
    if all(
        r["long"]["flatness"] and r["long"]["flatness"] > 1e3 * (tones["flatness_test"] or 0) for r in tones["seeds"]
    ):
        text += (
            " Both stay decades above the test clips' flatness: this brief training makes a low hum (long field) "
            "or clicks and hiss (short field), not yet clean notes."
        )
    speech = parts["speech"]
    if "seeds" in speech:
        text += " Beside it (not counted in the verdict), " + _part_words(speech, nets) + "."
    else:
        text += " The speech part was left out: " + (
            "it runs at the full budget only."
            if "full budget only" in parts["speech"]["left_out"]
            else "flite is not installed on this machine."
        )
    return text


def _setup(parts: dict, nets: dict, steps: int, sounds: int, why_not: str | None) -> str:
    long, short = nets["long"], nets["short"]
    text = (
        f"Two WaveNets with the same {long['parameters']:,} parameters (8 gated layers, 16 residual and gate "
        f"channels, 32 skip channels) that differ only in their dilations: 1, 2, 4, ..., 128 (receptive field "
        f"{long['receptive_field_samples']} samples) against 1 in every layer ({short['receptive_field_samples']} "
        f"samples). Each trained on the built-in tones at {RATE} Hz for {steps} steps of {BATCH} random windows "
        f"of {WIDTHS['window']} samples, Adam at {LR:g} decaying linearly to 0, then drew {sounds} sounds of "
        f"{SOUND_SECONDS:g} s from silence by fast (queued) generation; flatness is the median over 1024-sample "
        f"frames of all those sounds, and a margin's sampling error is twice its bootstrap standard deviation "
        f"over the sounds ({BOOTSTRAP} resamplings)"
    )
    if why_not is None:
        text += (
            f"; the same pair, with the first seed only, on the `speech` words at {RATE} Hz (silent windows left out)"
        )
    else:
        text += f". Speech: {why_not}"
    return text


SECTION = Section(
    "speech",
    data=(
        f"The built-in `tones` (120 one-second notes, chords and exponential chirps, fundamentals 100-2000 Hz, "
        f"108 train / 12 test), at {RATE} Hz; and the built-in `speech` (288 spoken words made offline by flite) "
        "when flite is installed (full budget only)."
    ),
    figure=(
        "Spectral flatness (the power spectrum's geometric over its arithmetic mean, median over 1024-sample "
        "frames: a pure tone about 0, white noise 0.56) of sounds drawn by two WaveNets that differ only in their "
        "dilations: a receptive field of 257 samples (32 ms, several periods of the lowest tone) and one of 10 "
        "samples (1.25 ms, less than a period of any fundamental below 800 Hz); their spectrograms and sounds "
        "beside the test clips'."
    ),
    rule=(
        "On the tones, per seed: margin = log10(flatness of the short receptive field's samples) - log10(flatness "
        "of the long one's), and nearer = |log10 short - log10 test clips| - |log10 long - log10 test clips|. "
        "Supported when the mean of both over the seeds exceeds the noise, the larger of the seeds' spread "
        "(max - min) and the sampling error (twice the bootstrap standard deviation over the drawn sounds); "
        "not supported when either mean is below minus the noise; inconclusive otherwise. The speech words "
        "(full budget, first seed) get the same rule and are reported beside it, not counted: a brief run on speech makes "
        "babble, not words."
    ),
    run=run,
    cost=220.0,
)
