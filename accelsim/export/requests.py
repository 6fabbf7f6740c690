"""A replay's DRAM requests as trace files for DRAMsim3 and Ramulator 2.

The requests are the ones the burst-level model serves (``simulate(...,
dram_model="burst")``): each simulated step's traffic placed in the address space by
:mod:`accelsim.sim.placement`, one request per burst. Formats, one request per line:

- ``dramsim3``: ``0xADDR READ|WRITE CYCLE`` — DRAMsim3's trace CPU reads the hex address,
  the type and the cycle (its memory clock, here the description's DRAM clock, tCK) at
  which the request may be issued.
- ``ramulator``: ``LD 0xADDR`` / ``ST 0xADDR`` — Ramulator 2's LoadStoreTrace frontend
  (no times: the frontend issues them as fast as the memory takes them).

Steps follow one another: step k's cycles start where the replay's timeline of step
k - 1 ends (the sum of its layer-phases' cycles in DRAM clocks).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from accelsim.files import atomic_output
from accelsim.hw import Hardware
from accelsim.sim.dram_replay import check_dram_model, requests_by_step, step_records
from accelsim.sim.placement import StepRequests

REQUEST_FORMATS = ("dramsim3", "ramulator")


def format_lines(requests: StepRequests, fmt: str, offset_cycles: int = 0) -> str:
    """One step's requests as lines of ``fmt`` (arrival cycles shifted by the offset)."""
    addresses = requests.addresses.tolist()
    writes = requests.is_write.tolist()
    if fmt == "dramsim3":
        cycles = (requests.arrival + np.int64(offset_cycles)).tolist()
        lines = [f"0x{a:x} {'WRITE' if w else 'READ'} {c}"
                 for a, w, c in zip(addresses, writes, cycles, strict=True)]
    elif fmt == "ramulator":
        lines = [f"{'ST' if w else 'LD'} 0x{a:x}" for a, w in zip(addresses, writes, strict=True)]
    else:
        raise ValueError(f"unknown request trace format {fmt!r}")
    return "".join(line + "\n" for line in lines)


def write_request_trace(trace_path: str, hw: Hardware, steps: str | None, out: str,
                        fmt: str, layout: str = "compact") -> dict[str, Any]:
    """Replay ``steps`` ("A:B", None: all) of a trace on ``hw`` and write their burst
    requests to ``out`` in ``fmt``; returns a summary (requests, reads, writes, steps).

    Every input is checked before ``out`` is opened; the file is streamed to a temporary
    beside it and renamed into place, so a failure leaves any existing ``out`` untouched.
    """
    from accelsim.sim import simulate
    from accelsim.trace import open_trace

    if fmt not in REQUEST_FORMATS:
        raise ValueError(f"unknown request trace format {fmt!r}")
    check_dram_model("burst", hw, f"--format {fmt}")
    result = simulate(trace_path, hw, steps=steps)
    summary = {"format": fmt, "out": str(out), "steps": [int(s) for s in result.steps],
               "requests": 0, "reads": 0, "writes": 0, "last_cycle": 0}
    offset = 0
    with open_trace(trace_path) as reader, atomic_output(out) as handle:
        for requests in requests_by_step(result, hw, reader.header,
                                         step_records(reader, result.steps), layout):
            handle.write(format_lines(requests, fmt, offset))
            writes = int(np.count_nonzero(requests.is_write))
            summary["requests"] += len(requests)
            summary["writes"] += writes
            summary["reads"] += len(requests) - writes
            if len(requests):
                summary["last_cycle"] = offset + int(requests.arrival[-1])
            offset += math.ceil(requests.duration_cycles)
    return summary
