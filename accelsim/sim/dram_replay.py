"""The burst-level DRAM model run on the replay's traffic (``simulate(..., dram_model="burst")``).

For every simulated step whose rows the result kept, :class:`~accelsim.sim.placement.Placement`
turns the replay's byte counters into burst requests (addresses, read/write, arrival,
stream) and :func:`~accelsim.sim.dram.simulate_dram` serves them twice: once as they
arrive along the replay's timeline (row hits, ACTs, refresh, energy, when the last data
moves) and once all at once (how long the DRAM itself needs for them, to compare with
the bandwidth model's bytes / peak bandwidth). :func:`burst_dram` sums the steps into
the ``result.dram`` dictionary described in docs/dram.md ("In the replay").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from accelsim.errors import ConfigError
from accelsim.hw import Hardware
from accelsim.sim.dram import (
    CHANNEL_COUNTERS,
    ENERGY_COMPONENTS,
    STREAM_COUNTERS,
    STREAM_NAMES,
    DramStats,
    simulate_dram,
)
from accelsim.sim.placement import Placement, StepRequests, execution_order
from accelsim.sim.results import INDEX, SimResult, counter, sampling_error
from accelsim.trace import StepRecord, TraceHeader, TraceReader

DRAM_MODELS = ("bandwidth", "burst")
ARRIVAL = ("layer-phases one after another, each lasting its replay cycles in DRAM clocks; "
           "its streams interleaved in proportion to their bursts, spread evenly")


def check_dram_model(dram_model: str, hw: Hardware, purpose: str = "--dram burst") -> None:
    """ConfigError for an unknown model, or the burst model on the ideal DRAM (``purpose``
    names what needs it in the message)."""
    if dram_model not in DRAM_MODELS:
        raise ConfigError(f"unknown DRAM model {dram_model!r}; choose "
                          f"{' or '.join(DRAM_MODELS)}")
    if dram_model == "burst" and hw.dram.is_ideal:
        raise ConfigError(f'{hw.name}: {purpose} needs a timed DRAM, but dram.standard is '
                          '"ideal" (no bursts, banks or timing); pick a description with a '
                          'timed standard (e.g. "lpddr4-3200")')


def step_records(reader: TraceReader, steps: Iterable[int]) -> Iterator[StepRecord]:
    """The trace records of ``steps`` (in order), with their full stored masks."""
    wanted = sorted(int(s) for s in steps)
    if not wanted:
        return
    chosen, last = set(wanted), wanted[-1]
    for record in reader.iter_steps(masks=True):
        if record.step in chosen:
            yield record
        if record.step >= last:
            return


def requests_by_step(result: SimResult, hw: Hardware, header: TraceHeader,
                     records: Iterable[StepRecord], layout: str = "compact"
                     ) -> Iterator[StepRequests]:
    """Each simulated step's burst requests, from its rows and its trace record."""
    rows = result.require_rows()
    placement = Placement(header, hw, layout)
    steps = [int(s) for s in result.steps]
    seen = 0
    for record in records:
        if seen >= len(steps) or int(record.step) != steps[seen]:
            raise ValueError(f"dram replay: record of step {record.step} does not match the "
                             f"result's steps {steps}")
        yield placement.step_requests(rows[seen], result.layers, result.phases, record)
        seen += 1
    if seen != len(steps):
        raise ValueError(f"dram replay: {seen} records for {len(steps)} simulated steps")


DRAM_BOUND = ("each layer-phase's cycles are at least the time the burst-level model needs "
              "to serve its DRAM requests back to back (all available at the layer-phase's "
              "start, on an idle DRAM with closed banks), in array cycles rounded up")


def bound_by_dram(result: SimResult, hw: Hardware, header: TraceHeader,
                  records: Iterable[StepRecord], layout: str = "compact") -> dict[str, Any]:
    """Raise each simulated layer-phase's ``cycles`` to its DRAM serve time (in place).

    The pipeline waits for the DRAM, not for an ideal bus at peak bandwidth: for every
    (step, layer, phase) the requests the placement makes of its counters are served
    back to back on the burst-level model, and the replay's cycles become at least that
    time in array clocks. The aggregates (weighted by ``step_weight``) follow and the
    time-based energy (leakage) is re-priced. Returns what it did, for
    ``result.options["dram_bound"]``.
    """
    from accelsim.sim.pricing import price_result, prices_of

    check_dram_model("burst", hw)
    dram = hw.dram
    rows = result.require_rows()
    cycles_index = INDEX["cycles"]
    array_per_dram = dram.tck_s * hw.array.clock_hz
    order = execution_order(result.layers, result.phases)
    before = rows[..., cycles_index].copy()
    served = np.zeros_like(before)
    # Requests come from the rows as the replay counted them; their arrivals do not matter
    # here (served back to back), so the rows may change as each step is done.
    for index, requests in enumerate(requests_by_step(result, hw, header, records, layout)):
        position = np.array([g.position for g in requests.groups], np.int64)[requests.group]
        by_position = np.argsort(position, kind="stable")
        bounds = np.searchsorted(position[by_position], np.arange(len(order) + 1))
        for place, (li, pi) in enumerate(order):
            chosen = by_position[bounds[place]:bounds[place + 1]]
            if chosen.size == 0:
                continue
            stats = simulate_dram(dram, requests.addresses[chosen], requests.is_write[chosen],
                                  None, requests.stream[chosen])
            served[index, li, pi] = math.ceil(stats.cycles * array_per_dram - 1e-9)
    after = np.maximum(before, served)
    delta = after - before
    rows[..., cycles_index] = after
    result.layer_rows[..., cycles_index] += np.tensordot(result.step_weight, delta, axes=1)
    result.step_rows[..., cycles_index] += delta.sum(axis=(1, 2))
    price_result(result, prices_of(hw))
    sampling = result.options.get("sampling")
    if sampling:  # the cycles' (and leakage's) estimated error follows the new cycles
        covers = result.step_weight / float(result.trace.get("record_every") or 1)
        sampling["relative_standard_error"] = sampling_error(result.step_rows, covers)
    replay_cycles = float(before.sum())
    added = float(delta.sum())
    return {"rule": DRAM_BOUND, "layout": layout,
            "layer_phases": int(np.count_nonzero(served)),
            "layer_phases_bounded": int(np.count_nonzero(delta)),
            "replay_cycles": replay_cycles, "added_cycles": added,
            "added_fraction": added / replay_cycles if replay_cycles else 0.0}


@dataclass
class _Sums:
    """DramStats counters summed over steps."""

    channel: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHANNEL_COUNTERS, 0))
    stream: np.ndarray = field(default_factory=lambda: np.zeros(
        (len(STREAM_NAMES), len(STREAM_COUNTERS)), dtype=np.int64))
    stream_energy_pj: np.ndarray = field(default_factory=lambda: np.zeros(
        (len(STREAM_NAMES), len(ENERGY_COMPONENTS))))
    seconds: float = 0.0

    def add(self, stats: DramStats) -> None:
        for name, value in stats.totals().items():
            self.channel[name] += value
        streams = len(STREAM_NAMES)
        for k, name in enumerate(STREAM_COUNTERS):
            self.stream[:, k] += getattr(stats, f"stream_{name}")[:streams]
        self.stream_energy_pj += stats.stream_energy_pj[:streams]
        self.seconds += stats.seconds

    @property
    def energy_pj(self) -> dict[str, float]:
        return {name: float(self.stream_energy_pj[:, k].sum())
                for k, name in enumerate(ENERGY_COMPONENTS)}


def burst_dram(result: SimResult, hw: Hardware, header: TraceHeader,
               records: Iterable[StepRecord], *, layout: str = "compact",
               window: int | None = None) -> dict[str, Any]:
    """Run the burst-level DRAM model on every simulated step; the ``result.dram`` dict.

    ``window``: the first-ready scheduler's window (None: the description's
    ``dram.scheduler_window``). Sums are over the simulated recorded steps, not weighted
    by ``record_every``.
    """
    check_dram_model("burst", hw)
    dram = hw.dram
    window = dram.scheduler_window if window is None else window
    timeline, back_to_back = _Sums(), _Sums()
    per_step: dict[str, list] = {key: [] for key in (
        "step", "requests", "cycles", "seconds", "row_hit_rate", "energy_pj",
        "bandwidth_model_energy_pj", "replay_seconds")}
    counter_bytes = bandwidth_energy = replay_seconds = late_seconds = 0.0
    rows = result.require_rows()
    for index, requests in enumerate(requests_by_step(result, hw, header, records, layout)):
        stats = simulate_dram(dram, requests.addresses, requests.is_write, requests.arrival,
                              requests.stream, window=window)
        timeline.add(stats)
        back_to_back.add(simulate_dram(dram, requests.addresses, requests.is_write, None,
                                       requests.stream, window=window))
        step_rows = rows[index]
        moved = float(counter(step_rows, "dram_bytes").sum())
        energy = float(counter(step_rows, "energy_pj.dram").sum())
        seconds = float(counter(step_rows, "cycles").sum()) / hw.array.clock_hz
        counter_bytes += float(moved)
        bandwidth_energy += energy
        replay_seconds += seconds
        late_seconds += max(0.0, stats.seconds - seconds)
        for key, value in (("step", requests.step), ("requests", len(requests)),
                           ("cycles", stats.cycles), ("seconds", stats.seconds),
                           ("row_hit_rate", stats.row_hit_rate),
                           ("energy_pj", stats.total_energy_pj),
                           ("bandwidth_model_energy_pj", energy), ("replay_seconds", seconds)):
            per_step[key].append(value)
    peak = dram.peak_bandwidth_bytes_per_s
    totals = _totals(timeline, dram.burst_bytes, peak)
    burst_energy = totals["total_energy_pj"]
    transfer_seconds = counter_bytes / peak
    return {
        "model": "burst", "standard": dram.standard, "layout": layout, "window": window,
        "burst_bytes": dram.burst_bytes, "arrival": ARRIVAL,
        "steps": [int(s) for s in result.steps],
        "totals": totals,
        "back_to_back": {key: value for key, value in
                         _totals(back_to_back, dram.burst_bytes, peak).items()
                         if key in ("cycles", "seconds", "achieved_bandwidth_bytes_per_s",
                                    "bandwidth_utilisation", "total_energy_pj")},
        "streams": _streams(timeline, dram.burst_bytes),
        "bandwidth_model": {"bytes": counter_bytes, "energy_pj": bandwidth_energy,
                            "transfer_seconds": transfer_seconds,
                            "replay_seconds": replay_seconds},
        "comparison": {
            "energy_difference_pj": burst_energy - bandwidth_energy,
            "energy_ratio": burst_energy / bandwidth_energy if bandwidth_energy else None,
            "bytes_ratio": totals["bytes"] / counter_bytes if counter_bytes else None,
            "transfer_time_ratio": (back_to_back.seconds / transfer_seconds
                                    if transfer_seconds else None),
            "finish_after_replay_seconds": late_seconds,
        },
        "per_step": per_step,
    }


def _totals(sums: _Sums, burst_bytes: int, peak: float) -> dict[str, Any]:
    channel = sums.channel
    requests = channel["reads"] + channel["writes"]
    moved = requests * burst_bytes
    energy = sums.energy_pj
    return {
        "requests": requests, "reads": channel["reads"], "writes": channel["writes"],
        "bytes": moved, "row_hits": channel["row_hits"], "row_misses": channel["row_misses"],
        "row_conflicts": channel["row_conflicts"],
        "row_hit_rate": channel["row_hits"] / requests if requests else 0.0,
        "acts": channel["acts"], "pres": channel["pres"], "refreshes": channel["refreshes"],
        "cycles": channel["cycles"], "seconds": sums.seconds,
        "bus_busy_cycles": channel["bus_busy_cycles"],
        "achieved_bandwidth_bytes_per_s": moved / sums.seconds if sums.seconds else 0.0,
        "peak_bandwidth_bytes_per_s": peak,
        "bandwidth_utilisation": (moved / sums.seconds / peak) if sums.seconds else 0.0,
        "energy_pj": energy, "total_energy_pj": sum(energy.values()),
    }


def _streams(sums: _Sums, burst_bytes: int) -> dict[str, dict[str, Any]]:
    out = {}
    for s, name in enumerate(STREAM_NAMES):
        counts = {counter: int(sums.stream[s, k]) for k, counter in enumerate(STREAM_COUNTERS)}
        energy = {component: float(sums.stream_energy_pj[s, k])
                  for k, component in enumerate(ENERGY_COMPONENTS)}
        out[name] = {"bytes": counts["bursts"] * burst_bytes, **counts, "energy_pj": energy,
                     "total_energy_pj": sum(energy.values())}
    return out
