"""Replay of traces on a described accelerator (numpy/numba only, never torch)."""

from __future__ import annotations

from collections.abc import Iterable

from accelsim.hw import Hardware, load_hardware
from accelsim.sim.lowering import PHASES
from accelsim.sim.results import SimResult


def simulate(trace: str | None, hw: str | Hardware, *, topology: str | None = None,
             phases: Iterable[str] = PHASES, steps: str | None = None,
             progress: bool = False, fidelity: str = "fast") -> SimResult:
    """Replay a trace file (or a SCALE-Sim topology CSV) on a hardware description.

    ``fidelity``: "fast" (numba pipeline recurrence) or "event" (SimPy processes);
    both count the same traffic and energy and agree on cycles.
    """
    from accelsim.sim.hardware import sim_params
    from accelsim.sim.replay import replay, replay_records
    from accelsim.sim.topology import dense_step, read_topology
    from accelsim.trace import open_trace

    description = hw if isinstance(hw, Hardware) else load_hardware(hw)
    params = sim_params(description)
    if topology is not None:
        header = read_topology(topology)
        result = replay_records(header, [dense_step(header)], params, phases, None,
                                source=str(topology), fidelity=fidelity)
    else:
        with open_trace(trace) as reader:
            result = replay(reader, params, phases, steps, progress, fidelity)
    result.hardware = {"name": description.name, "source": description.source,
                       "fingerprint": description.fingerprint(),
                       "description": description.to_dict()}
    return result


__all__ = ["PHASES", "SimResult", "simulate"]
