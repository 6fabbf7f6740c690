"""Helpers shared by the report tests: small synthetic results in the exact RESULT.json
format, built through SimResult so they cannot drift from what simulate writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from accelsim.hw import load_hardware
from accelsim.sim.lowering import PHASES
from accelsim.sim.results import INDEX, SimResult


def make_result(method: str = "dense", compression: float | None = None,
                hw: str = "dropback-edge", net: str = "toy-net", steps: int = 4,
                layers: tuple[str, ...] = ("fc1", "fc2"), accuracy: float | None = 90.0,
                params_total: int = 10_000) -> dict:
    """A result whose counters are simple functions of layer, phase and budget."""
    description = load_hardware(hw)
    stored = params_total if compression is None else int(params_total / compression)
    rows = np.zeros((steps, len(layers), len(PHASES), len(INDEX)))
    for li in range(len(layers)):
        for pi, phase in enumerate(PHASES):
            weight_bytes = 4.0 * stored * (li + 1) / len(layers)
            cell = rows[:, li, pi]
            cell[:, INDEX["macs.weights_activations"]] = 1000.0 * (li + 1)
            cell[:, INDEX["cycles"]] = 500.0 * (li + 1) + 10 * pi + 0.25
            cell[:, INDEX["dram_read_bytes.weights"]] = weight_bytes
            cell[:, INDEX["dram_read_bytes.inputs"]] = 300.0 * (pi + 1)
            cell[:, INDEX["dram_write_bytes.outputs"]] = 100.0 * (li + 1)
            if phase == "update":
                cell[:, INDEX["dram_write_bytes.weights"]] = weight_bytes
            if compression is not None:
                cell[:, INDEX["dram_read_bytes.metadata"]] = weight_bytes / 8
                cell[:, INDEX["regen_values"]] = params_total - stored
                cell[:, INDEX["energy_pj.regen"]] = 2.0 * (params_total - stored)
            cell[:, INDEX["energy_pj.mac"]] = 4.6 * 1000.0 * (li + 1)
            cell[:, INDEX["energy_pj.sram"]] = 700.0
            cell[:, INDEX["energy_pj.dram"]] = 64.0 * weight_bytes
    method_params = {} if compression is None else {
        "budget": stored, "stored_weights": stored, "compression": params_total / stored}
    churn = [float(params_total - stored)] + [37.0 + step for step in range(1, steps)]
    result = SimResult(
        trace={"net": net, "method": method, "method_params": method_params,
               "dataset": "digits", "batch_size": 64, "params_total": params_total,
               "record_every": 1, "final_accuracy": accuracy, "path": f"{net}-{method}.trace"},
        hardware={"name": description.name, "source": description.source,
                  "fingerprint": description.fingerprint(),
                  "description": description.to_dict()},
        layers=list(layers), phases=list(PHASES), steps=np.arange(1, steps + 1),
        step_weight=np.ones(steps), rows=rows, options={"fidelity": "fast"},
        training={"stored_weights": [float(stored)] * steps,
                  "churn": churn if compression is not None else [0.0] * steps,
                  "loss": [1.0 / (step + 1) for step in range(steps)],
                  "accuracy": [float("nan")] * (steps - 1) + [accuracy or float("nan")]})
    return json.loads(result.to_json())


def write_result(folder: Path, name: str, **kwargs) -> Path:
    path = folder / f"{name}.json"
    path.write_text(json.dumps(make_result(**kwargs)))
    return path

