"""One colour per runner for every chart of every report, derived from the registry: a family (a runner and
its variants, `variant_of`) shares a hue, its variants are darker and lighter shades of it.

Pure: names in, RGB tuples out. A runner the registry does not know joins the family named by its prefix
before '-' (or starts its own), so runners added later get a colour without any change here.
"""
from __future__ import annotations

import colorsys
import zlib

from concbench import registry

# Family hues, in the registry's order of base runners (tab10 without its grey, which reads as 'missing', then
# indigo, olive and plum from tab20b, so the eleven base families of today's registry each have a hue of their own).
HUES = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
        "#393b79", "#637939", "#7b4173")
# Lightness steps for a family's members: the base runner first, then its variants in registry order.
SHADES = (0.0, -0.22, 0.18, -0.36, 0.30, -0.12, 0.10, -0.45, 0.40)


def _rgb(hex_colour: str) -> tuple[float, float, float]:
    return tuple(int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5))


def shade(rgb: tuple[float, float, float], step: float) -> tuple[float, float, float]:
    """Darker (step < 0) or lighter (step > 0) in lightness, same hue; saturation kept so no shade looks pale."""
    h, lightness, s = colorsys.rgb_to_hls(*rgb)
    lightness = min(0.78, max(0.18, lightness + step * (lightness if step < 0 else 1 - lightness)))
    return colorsys.hls_to_rgb(h, lightness, s)


def family_of(runner: str, known: dict) -> str:
    """The family a runner belongs to: its registry `variant_of` chain's root, else its name's prefix."""
    seen = set()
    while runner in known and known[runner].variant_of and runner not in seen:
        seen.add(runner)
        runner = known[runner].variant_of
    if runner in known:
        return runner
    prefix = runner.split("-")[0]
    return prefix if prefix in known else runner


def families(known: dict) -> dict[str, list[str]]:
    """family -> its members, the base runner first, then variants in registry order."""
    out: dict[str, list[str]] = {}
    for name in known:
        out.setdefault(family_of(name, known), []).append(name)
    for members in out.values():
        members.sort(key=lambda m: (m != family_of(m, known), list(known).index(m)))
    return out


def runner_colour(runner: str, known: dict | None = None) -> tuple[float, float, float]:
    """The runner's colour: the same in every chart whatever else is drawn with it."""
    known = registry.RUNNERS if known is None else known
    by_family = families(known)
    family = family_of(runner, known)
    if family in by_family:
        hue = HUES[list(by_family).index(family) % len(HUES)]
        members = by_family[family]
        position = members.index(runner) if runner in members else len(members) + zlib.crc32(runner.encode()) % 3
    else:                                   # neither known nor a known prefix: a stable hue from its name
        hue = HUES[zlib.crc32(family.encode()) % len(HUES)]
        position = 0
    return shade(_rgb(hue), SHADES[position % len(SHADES)])


def is_variant(runner: str, known: dict | None = None) -> bool:
    return family_of(runner, registry.RUNNERS if known is None else known) != runner


def runner_colours(runners) -> dict:
    """Each runner's colour, the same in every chart (a family's hue, variants its shades)."""
    return {runner: runner_colour(runner) for runner in runners}


def runner_linestyle(runner: str) -> str:
    """Solid for a base runner, dashed for a variant (a second cue besides the shade)."""
    return "--" if is_variant(runner) else "-"
