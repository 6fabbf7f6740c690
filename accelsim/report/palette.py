"""The report's colours, defined once: every figure colours a component, operand, phase or
method the same way. Colour-blind-safe sets (Okabe & Ito; Paul Tol's "bright" and "muted").

A run is drawn in its method's colour, and every run has a colour of its own: the runs of
one method (budgets, optimizers, schedules, datasets, hardware) get shades of it from
dark to light, larger compressions lighter, and beyond four runs hues of a spare set;
runs on different hardware also get different line styles and hatches.
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.colors import to_rgb

from accelsim.report.runs import Run

COMPONENT_COLOURS = {  # Okabe & Ito
    "mac": "#E69F00", "sram": "#56B4E9", "dram": "#D55E00", "regen": "#009E73",
    "leakage": "#999999", "vector": "#CC79A7",
}
OPERAND_COLOURS = {  # Tol muted
    "weights": "#332288", "metadata": "#88CCEE", "inputs": "#DDCC77", "outputs": "#117733",
    "gradients": "#CC6677", "optimizer_state": "#AA4499",
}
PHASE_COLOURS = {  # Tol bright
    "fwd": "#4477AA", "bwd_data": "#EE6677", "bwd_weight": "#228833", "update": "#CCBB44",
}
METHOD_COLOURS = {
    "dense": "#3B3B3B", "dropback": "#0072B2", "swd": "#AA3377", "filter_pruning": "#EE7733",
}
OTHER_METHOD_COLOURS = ("#009988", "#882255", "#999933", "#66CCEE")
# A method's runs, darkest first: blended towards black (< 0) or white (> 0) by these
# amounts for 1, 2, 3 and 4 runs; more runs of one method take spare hues.
SHADES = ((0.0,), (-0.25, 0.45), (-0.35, 0.15, 0.55), (-0.4, 0.0, 0.35, 0.6))
SPARE_COLOURS = ("#117733", "#DDAA33", "#BB5566", "#44AA99", "#332288", "#999999",
                 "#661100", "#6699CC", "#AA4466", "#88CCEE")
HARDWARE_LINESTYLES = ("-", "--", "-.", ":")
HARDWARE_HATCHES = ("", "//", "..", "xx")

# How figures and report.md name each category.
COMPONENT_NAMES = {"mac": "MAC", "sram": "SRAM", "dram": "DRAM", "regen": "regeneration",
                   "leakage": "leakage", "vector": "vector unit"}
OPERAND_NAMES = {"weights": "weights", "metadata": "metadata (indices)",
                 "inputs": "inputs (activations)", "outputs": "outputs",
                 "gradients": "gradients", "optimizer_state": "optimizer state"}
PHASE_NAMES = {"fwd": "forward", "bwd_data": "backward (data)",
               "bwd_weight": "backward (weights)", "update": "update"}


@dataclass(frozen=True)
class RunStyle:
    """How one run is drawn wherever runs are told apart by colour."""

    colour: tuple[float, float, float]
    linestyle: str
    hatch: str


def run_styles(runs: list[Run]) -> dict[str, RunStyle]:
    """A distinct colour per run: its method's colour, lighter shades for the method's
    further runs (by compression, then input order), then spare hues; a line style and
    hatch per hardware design."""
    hardware = list(dict.fromkeys(run.hardware_key for run in runs))
    others = [m for m in dict.fromkeys(run.method for run in runs) if m not in METHOD_COLOURS]
    order = {run.label: index for index, run in enumerate(runs)}
    colours: dict[str, tuple[float, float, float]] = {}
    spare = iter(SPARE_COLOURS * (1 + len(runs) // len(SPARE_COLOURS)))
    for method in dict.fromkeys(run.method for run in runs):
        base = METHOD_COLOURS.get(method) or \
            OTHER_METHOD_COLOURS[others.index(method) % len(OTHER_METHOD_COLOURS)]
        members = sorted((run for run in runs if run.method == method),
                         key=lambda run: (_compression_key(run), order[run.label]))
        shades = SHADES[min(len(members), len(SHADES)) - 1]
        for index, run in enumerate(members):
            colour = _shade(base, shades[index]) if index < len(shades) else to_rgb(next(spare))
            while colour in colours.values():  # a spare hue another method already has
                colour = to_rgb(next(spare))
            colours[run.label] = colour
    styles = {}
    for run in runs:
        which = hardware.index(run.hardware_key)
        styles[run.label] = RunStyle(colours[run.label],
                                     HARDWARE_LINESTYLES[which % len(HARDWARE_LINESTYLES)],
                                     HARDWARE_HATCHES[which % len(HARDWARE_HATCHES)])
    return styles


def _compression_key(run: Run) -> float:
    return run.compression if run.compression is not None else 0.0


def _shade(colour: str, amount: float) -> tuple[float, float, float]:
    """Blend ``colour`` towards white by ``amount`` > 0 (1: white), towards black by
    ``amount`` < 0 (-1: black); 0 leaves it unchanged."""
    if amount < 0:
        return tuple(c * (1.0 + amount) for c in to_rgb(colour))
    return tuple(c + (1.0 - c) * amount for c in to_rgb(colour))
