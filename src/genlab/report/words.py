"""The compare report's sentences: the training budget in words, and the memorization verdicts
(does each model copy its training images; how the families differ, against the notes)."""

from __future__ import annotations

from genlab.report.entry import Entry


def budget_words(budget: float | dict[str, float] | None) -> str:
    """metrics.json's budget_minutes in words ("" for runs trained beforehand): one number for every
    family, or each family's."""
    if not budget:
        return ""
    if isinstance(budget, dict) and len(set(budget.values())) > 1:
        return "trained for " + ", ".join(f"{name} {m:g}" for name, m in budget.items()) + " minute(s)"
    minutes = next(iter(budget.values())) if isinstance(budget, dict) else budget
    return f"each family trained for {minutes:g} minute(s)"


def budget_sentence(metrics: dict) -> str:
    """How the report's runs were trained: the budget, and how many families trained side by side."""
    trained = budget_words(metrics["budget_minutes"])
    if trained:
        budget = f"{trained[0].upper()}{trained[1:]} of wall-clock time"
    elif metrics.get("budget_steps"):
        budget = f"Each family trained for {metrics['budget_steps']} optimisation step(s)"
    else:
        budget = "Runs trained beforehand"
    if metrics.get("jobs", 1) > 1:
        budget += f", {metrics['jobs']} families at a time side by side, one process each"
    return budget


def memorization_words(entries: list[Entry]) -> list[str]:
    """Plain sentences: does each model copy its training images? Then how the families differ."""
    lines, ratios = [], {}
    for e in entries:
        space = "pixels" if "nn_ratio_pixels" in e.report else "features"
        if f"nn_ratio_{space}" not in e.report:
            lines.append(f"{e.label}: no sample figures ({e.report.get('sample_figures', 'not computed')}).")
            continue
        ratio, share = e.report[f"nn_ratio_{space}"]["mean"], e.report[f"copy_share_{space}"]["mean"]
        ratios[e.label] = ratio
        if ratio < 0.5:
            verdict = (
                "copies its training images: its samples lie much closer to a training image than new test images do"
            )
        elif ratio < 0.85:
            verdict = "leans on its training images: its samples lie closer to them than new test images do"
        elif ratio <= 1.2:
            verdict = (
                "makes new images: its samples lie about as far from their nearest training image as "
                "unseen test images do"
            )
        else:
            verdict = (
                "makes images unlike any training image, further from the training set than test images "
                "are: a sign of unrealistic samples (blur, artefacts) rather than of copying"
            )
        lines.append(
            f"{e.label} {verdict} (distance ratio {ratio:.2f} in {space}; {100 * share:.1f}% of its "
            f"samples are closer to a training image than the closest test image is)."
        )
    if len(ratios) > 1:
        low = min(ratios, key=ratios.get)
        lines.append(
            f"Closest to its training images: {low} (ratio {ratios[low]:.2f}); a ratio well below 1 is "
            f"what copying looks like."
        )
    if "vae" in ratios and "gan" in ratios:
        vae, gan = ratios["vae"], ratios["gan"]
        if min(vae, gan) >= 0.85:
            found = "neither copies its training images"
        elif vae < gan:
            found = "the VAE stays closer to the images it was shown, as the notes expect"
        else:
            found = "the GAN's samples are the closer ones, against the notes' expectation"
        lines.append(
            f"The notes expect the VAE to imitate the images it has seen and the GAN, whose generator "
            f"never sees one, to make new ones. Here {found} (ratio {vae:.2f} for the VAE, {gan:.2f} "
            f"for the GAN)."
        )
    return lines
