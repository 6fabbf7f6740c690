"""A replay's DRAM requests as trace files for DRAMsim3 and Ramulator 2.

The requests are the ones the burst-level model serves (``simulate(...,
dram_model="burst")``): each simulated step's traffic placed in the address space by
:mod:`accelsim.sim.placement`, one request per burst, never a read and a write of one
burst in the same cycle (the update pass's write-back goes a cycle after its read).
Formats, one request per line:

- ``dramsim3``: ``0xADDR READ|WRITE CYCLE`` — DRAMsim3's trace CPU reads the hex address,
  the type and the cycle at which the request may be issued, in its memory clock: the
  description's DRAM clock (tCK), so the DRAMsim3 ini must have the same tCK.
- ``ramulator``: ``LD 0xADDR`` / ``ST 0xADDR`` — Ramulator 2's LoadStoreTrace frontend
  (no times: the frontend issues them as fast as the memory takes them).

The timeline is the one ``simulate(..., dram_model="burst")`` serves: each layer-phase
lasts its replay cycles or, if longer, the time the DRAM needs for its requests
(:func:`~accelsim.sim.dram_replay.bound_by_dram`). Steps follow one another: step k's
cycles start where the replay's timeline of step k - 1 ends (the sum of its
layer-phases' cycles in DRAM clocks), or one cycle after its last request if that is
later. ``pace=True`` delays requests so that no two share a
cycle (dramsim3main's trace CPU issues at most one request per clock; unpaced, the
requests of a busy cycle go out over the following cycles anyway, later than written).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from accelsim.errors import ConfigError
from accelsim.files import atomic_output
from accelsim.hw import Hardware
from accelsim.sim.dram_replay import (
    bound_by_dram,
    check_dram_model,
    requests_by_step,
    step_records,
)
from accelsim.sim.placement import StepRequests

REQUEST_FORMATS = ("dramsim3", "ramulator")


def paced(arrival: np.ndarray, after: int = -1) -> np.ndarray:
    """Arrival cycles delayed as little as possible so that each is later than the one
    before (and than ``after``): at most one request per cycle, order kept."""
    arrival = np.asarray(arrival, dtype=np.int64)
    if arrival.size == 0:
        return arrival.copy()
    steps = np.arange(arrival.size, dtype=np.int64)
    floor = np.maximum(arrival - steps, np.int64(after + 1))
    return np.maximum.accumulate(floor) + steps


def format_lines(requests: StepRequests, fmt: str, offset_cycles: int = 0,
                 cycles: np.ndarray | None = None) -> str:
    """One step's requests as lines of ``fmt``: dramsim3 cycles are ``cycles`` if given,
    else the arrivals shifted by the offset."""
    addresses = requests.addresses.tolist()
    writes = requests.is_write.tolist()
    if fmt == "dramsim3":
        if cycles is None:
            cycles = requests.arrival + np.int64(offset_cycles)
        cycles = cycles.tolist()
        lines = [f"0x{a:x} {'WRITE' if w else 'READ'} {c}"
                 for a, w, c in zip(addresses, writes, cycles, strict=True)]
    elif fmt == "ramulator":
        lines = [f"{'ST' if w else 'LD'} 0x{a:x}" for a, w in zip(addresses, writes, strict=True)]
    else:
        raise ValueError(f"unknown request trace format {fmt!r}")
    return "".join(line + "\n" for line in lines)


def write_request_trace(trace_path: str, hw: Hardware, steps: str | None, out: str,
                        fmt: str, layout: str = "compact", *,
                        pace: bool = False) -> dict[str, Any]:
    """Replay ``steps`` ("A:B", None: all) of a trace on ``hw`` and write their burst
    requests to ``out`` in ``fmt``; returns a summary (requests, reads, writes, steps,
    last_cycle, busiest_cycle: the most requests one cycle holds, delayed: requests that
    ``pace`` moved later). ``pace`` (dramsim3 only): at most one request per cycle.

    Every input is checked before ``out`` is opened; the file is streamed to a temporary
    beside it and renamed into place, so a failure leaves any existing ``out`` untouched.
    """
    from accelsim.sim.hardware import sim_params
    from accelsim.sim.replay import replay
    from accelsim.trace import open_trace

    if fmt not in REQUEST_FORMATS:
        raise ValueError(f"unknown request trace format {fmt!r}")
    if pace and fmt != "dramsim3":
        raise ConfigError(f"--pace is for --format dramsim3 (the {fmt} format has no "
                          "cycles to pace)")
    check_dram_model("burst", hw, f"--format {fmt}")
    with open_trace(trace_path) as reader:  # as simulate(..., dram_model="burst"): the
        # pipeline at the peak, each layer-phase waiting for its DRAM serve time
        result = replay(reader, sim_params(hw, dram_efficiency=False), steps=steps)
        bound_by_dram(result, hw, reader.header, step_records(reader, result.steps), layout)
    summary = {"format": fmt, "out": str(out), "steps": [int(s) for s in result.steps],
               "requests": 0, "reads": 0, "writes": 0, "last_cycle": 0, "busiest_cycle": 0,
               "paced": pace, "delayed": 0}
    offset, last = 0, -1
    with open_trace(trace_path) as reader, atomic_output(out) as handle:
        for requests in requests_by_step(result, hw, reader.header,
                                         step_records(reader, result.steps), layout):
            # A step starts after the previous one's timeline and after its last request.
            offset = max(offset, last + 1)
            cycles = requests.arrival + np.int64(offset)
            if len(requests):
                summary["busiest_cycle"] = max(summary["busiest_cycle"],
                                               int(np.bincount(requests.arrival).max()))
            if pace:
                wanted, cycles = cycles, paced(cycles, last)
                summary["delayed"] += int(np.count_nonzero(cycles != wanted))
            handle.write(format_lines(requests, fmt, cycles=cycles))
            writes = int(np.count_nonzero(requests.is_write))
            summary["requests"] += len(requests)
            summary["writes"] += writes
            summary["reads"] += len(requests) - writes
            if len(requests):
                last = int(cycles[-1])
                summary["last_cycle"] = last
            offset += math.ceil(requests.duration_cycles)
    return summary
