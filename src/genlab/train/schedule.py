"""Learning rates that know the budget (Li, Yumer & Ramanan 2020, "Budgeted Training: Rethinking
Deep Neural Network Training Under Resource Constraints": a rate that decays linearly to zero at the
last step of the budget beats a constant one at every budget they measured).

`--lr-schedule linear` holds the rate for the first HOLD share of the step budget, then decays it
linearly to 0 at the budget's last step. The budget is `--steps`, or `--epochs` times the steps of
an epoch, or, for `--minutes`, measured: once MEASURE_SHARE of the minutes have passed, the steps
done so far are extrapolated to the whole budget. The factor is a function of (step, budget) alone,
and the budget is saved in the checkpoint, so a resumed run follows the same rates and stops at the
same step as an unbroken one with that budget.
"""

from __future__ import annotations

import math

HOLD = 0.1  # share of the budget at the full rate
MEASURE_SHARE = 0.05  # share of --minutes after which the step budget is fixed (well inside the hold)


def factor(schedule: str, step: int, budget: int) -> float:
    """The learning rate of step `step` (0-based) as a share of the configured one."""
    if schedule == "constant" or budget <= 0:
        return 1.0
    hold = HOLD * budget
    if step < hold:
        return 1.0
    return max(0.0, (budget - step) / (budget - hold))


def budget_from_speed(steps_done: int, seconds_done: float, seconds_total: float) -> int:
    """The steps a --minutes budget allows at the speed measured so far; never so few that the
    steps already done fall outside the hold (so their rate was the same as with a known budget)."""
    estimate = math.ceil(steps_done * seconds_total / max(seconds_done, 1e-9))
    return max(estimate, math.ceil(steps_done / HOLD), 1)
