"""One colour per method across runs; shades per budget; line styles per hardware."""

from __future__ import annotations

from report_support import write_result

from accelsim.report import palette
from accelsim.report.runs import load_runs
from accelsim.sim.lowering import PHASES
from accelsim.sim.results import ENERGY_PARTS, TRAFFIC_CLASSES


def test_every_category_has_a_colour_and_a_name():
    assert set(palette.COMPONENT_COLOURS) == set(palette.COMPONENT_NAMES) == set(ENERGY_PARTS)
    assert set(palette.OPERAND_COLOURS) == set(palette.OPERAND_NAMES) == set(TRAFFIC_CLASSES)
    assert set(palette.PHASE_COLOURS) == set(palette.PHASE_NAMES) == set(PHASES)
    for colours in (palette.COMPONENT_COLOURS, palette.OPERAND_COLOURS,
                    palette.PHASE_COLOURS, palette.METHOD_COLOURS):
        assert len(set(colours.values())) == len(colours)


def test_run_styles(results_dir):
    runs = load_runs([
        write_result(results_dir, "dense"),
        write_result(results_dir, "db10", method="dropback", compression=10),
        write_result(results_dir, "db50", method="dropback", compression=50),
        write_result(results_dir, "db10-lp", method="dropback", compression=10,
                     hw="edge-lpddr4"),
    ])
    styles = palette.run_styles(runs)
    dense, db10, db50, db10_lp = (styles[run.label] for run in runs)
    assert len({style.colour for style in styles.values()}) == 4  # a colour per run
    assert db10.linestyle == dense.linestyle != db10_lp.linestyle  # hardware
    assert dense.colour == palette.to_rgb(palette.METHOD_COLOURS["dense"])  # alone: as is
    assert sum(db50.colour) > sum(db10_lp.colour) > sum(db10.colour)  # dark to light


def test_every_run_has_its_own_colour_even_beyond_the_shades(results_dir):
    paths = [write_result(results_dir, f"db{c}", method="dropback", compression=c)
             for c in (2, 4, 8, 16, 32, 64)]
    paths += [write_result(results_dir, f"swd{c}", method="swd", compression=c)
              for c in (2, 4, 8, 16)]
    styles = palette.run_styles(load_runs(paths))
    assert len({style.colour for style in styles.values()}) == len(paths)
