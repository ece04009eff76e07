"""Log axes labelled at 1-2-5 steps with plain numbers, the same on every chart (matplotlib's ticker only).

It owns tick values and axis formatting; charts, memory and backpressure draw with it.
"""
from __future__ import annotations

import math

import matplotlib.ticker


def log_ticks(low: float, high: float) -> list[float]:
    """Tick values between low and high at 1-2-5 steps of each decade; at 1-1.5-2-3-5-7 when that gives
    fewer than three (a panel spanning less than a decade still gets values one can read off)."""
    if not (low > 0 and high > low):
        return []
    for steps in ((1, 2, 5), (1, 1.5, 2, 3, 5, 7), (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9)):
        ticks = [m * 10.0 ** e for e in range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1)
                 for m in steps]
        ticks = [t for t in ticks if low <= t <= high]
        if len(ticks) >= 3:
            return ticks
    return ticks


class OneTwoFiveLocator(matplotlib.ticker.LogLocator):
    """log_ticks over whatever the axis finally shows (so lines added later, such as ceilings, still fit)."""

    def tick_values(self, vmin, vmax):
        return log_ticks(min(vmin, vmax), max(vmin, vmax))

    def __call__(self):
        return self.tick_values(*self.axis.get_view_interval())


def label_log_axis(axis) -> None:
    """Labelled 1-2-5 ticks on a log axis (x or y), as plain numbers (1,000 rather than 10^3)."""
    axis.set_major_locator(OneTwoFiveLocator())
    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:,.10g}"))
    axis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def log_y_axis(ax) -> None:
    """A log y axis labelled at 1-2-5 steps."""
    ax.set_yscale("log")
    label_log_axis(ax.yaxis)


def log_x_axis(ax) -> None:
    """A log x axis labelled at 1-2-5 steps."""
    ax.set_xscale("log")
    label_log_axis(ax.xaxis)
