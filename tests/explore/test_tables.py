"""The Pareto front and the table's column types."""

import numpy as np
import pandas as pd

from accelsim.explore.figure import method_label, pareto_figure
from accelsim.explore.tables import pareto_mask, results_frame


def test_pareto_mask_keeps_the_non_dominated_points_and_exact_ties():
    cycles = np.array([1.0, 2.0, 3.0, 2.0, 1.0, 4.0, 2.0])
    energy = np.array([5.0, 3.0, 1.0, 4.0, 6.0, 1.0, 3.0])
    # 0: fastest; 1 and 6: a tie on the front; 2: cheapest; 3 dominated by 1; 4 by 0;
    # 5 by 2 (same energy, slower).
    assert pareto_mask(cycles, energy).tolist() == [True, True, True, False, False, False,
                                                    True]
    assert pareto_mask(np.array([7.0]), np.array([9.0])).tolist() == [True]


def row(point, **overrides):
    return {"point": point, "trace": "t", "net": "n", "method": "dense",
            "compression": None, "dataset": "digits", "optimizer": "SGD lr 0.1",
            "lr_schedule": "constant", "hardware": "h", **overrides, "fidelity": "fast",
            "steps": "all", "phases": "fwd", "cycles": 10.0 - point, "energy_pj": 1.0 + point,
            "macs": 5.0, "key": f"k{point}"}


def test_results_frame_orders_rows_and_gives_each_override_column_one_type():
    rows = [row(2, **{"storage.format": "bitmap"}),
            row(0, **{"array.rows": 16, "sram.capacity": "64 KiB"}),
            row(1, **{"array.rows": 32, "sram.capacity": 65536})]
    frame = results_frame(rows, ["array.rows", "sram.capacity", "storage.format"])
    assert list(frame["point"]) == [0, 1, 2]
    assert str(frame["array.rows"].dtype) == "Int64" and frame["array.rows"].isna()[2]
    assert list(frame["sram.capacity"][:2]) == ["64 KiB", "65536"]  # mixed: text
    assert frame["compression"].isna().all()
    assert list(frame.columns[-5:]) == ["cycles", "energy_pj", "macs", "pareto_front", "key"]
    assert frame["pareto_front"].all()  # each is faster or cheaper than the others


def test_figure_units_and_legend():
    frame = pd.DataFrame({"cycles": [2e6, 3e6, 4e6], "energy_pj": [5e9, 2e9, 3e9],
                          "method": ["dense", "dropback", "dropback"],
                          "compression": [np.nan, 25.0009, 25.0009],
                          "hardware": ["a", "a", "b"], "fidelity": ["fast"] * 3,
                          "pareto_front": [True, True, False]})
    axes = pareto_figure(frame, "t").axes[0]
    assert axes.get_xlabel() == "cycles (millions)" and axes.get_ylabel() == "energy (mJ)"
    legend = [text.get_text() for text in axes.get_legend().get_texts()]
    assert legend == ["dense (1)", "dropback 25x (2)", "Pareto front (2)"]
    assert method_label("swd", 10.0) == "swd 10x" and method_label("dense", None) == "dense"


def test_legend_tells_runs_apart_by_their_training_settings():
    frame = pd.DataFrame({"cycles": [2e6, 3e6, 4e6, 5e6], "energy_pj": [5e9, 2e9, 3e9, 4e9],
                          "method": ["dense", "dense", "dropback", "dropback"],
                          "compression": [np.nan, np.nan, 25.0, 25.0],
                          "dataset": ["mnist-5k"] * 4,
                          "optimizer": ["SGD lr 0.1", "Adam lr 0.001"] * 2,
                          "lr_schedule": ["constant"] * 4,
                          "hardware": ["a"] * 4, "fidelity": ["fast"] * 4,
                          "pareto_front": [True, True, False, False]})
    legend = [text.get_text() for text in pareto_figure(frame, "t").axes[0].get_legend()
              .get_texts()]
    assert legend[:4] == ["dense, SGD lr 0.1 (1)", "dense, Adam lr 0.001 (1)",
                          "dropback 25x, SGD lr 0.1 (1)", "dropback 25x, Adam lr 0.001 (1)"]
