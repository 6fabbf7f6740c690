"""Replay of traces on a described accelerator (numpy/numba only, never torch)."""

from __future__ import annotations

from collections.abc import Iterable

from accelsim.hw import Hardware, load_hardware
from accelsim.sim.lowering import PHASES
from accelsim.sim.results import SimResult


def simulate(trace: str | None, hw: str | Hardware, *, topology: str | None = None,
             phases: Iterable[str] = PHASES, steps: str | None = None,
             progress: bool = False, fidelity: str = "fast", every: int | None = None,
             cycle_tolerance: float | None = None, keep_rows: bool | None = None,
             dram_model: str = "bandwidth") -> SimResult:
    """Replay a trace file (or a SCALE-Sim topology CSV) on a hardware description.

    ``fidelity``: "fast" (numba pipeline recurrence) or "event" (SimPy processes);
    both count the same traffic and energy and agree on cycles. ``steps``: "A:B";
    ``every``: simulate every N-th chosen step (sampling; the estimated error is in
    ``result.options["sampling"]``); ``cycle_tolerance``: the relative cycle error
    allowed when reusing a step's cycles for a similar one (default 0.01; 0: exact);
    ``keep_rows``: keep per-(step, layer, phase) rows (default: while small).
    ``dram_model``: "bandwidth" (bytes at the peak rate and the standard's pJ/bit) or
    "burst", which also replays every simulated step's DRAM requests on the burst-level
    bank model, makes each layer-phase last at least the time it needs to serve that
    layer-phase's requests (``result.options["dram_bound"]``) and fills ``result.dram``
    (accelsim.sim.dram_replay; needs a timed DRAM and the per-step rows, i.e. a few steps).
    """
    from accelsim.sim.dram_replay import (
        bound_by_dram,
        burst_dram,
        check_dram_model,
        step_records,
    )
    from accelsim.sim.hardware import sim_params
    from accelsim.sim.replay import DEFAULT_CYCLE_TOLERANCE, replay, replay_records
    from accelsim.sim.topology import dense_step, read_topology
    from accelsim.trace import open_trace

    description = hw if isinstance(hw, Hardware) else load_hardware(hw)
    check_dram_model(dram_model, description)
    params = sim_params(description, dram_efficiency=dram_model != "burst")
    tolerance = DEFAULT_CYCLE_TOLERANCE if cycle_tolerance is None else cycle_tolerance
    if topology is not None:
        header = read_topology(topology)
        result = replay_records(header, [dense_step(header)], params, phases, None,
                                source=str(topology), fidelity=fidelity,
                                cycle_tolerance=tolerance, keep_rows=keep_rows)
        if dram_model == "burst":
            result.options["dram_bound"] = bound_by_dram(result, description, header,
                                                         [dense_step(header)])
            result.dram = burst_dram(result, description, header, [dense_step(header)])
    else:
        with open_trace(trace) as reader:
            result = replay(reader, params, phases, steps, progress, fidelity, every=every,
                            cycle_tolerance=tolerance, keep_rows=keep_rows)
            if dram_model == "burst":
                result.options["dram_bound"] = bound_by_dram(
                    result, description, reader.header, step_records(reader, result.steps))
                result.dram = burst_dram(result, description, reader.header,
                                         step_records(reader, result.steps))
    result.hardware = {"name": description.name, "source": description.source,
                       "fingerprint": description.fingerprint(),
                       "description": description.to_dict()}
    return result


__all__ = ["PHASES", "SimResult", "simulate"]
